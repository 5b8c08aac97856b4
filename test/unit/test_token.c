/*
 * Unit tests for controller/kube/token: JWT `exp` read without a key (HS256 and
 * RS256 tokens made with libjwt), file re-reads on change, on the period, near
 * expiry and after invalidate; a vanished or emptied file keeps the last
 * token; a static token. The wall clock is a variable.
 */
#include "helpers.h"
#include <check.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "controller/kube/token.h"

static char *make_jwt(long iat, long exp, const char *sub)
{
    jwt_t *j = NULL;
    ck_assert_int_eq(jwt_new(&j), 0);
    if (iat != 0)
        jwt_add_grant_int(j, "iat", iat);
    if (exp != 0)
        jwt_add_grant_int(j, "exp", exp);
    jwt_add_grant(j, "sub", sub);
    static const char key[] = "0123456789abcdef0123456789abcdef";
    ck_assert_int_eq(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)key, sizeof(key) - 1), 0);
    char *s = jwt_encode_str(j);
    ck_assert_ptr_nonnull(s);
    char *out = pgw_strdup(s);
    free(s);
    jwt_free(j);
    return out;
}

static char *make_rs256_jwt(long exp)
{
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    ck_assert_ptr_nonnull(pkey);
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    char *pem = NULL;
    long len = BIO_get_mem_data(bio, &pem);
    jwt_t *j = NULL;
    jwt_new(&j);
    jwt_add_grant_int(j, "exp", exp);
    ck_assert_int_eq(jwt_set_alg(j, JWT_ALG_RS256, (const unsigned char *)pem, (int)len), 0);
    char *s = jwt_encode_str(j);
    ck_assert_ptr_nonnull(s);
    char *out = pgw_strdup(s);
    free(s);
    jwt_free(j);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return out;
}

START_TEST(jwt_expiry_table)
{
    char *hs = make_jwt(1000, 4600, "system:serviceaccount:pgwarden-system:pgwarden");
    char *noexp = make_jwt(1000, 0, "x");
    char *rs = make_rs256_jwt(1893456000);
    static const char *const opaque[] = {"", "abc", "a.b.c", "not-a-jwt-at-all", "....", "eyJhbGciOiJub25lIn0.bm90IGpzb24."};
    ck_assert_int_eq(pgw_token_jwt_expiry(hs), 4600);
    ck_assert_int_eq(pgw_token_jwt_expiry(rs), 1893456000);
    ck_assert_int_eq(pgw_token_jwt_expiry(noexp), 0);
    ck_assert_int_eq(pgw_token_jwt_expiry(NULL), 0);
    for (size_t i = 0; i != sizeof(opaque) / sizeof(opaque[0]); ++i)
        ck_assert_msg(pgw_token_jwt_expiry(opaque[i]) == 0, "row %zu", i);
    free(hs);
    free(noexp);
    free(rs);
}
END_TEST

struct fixture {
    char dir[64];
    char path[96];
    double wall;
};

static double fake_wall(void *ctx)
{
    return ((struct fixture *)ctx)->wall;
}

static void fixture_init(struct fixture *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/pgw-test-token-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/token", f->dir);
    f->wall = 10000;
}

static void fixture_done(struct fixture *f)
{
    unlink(f->path);
    rmdir(f->dir);
}

/* Writes the file and pins its mtime, so only what the test changes differs. */
static void write_token(struct fixture *f, const char *content, long mtime)
{
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    FILE *fp = fopen(tmp, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(content, fp);
    fclose(fp);
    struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, tmp, times, 0), 0);
    ck_assert_int_eq(rename(tmp, f->path), 0); /* a new inode, as kubelet's symlink swap */
}

/* Overwrites in place: same inode, same size, same mtime; only time-based rules notice. */
static void overwrite_same_stat(struct fixture *f, const char *content, long mtime)
{
    FILE *fp = fopen(f->path, "r+");
    ck_assert_ptr_nonnull(fp);
    fputs(content, fp);
    fclose(fp);
    struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, f->path, times, 0), 0);
}

static void expect_token(struct pgw_token_source *ts, const char *want)
{
    char *err = NULL, *tok = pgw_token_source_get(ts, &err);
    ck_assert_msg(tok != NULL, "error: %s", err != NULL ? err : "");
    ck_assert_str_eq(tok, want);
    free(tok);
}

START_TEST(file_reread_on_change_and_period)
{
    struct fixture f;
    fixture_init(&f);
    write_token(&f, "token-one\n", 5000);
    struct pgw_token_source *ts = pgw_token_source_new_file(f.path, fake_wall, &f);
    expect_token(ts, "token-one");
    expect_token(ts, "token-one");
    ck_assert_uint_eq(pgw_token_source_reads(ts), 1); /* unchanged: not read again */
    write_token(&f, "token-two", 5001);               /* rotated: new inode */
    expect_token(ts, "token-two");
    ck_assert_uint_eq(pgw_token_source_reads(ts), 2);
    overwrite_same_stat(&f, "token-3wo", 5001); /* invisible to stat */
    f.wall += PGW_TOKEN_REREAD_PERIOD - 1;
    expect_token(ts, "token-two");
    f.wall += 1; /* the periodic re-read */
    expect_token(ts, "token-3wo");
    overwrite_same_stat(&f, "token-4wo", 5001);
    pgw_token_source_invalidate(ts); /* as after a 401 */
    expect_token(ts, "token-4wo");
    ck_assert_uint_eq(pgw_token_source_reads(ts), 4);
    pgw_token_source_free(ts);
    fixture_done(&f);
}
END_TEST

START_TEST(file_reread_near_expiry)
{
    struct fixture f;
    fixture_init(&f);
    /* issued at 10000, expires at 10100: a fifth of the lifetime (20 s) before exp, re-read on every get */
    char *a = make_jwt(10000, 10100, "a"), *b = make_jwt(10000, 10100, "b");
    ck_assert_uint_eq(strlen(a), strlen(b));
    write_token(&f, a, 5000);
    struct pgw_token_source *ts = pgw_token_source_new_file(f.path, fake_wall, &f);
    f.wall = 10050;
    expect_token(ts, a);
    overwrite_same_stat(&f, b, 5000);
    f.wall = 10079; /* well inside the 60 s period: only the expiry rule can trigger */
    expect_token(ts, a);
    f.wall = 10080;
    expect_token(ts, b);
    pgw_token_source_free(ts);
    free(a);
    free(b);
    fixture_done(&f);
}
END_TEST

START_TEST(missing_or_empty_file)
{
    struct fixture f;
    fixture_init(&f);
    struct pgw_token_source *ts = pgw_token_source_new_file(f.path, fake_wall, &f);
    char *err = NULL;
    ck_assert_ptr_null(pgw_token_source_get(ts, &err));
    ck_assert_ptr_nonnull(strstr(err, f.path));
    free(err);
    write_token(&f, "  \n", 5000);
    ck_assert_ptr_null(pgw_token_source_get(ts, &err));
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    free(err);
    write_token(&f, "good", 5001);
    expect_token(ts, "good");
    write_token(&f, "", 5002); /* being rewritten: keep the last good token */
    expect_token(ts, "good");
    unlink(f.path); /* swapped away: keep it too */
    expect_token(ts, "good");
    pgw_token_source_free(ts);
    fixture_done(&f);
}
END_TEST

START_TEST(static_token)
{
    struct pgw_token_source *ts = pgw_token_source_new_static("fixed");
    expect_token(ts, "fixed");
    pgw_token_source_invalidate(ts);
    expect_token(ts, "fixed");
    ck_assert_uint_eq(pgw_token_source_reads(ts), 0);
    pgw_token_source_free(ts);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, jwt_expiry_table);
    tcase_add_test(tc, file_reread_on_change_and_period);
    tcase_add_test(tc, file_reread_near_expiry);
    tcase_add_test(tc, missing_or_empty_file);
    tcase_add_test(tc, static_token);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
