/*
 * Unit tests for certs/: generation (checked with OpenSSL's own verifier, not
 * with our code), ensure() keeping and replacing files, pair checks, renewal.
 *
 * The clock is moved through pgw_certs_options.now, never by sleeping.
 */
#include "helpers.h"
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs/certs.h"
#include "certs/internal.h"
#include "common/log.h"
#include "common/xalloc.h"

#define DAY 86400
#define SVC "pgwarden-webhook"
#define NS "pgwarden-system"

/* ---- helpers ------------------------------------------------------------ */

static char *make_tmpdir(void)
{
    char *dir = pgw_strdup("/tmp/pgw-test-certs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static char *path_in(const char *dir, const char *name)
{
    return pgw_asprintf("%s/%s", dir, name);
}

/* Contents of dir/name (caller frees), failing the test when unreadable. */
static char *slurp(const char *dir, const char *name)
{
    char *path = path_in(dir, name), *err = NULL;
    char *data = pgw_certs_read_file(path, &err);
    ck_assert_msg(data != NULL, "read %s: %s", path, err != NULL ? err : "");
    free(path);
    return data;
}

static void put(const char *dir, const char *name, const char *data, size_t len)
{
    char *path = path_in(dir, name);
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
    ck_assert_int_eq(fclose(fp), 0);
    free(path);
}

static void copy_file(const char *from_dir, const char *to_dir, const char *name)
{
    char *data = slurp(from_dir, name);
    put(to_dir, name, data, strlen(data));
    free(data);
}

static int same_file(const char *dir, const char *name, const char *before)
{
    char *now = slurp(dir, name);
    int same = strcmp(now, before) == 0;
    free(now);
    return same;
}

static X509 *load_cert(const char *dir, const char *name)
{
    char *path = path_in(dir, name), *err = NULL;
    X509 *x = pgw_certs_load_cert(path, &err);
    ck_assert_msg(x != NULL, "%s", err != NULL ? err : "");
    free(path);
    return x;
}

static EVP_PKEY *load_key(const char *dir, const char *name)
{
    char *path = path_in(dir, name), *err = NULL;
    EVP_PKEY *k = pgw_certs_load_key(path, &err);
    ck_assert_msg(k != NULL, "%s", err != NULL ? err : "");
    free(path);
    return k;
}

static struct pgw_certs_options default_opts(time_t now)
{
    struct pgw_certs_options o = {.service = SVC, .namespace = NS, .ca_days = 3650, .leaf_days = 365, .now = now};
    return o;
}

static void generate_ok(const char *dir, const struct pgw_certs_options *opts)
{
    char *err = NULL;
    int rc = pgw_certs_generate(dir, opts, &err);
    ck_assert_msg(rc == 0, "generate: %s", err != NULL ? err : "");
}

static int ensure_ok(const char *dir, const struct pgw_certs_options *opts)
{
    char *err = NULL;
    int changed = -1;
    int rc = pgw_certs_ensure(dir, opts, &changed, &err);
    ck_assert_msg(rc == 0, "ensure: %s", err != NULL ? err : "");
    ck_assert(changed == 0 || changed == 1);
    return changed;
}

/*
 * OpenSSL's verifier, at time `at`: does dir/tls.crt chain to dir/ca.crt for
 * TLS server use and match `host`? Returns the X509_V_* result.
 */
static int verify_leaf(const char *dir, time_t at, const char *host)
{
    X509 *ca = load_cert(dir, "ca.crt"), *leaf = load_cert(dir, "tls.crt");
    X509_STORE *store = X509_STORE_new();
    ck_assert_int_eq(X509_STORE_add_cert(store, ca), 1);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
    ck_assert_int_eq(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER), 1);
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, at);
    if (host != NULL)
        ck_assert_int_eq(X509_VERIFY_PARAM_set1_host(param, host, 0), 1);
    int ok = X509_verify_cert(ctx);
    int result = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(ca);
    X509_free(leaf);
    ERR_clear_error();
    return result;
}

static time_t asn1_time(const ASN1_TIME *t)
{
    time_t out = 0;
    ck_assert_int_eq(pgw_certs_asn1_to_time(t, &out), 0);
    return out;
}

static int ext_critical(X509 *x, int nid)
{
    int idx = X509_get_ext_by_NID(x, nid, -1);
    ck_assert_msg(idx >= 0, "extension %s missing", OBJ_nid2sn(nid));
    return X509_EXTENSION_get_critical(X509_get_ext(x, idx));
}

static void assert_p256(EVP_PKEY *key)
{
    char group[64];
    size_t len = 0;
    ck_assert(EVP_PKEY_is_a(key, "EC"));
    ck_assert_int_eq(EVP_PKEY_get_group_name(key, group, sizeof(group), &len), 1);
    ck_assert_str_eq(group, "prime256v1");
}

static BIGNUM *serial_of(X509 *x)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    ck_assert_ptr_nonnull(bn);
    return bn;
}

static mode_t file_mode(const char *dir, const char *name)
{
    char *path = path_in(dir, name);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    free(path);
    return st.st_mode & 07777;
}

/* ---- generate ----------------------------------------------------------- */

START_TEST(generate_writes_four_files_with_modes)
{
    static const struct {
        const char *name;
        mode_t mode;
    } files[] = {{"ca.crt", 0644}, {"ca.key", 0600}, {"tls.crt", 0644}, {"tls.key", 0600}};
    char *dir = make_tmpdir();
    char *sub = path_in(dir, "a/b"); /* missing parents are created */
    struct pgw_certs_options o = default_opts(0);
    mode_t old = umask(0); /* modes must not depend on the caller's umask */
    generate_ok(sub, &o);
    umask(old);
    for (size_t i = 0; i != sizeof(files) / sizeof(files[0]); ++i)
        ck_assert_msg(file_mode(sub, files[i].name) == files[i].mode, "%s has mode %o", files[i].name,
                      (unsigned)file_mode(sub, files[i].name));
    /* Nothing else is left behind (no temporary files). */
    DIR *d = opendir(sub);
    ck_assert_ptr_nonnull(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            ++entries;
    closedir(d);
    ck_assert_int_eq(entries, 4);
    free(sub);
    rm_tree(dir);
}
END_TEST

START_TEST(generate_leaf_chains_to_ca_for_every_name)
{
    static const char *hosts[] = {SVC, SVC "." NS, SVC "." NS ".svc", SVC "." NS ".svc.cluster.local", "localhost"};
    char *dir = make_tmpdir();
    time_t now = time(NULL);
    struct pgw_certs_options o = default_opts(0);
    generate_ok(dir, &o);
    ck_assert_int_eq(verify_leaf(dir, now, NULL), X509_V_OK);
    for (size_t i = 0; i != sizeof(hosts) / sizeof(hosts[0]); ++i)
        ck_assert_msg(verify_leaf(dir, now, hosts[i]) == X509_V_OK, "host %s", hosts[i]);
    /* Rejecting rows: names we did not ask for, a CA from elsewhere, times outside the window. */
    ck_assert_int_eq(verify_leaf(dir, now, "other." NS ".svc"), X509_V_ERR_HOSTNAME_MISMATCH);
    ck_assert_int_eq(verify_leaf(dir, now, "x." SVC "." NS ".svc"), X509_V_ERR_HOSTNAME_MISMATCH);
    ck_assert_int_eq(verify_leaf(dir, now + 366 * DAY, NULL), X509_V_ERR_CERT_HAS_EXPIRED);
    ck_assert_int_eq(verify_leaf(dir, now - 3600, NULL), X509_V_ERR_CERT_NOT_YET_VALID);
    char *other = make_tmpdir();
    generate_ok(other, &o);
    copy_file(other, dir, "ca.crt");
    int r = verify_leaf(dir, now, NULL);
    ck_assert_msg(r != X509_V_OK, "leaf verified against an unrelated CA");
    rm_tree(other);
    rm_tree(dir);
}
END_TEST

START_TEST(generate_sans_are_exact)
{
    static const struct {
        int type;
        const char *value; /* DNS name or IP address */
    } want[] = {{GEN_DNS, SVC},
                {GEN_DNS, SVC "." NS},
                {GEN_DNS, SVC "." NS ".svc"},
                {GEN_DNS, SVC "." NS ".svc.cluster.local"},
                {GEN_DNS, "localhost"},
                {GEN_IPADD, "127.0.0.1"},
                {GEN_IPADD, "::1"}};
    size_t n = sizeof(want) / sizeof(want[0]);
    char *dir = make_tmpdir();
    struct pgw_certs_options o = default_opts(0);
    generate_ok(dir, &o);
    X509 *leaf = load_cert(dir, "tls.crt");
    GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    ck_assert_ptr_nonnull(gens);
    ck_assert_int_eq(sk_GENERAL_NAME_num(gens), (int)n);
    for (size_t i = 0; i != n; ++i) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, (int)i);
        int type;
        const ASN1_STRING *v = GENERAL_NAME_get0_value(g, &type);
        ck_assert_msg(type == want[i].type, "SAN %zu has type %d", i, type);
        if (type == GEN_DNS) {
            char *got = pgw_strndup((const char *)ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
            ck_assert_msg(strcmp(got, want[i].value) == 0, "SAN %zu is %s, want %s", i, got, want[i].value);
            free(got);
        } else {
            ASN1_OCTET_STRING *ip = a2i_IPADDRESS(want[i].value);
            ck_assert_ptr_nonnull(ip);
            ck_assert_msg(ASN1_OCTET_STRING_cmp(ip, v) == 0, "SAN %zu is not %s", i, want[i].value);
            ASN1_OCTET_STRING_free(ip);
        }
    }
    GENERAL_NAMES_free(gens);
    X509_free(leaf);
    rm_tree(dir);
}
END_TEST

START_TEST(generate_extensions_keys_and_lifetimes)
{
    char *dir = make_tmpdir();
    time_t now = 1800000000; /* fixed clock: lifetimes are exact */
    struct pgw_certs_options o = default_opts(now);
    o.ca_days = 100;
    o.leaf_days = 10;
    generate_ok(dir, &o);
    X509 *ca = load_cert(dir, "ca.crt"), *leaf = load_cert(dir, "tls.crt");
    EVP_PKEY *ca_key = load_key(dir, "ca.key"), *leaf_key = load_key(dir, "tls.key");

    /* CA: CA:TRUE critical, keyCertSign + cRLSign only, subject key id, self-signed. */
    ck_assert_int_eq(X509_check_ca(ca), 1);
    ck_assert_int_eq(ext_critical(ca, NID_basic_constraints), 1);
    ck_assert_uint_eq(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    ck_assert_ptr_nonnull(X509_get0_subject_key_id(ca));
    ck_assert_int_eq(X509_verify(ca, X509_get0_pubkey(ca)), 1);
    ck_assert_int_eq(X509_get_signature_nid(ca), NID_ecdsa_with_SHA256);

    /* Leaf: CA:FALSE critical, digitalSignature only, serverAuth only, AKID = CA's SKID. */
    ck_assert_int_eq(X509_check_ca(leaf), 0);
    ck_assert_int_eq(ext_critical(leaf, NID_basic_constraints), 1);
    ck_assert_uint_eq(X509_get_key_usage(leaf), KU_DIGITAL_SIGNATURE);
    ck_assert_uint_eq(X509_get_extended_key_usage(leaf), XKU_SSL_SERVER);
    ck_assert_int_eq(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256);
    const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(leaf), *skid = X509_get0_subject_key_id(ca);
    ck_assert_ptr_nonnull(akid);
    ck_assert_int_eq(ASN1_OCTET_STRING_cmp(akid, skid), 0);

    /* Keys: EC P-256, matching their certificates. */
    assert_p256(ca_key);
    assert_p256(leaf_key);
    assert_p256(X509_get0_pubkey(ca));
    assert_p256(X509_get0_pubkey(leaf));
    ck_assert_int_eq(X509_check_private_key(ca, ca_key), 1);
    ck_assert_int_eq(X509_check_private_key(leaf, leaf_key), 1);

    /* Lifetimes: notBefore backdated by 5 minutes, notAfter = now + days. */
    ck_assert_int_eq(asn1_time(X509_get0_notBefore(ca)), now - 300);
    ck_assert_int_eq(asn1_time(X509_get0_notAfter(ca)), now + 100 * DAY);
    ck_assert_int_eq(asn1_time(X509_get0_notBefore(leaf)), now - 300);
    ck_assert_int_eq(asn1_time(X509_get0_notAfter(leaf)), now + 10 * DAY);

    /* Serials: positive, 128 bits of room, and different every time. */
    BIGNUM *s_ca = serial_of(ca), *s_leaf = serial_of(leaf);
    ck_assert(!BN_is_negative(s_ca));
    ck_assert_int_eq(BN_num_bits(s_ca), 127);
    ck_assert_int_eq(BN_num_bits(s_leaf), 127);
    ck_assert_int_ne(BN_cmp(s_ca, s_leaf), 0);
    BN_free(s_ca);
    BN_free(s_leaf);

    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);
    rm_tree(dir);
}
END_TEST

START_TEST(generate_leaf_never_outlives_ca)
{
    char *dir = make_tmpdir();
    time_t now = 1800000000;
    struct pgw_certs_options o = default_opts(now);
    o.ca_days = 10;
    o.leaf_days = 365;
    generate_ok(dir, &o);
    X509 *ca = load_cert(dir, "ca.crt"), *leaf = load_cert(dir, "tls.crt");
    ck_assert_int_eq(asn1_time(X509_get0_notAfter(leaf)), asn1_time(X509_get0_notAfter(ca)));
    X509_free(ca);
    X509_free(leaf);
    rm_tree(dir);
}
END_TEST

START_TEST(generate_option_table)
{
    static const char long63[] = "a23456789012345678901234567890123456789012345678901234567890123";
    static const char long64[] = "a234567890123456789012345678901234567890123456789012345678901234";
    static const struct {
        const char *service, *namespace;
        int ca_days, leaf_days;
        const char *err; /* NULL: accepted; else a substring of the error */
    } rows[] = {
        {SVC, NS, 3650, 365, NULL},
        {"a", "b", 1, 1, NULL},
        {long63, long63, 36500, 36500, NULL}, /* CN falls back to the service name */
        {"web-1", "ns-2", 3650, 365, NULL},
        {NULL, NS, 3650, 365, "service"},
        {"", NS, 3650, 365, "service"},
        {"Webhook", NS, 3650, 365, "service"},
        {"-webhook", NS, 3650, 365, "service"},
        {"webhook-", NS, 3650, 365, "service"},
        {"web.hook", NS, 3650, 365, "service"},
        {"web,hook", NS, 3650, 365, "service"},
        {long64, NS, 3650, 365, "service"},
        {SVC, "", 3650, 365, "namespace"},
        {SVC, NULL, 3650, 365, "namespace"},
        {SVC, "kube_system", 3650, 365, "namespace"},
        {SVC, long64, 3650, 365, "namespace"},
        {SVC, NS, 0, 365, "CA lifetime"},
        {SVC, NS, 36501, 365, "CA lifetime"},
        {SVC, NS, 3650, 0, "certificate lifetime"},
        {SVC, NS, 3650, -5, "certificate lifetime"},
        {SVC, NS, 3650, 36501, "certificate lifetime"},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        char *dir = make_tmpdir(), *err = NULL;
        struct pgw_certs_options o = {
            .service = rows[i].service, .namespace = rows[i].namespace, .ca_days = rows[i].ca_days, .leaf_days = rows[i].leaf_days};
        int rc = pgw_certs_generate(dir, &o, &err);
        if (rows[i].err == NULL) {
            ck_assert_msg(rc == 0, "row %zu: %s", i, err != NULL ? err : "");
            ck_assert_msg(verify_leaf(dir, time(NULL), NULL) == X509_V_OK, "row %zu", i);
        } else {
            ck_assert_msg(rc == -1, "row %zu accepted", i);
            ck_assert_msg(err != NULL && strstr(err, rows[i].err) != NULL, "row %zu: %s", i, err);
            char *crt = path_in(dir, "ca.crt");
            ck_assert_msg(access(crt, F_OK) != 0, "row %zu wrote files", i);
            free(crt);
        }
        free(err);
        rm_tree(dir);
    }
}
END_TEST

START_TEST(generate_fails_cleanly_on_unwritable_dir)
{
    char *dir = make_tmpdir(), *err = NULL;
    put(dir, "file", "x", 1);
    char *sub = path_in(dir, "file/certs");
    struct pgw_certs_options o = default_opts(0);
    ck_assert_int_eq(pgw_certs_generate(sub, &o, &err), -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "file") != NULL, "%s", err);
    free(err);
    err = NULL;
    int changed = -1;
    ck_assert_int_eq(pgw_certs_ensure(sub, &o, &changed, &err), -1);
    ck_assert_int_eq(changed, 0);
    ck_assert_ptr_nonnull(err);
    free(err);
    free(sub);
    rm_tree(dir);
}
END_TEST

/* ---- needs_renewal ------------------------------------------------------ */

START_TEST(needs_renewal_table)
{
    static const struct {
        time_t not_before, not_after, now;
        int want;
    } rows[] = {
        {1000, 1300, 1000, 0},          /* just issued */
        {1000, 1300, 900, 0},           /* not valid yet: not a renewal matter */
        {1000, 1300, 1199, 0},          /* 101 of 300 left */
        {1000, 1300, 1200, 0},          /* exactly a third left */
        {1000, 1300, 1201, 1},          /* less than a third */
        {1000, 1300, 1300, 1},          /* expiring now */
        {1000, 1300, 5000, 1},          /* expired */
        {1000, 1000, 1000, 1},          /* empty lifetime */
        {1300, 1000, 900, 1},           /* inverted */
        {0, 365 * DAY, 243 * DAY, 0},   /* a year: 122 days left */
        {0, 365 * DAY, 244 * DAY, 1},   /* 121 days left */
        {0, 3650 * DAY, 2433 * DAY, 0}, /* ten years: 1217 days left */
        {0, 3650 * DAY, 2434 * DAY, 1}, /* 1216 days left */
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i)
        ck_assert_msg(pgw_certs_needs_renewal(rows[i].not_before, rows[i].not_after, rows[i].now) == rows[i].want, "row %zu", i);
}
END_TEST

/* ---- check_pair --------------------------------------------------------- */

START_TEST(check_pair_table)
{
    time_t now = time(NULL);
    char *good = make_tmpdir(), *other = make_tmpdir(), *expired = make_tmpdir(), *future = make_tmpdir();
    struct pgw_certs_options o = default_opts(0);
    generate_ok(good, &o);
    generate_ok(other, &o);
    o.now = now - 400 * DAY;
    o.leaf_days = 30;
    generate_ok(expired, &o);
    o.now = now + 10 * DAY;
    generate_ok(future, &o);

    /* Odd files next to the good pair. */
    put(good, "garbage.pem", "not a certificate\n", 18);
    put(good, "nul.pem", "-----BEGIN\0CERTIFICATE-----\n", 28);
    char *leaf_pem = slurp(good, "tls.crt");
    put(good, "truncated.crt", leaf_pem, strlen(leaf_pem) / 2);
    free(leaf_pem);
    char *big = pgw_malloc((1u << 20) + 2);
    memset(big, 'A', (1u << 20) + 1);
    put(good, "big.pem", big, (1u << 20) + 1);
    free(big);
    char *sub = path_in(good, "adir");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    free(sub);
    EVP_PKEY *key = load_key(good, "tls.key");
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, key, EVP_aes_256_cbc(), (unsigned char *)"secret", 6, NULL, NULL), 1);
    char *enc;
    long enc_len = BIO_get_mem_data(bio, &enc);
    put(good, "encrypted.key", enc, (size_t)enc_len);
    BIO_free(bio);
    EVP_PKEY_free(key);

    static const struct {
        int cert_dir, key_dir; /* 0 good, 1 other, 2 expired, 3 future */
        const char *cert, *key;
        const char *err; /* NULL: usable; else a substring of the error */
    } rows[] = {
        {0, 0, "tls.crt", "tls.key", NULL},
        {0, 0, "ca.crt", "ca.key", NULL},
        {0, 1, "tls.crt", "tls.key", "tls.key does not match"},
        {0, 0, "tls.crt", "ca.key", "ca.key does not match"},
        {0, 0, "ca.crt", "tls.key", "tls.key does not match"},
        {2, 2, "tls.crt", "tls.key", "tls.crt expired at "},
        {3, 3, "tls.crt", "tls.key", "tls.crt is not valid before "},
        {0, 0, "missing.crt", "tls.key", "missing.crt: No such file or directory"},
        {0, 0, "tls.crt", "missing.key", "missing.key: No such file or directory"},
        {0, 0, "garbage.pem", "tls.key", "no PEM certificate"},
        {0, 0, "nul.pem", "tls.key", "not a PEM file"},
        {0, 0, "truncated.crt", "tls.key", "no PEM certificate"},
        {0, 0, "tls.key", "tls.key", "no PEM certificate"},
        {0, 0, "tls.crt", "tls.crt", "no unencrypted PEM private key"},
        {0, 0, "tls.crt", "garbage.pem", "no unencrypted PEM private key"},
        {0, 0, "tls.crt", "encrypted.key", "no unencrypted PEM private key"},
        {0, 0, "big.pem", "tls.key", "larger than"},
        {0, 0, "adir", "tls.key", "not a regular file"},
    };
    const char *dirs[] = {good, other, expired, future};
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        char *cert = path_in(dirs[rows[i].cert_dir], rows[i].cert), *keyp = path_in(dirs[rows[i].key_dir], rows[i].key);
        char *err = NULL;
        time_t not_after = 0;
        int rc = pgw_certs_check_pair(cert, keyp, &not_after, &err);
        if (rows[i].err == NULL) {
            ck_assert_msg(rc == 0, "row %zu: %s", i, err != NULL ? err : "");
            X509 *x = load_cert(dirs[rows[i].cert_dir], rows[i].cert);
            ck_assert_int_eq(not_after, asn1_time(X509_get0_notAfter(x)));
            X509_free(x);
        } else {
            ck_assert_msg(rc == -1, "row %zu accepted", i);
            ck_assert_msg(err != NULL && strstr(err, rows[i].err) != NULL, "row %zu: %s", i, err);
        }
        free(err);
        free(cert);
        free(keyp);
    }
    ck_assert_uint_eq(ERR_peek_error(), 0); /* no OpenSSL errors left for the next TLS call */
    rm_tree(good);
    rm_tree(other);
    rm_tree(expired);
    rm_tree(future);
}
END_TEST

/* ---- ensure ------------------------------------------------------------- */

START_TEST(ensure_creates_then_keeps)
{
    char *dir = make_tmpdir();
    time_t now = time(NULL);
    struct pgw_certs_options o = default_opts(0);
    ck_assert_int_eq(ensure_ok(dir, &o), 1);
    ck_assert_int_eq(verify_leaf(dir, now, SVC "." NS ".svc"), X509_V_OK);
    char *ca = slurp(dir, "ca.crt"), *leaf = slurp(dir, "tls.crt"), *key = slurp(dir, "tls.key");
    /* A good CA and leaf are kept: same bytes, changed = 0, even months later. */
    ck_assert_int_eq(ensure_ok(dir, &o), 0);
    o.now = now + 200 * DAY;
    ck_assert_int_eq(ensure_ok(dir, &o), 0);
    ck_assert(same_file(dir, "ca.crt", ca));
    ck_assert(same_file(dir, "tls.crt", leaf));
    ck_assert(same_file(dir, "tls.key", key));
    free(ca);
    free(leaf);
    free(key);
    rm_tree(dir);
}
END_TEST

START_TEST(ensure_renews_leaf_in_last_third)
{
    char *dir = make_tmpdir();
    time_t t0 = time(NULL) - 25 * DAY;
    struct pgw_certs_options o = default_opts(t0);
    o.leaf_days = 30;
    generate_ok(dir, &o);
    char *ca = slurp(dir, "ca.crt"), *leaf = slurp(dir, "tls.crt");
    o.now = t0 + 19 * DAY; /* 11 of 30 days left: keep */
    ck_assert_int_eq(ensure_ok(dir, &o), 0);
    ck_assert(same_file(dir, "tls.crt", leaf));
    o.now = t0 + 21 * DAY; /* 9 of 30 days left: renew, keep the CA */
    ck_assert_int_eq(ensure_ok(dir, &o), 1);
    ck_assert(same_file(dir, "ca.crt", ca));
    ck_assert(!same_file(dir, "tls.crt", leaf));
    X509 *x = load_cert(dir, "tls.crt");
    ck_assert_int_eq(asn1_time(X509_get0_notAfter(x)), t0 + 51 * DAY);
    X509_free(x);
    ck_assert_int_eq(verify_leaf(dir, t0 + 25 * DAY, SVC), X509_V_OK);
    o.now = 0;
    ck_assert_int_eq(ensure_ok(dir, &o), 0); /* and the renewed one is kept */
    char *err = NULL, *crt = path_in(dir, "tls.crt"), *keyp = path_in(dir, "tls.key");
    time_t na;
    ck_assert_msg(pgw_certs_check_pair(crt, keyp, &na, &err) == 0, "%s", err);
    free(crt);
    free(keyp);
    free(ca);
    free(leaf);
    rm_tree(dir);
}
END_TEST

START_TEST(ensure_renews_ca_in_last_third)
{
    static const struct {
        int days_later;
        int ca_replaced;
    } rows[] = {{0, 0}, {19, 0}, {20, 0}, {21, 1}, {31, 1}};
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        char *dir = make_tmpdir();
        time_t t0 = 1800000000;
        struct pgw_certs_options o = default_opts(t0);
        o.ca_days = 30;
        o.leaf_days = 300; /* clamped to the CA: the leaf is due exactly when the CA is */
        generate_ok(dir, &o);
        char *ca = slurp(dir, "ca.crt"), *leaf = slurp(dir, "tls.crt");
        o.now = t0 + rows[i].days_later * DAY + (rows[i].days_later == 20 ? -300 : 0);
        ck_assert_msg(ensure_ok(dir, &o) == rows[i].ca_replaced, "row %zu", i);
        ck_assert_msg(same_file(dir, "ca.crt", ca) == !rows[i].ca_replaced, "row %zu", i);
        ck_assert_msg(same_file(dir, "tls.crt", leaf) == !rows[i].ca_replaced, "row %zu", i);
        ck_assert_msg(verify_leaf(dir, o.now, SVC) == X509_V_OK, "row %zu", i);
        free(ca);
        free(leaf);
        rm_tree(dir);
    }
}
END_TEST

/* Damage done to a good directory, and what ensure() must replace. */
enum damage {
    MISMATCHED_KEY,    /* tls.key from another generation */
    FOREIGN_LEAF,      /* tls.crt + tls.key signed by another CA */
    OTHER_SERVICE,     /* leaf for another service, same CA */
    FORGED_LEAF,       /* names and key ids of this CA, signature by another key */
    MISSING_LEAF_KEY,  /* tls.key removed */
    MISSING_LEAF,      /* tls.crt removed */
    GARBAGE_LEAF,      /* tls.crt is text */
    EMPTY_LEAF,        /* tls.crt is empty */
    LEAF_IS_A_KEY,     /* tls.crt holds a key */
    LEAF_IS_THE_CA,    /* tls.crt/tls.key are the CA's */
    EXPIRED_LEAF,      /* leaf issued long ago by this CA */
    GARBAGE_CA,        /* ca.crt is text */
    MISSING_CA_KEY,    /* ca.key removed */
    MISMATCHED_CA_KEY, /* ca.key from another generation */
    CA_IS_A_LEAF,      /* ca.crt/ca.key are the leaf's */
    CA_NOT_A_CA,       /* ca.crt re-signed with CA:FALSE */
    EXPIRED_CA,        /* CA and leaf from long ago */
};

static void inflict(const char *dir, const char *other, enum damage d)
{
    char *path;
    char *pem;
    struct pgw_certs_options o = default_opts(time(NULL) - 400 * DAY);
    switch (d) {
    case MISMATCHED_KEY:
        copy_file(other, dir, "tls.key");
        break;
    case FOREIGN_LEAF:
        copy_file(other, dir, "tls.crt");
        copy_file(other, dir, "tls.key");
        break;
    case OTHER_SERVICE: {
        X509 *ca = load_cert(dir, "ca.crt"), *leaf = NULL;
        EVP_PKEY *ca_key = load_key(dir, "ca.key"), *leaf_key = NULL;
        char *err = NULL;
        struct pgw_certs_options oo = default_opts(0);
        oo.service = "other";
        ck_assert_int_eq(pgw_certs_make_leaf(&oo, ca, ca_key, &leaf, &leaf_key, &err), 0);
        ck_assert_int_eq(pgw_certs_write_pair(dir, "tls.crt", "tls.key", leaf, leaf_key, &err), 0);
        X509_free(ca);
        X509_free(leaf);
        EVP_PKEY_free(ca_key);
        EVP_PKEY_free(leaf_key);
        break;
    }
    case FORGED_LEAF: {
        X509 *leaf = load_cert(dir, "tls.crt");
        EVP_PKEY *other_key = load_key(other, "ca.key");
        ck_assert_int_gt(X509_sign(leaf, other_key, EVP_sha256()), 0);
        pem = pgw_certs_cert_pem(leaf, NULL);
        put(dir, "tls.crt", pem, strlen(pem));
        free(pem);
        X509_free(leaf);
        EVP_PKEY_free(other_key);
        break;
    }
    case MISSING_LEAF_KEY:
        path = path_in(dir, "tls.key");
        ck_assert_int_eq(unlink(path), 0);
        free(path);
        break;
    case MISSING_LEAF:
        path = path_in(dir, "tls.crt");
        ck_assert_int_eq(unlink(path), 0);
        free(path);
        break;
    case GARBAGE_LEAF: {
        const char *text = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        put(dir, "tls.crt", text, strlen(text));
        break;
    }
    case EMPTY_LEAF:
        put(dir, "tls.crt", "", 0);
        break;
    case LEAF_IS_A_KEY:
        pem = slurp(dir, "tls.key");
        put(dir, "tls.crt", pem, strlen(pem));
        free(pem);
        break;
    case LEAF_IS_THE_CA:
        pem = slurp(dir, "ca.crt");
        put(dir, "tls.crt", pem, strlen(pem));
        free(pem);
        pem = slurp(dir, "ca.key");
        put(dir, "tls.key", pem, strlen(pem));
        free(pem);
        break;
    case EXPIRED_LEAF: {
        X509 *ca = load_cert(dir, "ca.crt"), *leaf = NULL;
        EVP_PKEY *ca_key = load_key(dir, "ca.key"), *leaf_key = NULL;
        char *err = NULL;
        o.leaf_days = 30;
        ck_assert_int_eq(pgw_certs_make_leaf(&o, ca, ca_key, &leaf, &leaf_key, &err), 0);
        ck_assert_int_eq(pgw_certs_write_pair(dir, "tls.crt", "tls.key", leaf, leaf_key, &err), 0);
        X509_free(ca);
        X509_free(leaf);
        EVP_PKEY_free(ca_key);
        EVP_PKEY_free(leaf_key);
        break;
    }
    case GARBAGE_CA:
        put(dir, "ca.crt", "garbage", 7);
        break;
    case MISSING_CA_KEY:
        path = path_in(dir, "ca.key");
        ck_assert_int_eq(unlink(path), 0);
        free(path);
        break;
    case MISMATCHED_CA_KEY:
        copy_file(other, dir, "ca.key");
        break;
    case CA_IS_A_LEAF:
        pem = slurp(dir, "tls.crt");
        put(dir, "ca.crt", pem, strlen(pem));
        free(pem);
        pem = slurp(dir, "tls.key");
        put(dir, "ca.key", pem, strlen(pem));
        free(pem);
        break;
    case CA_NOT_A_CA: {
        X509 *ca = load_cert(dir, "ca.crt");
        EVP_PKEY *ca_key = load_key(dir, "ca.key");
        X509_EXTENSION_free(X509_delete_ext(ca, X509_get_ext_by_NID(ca, NID_basic_constraints, -1)));
        X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:FALSE");
        ck_assert_ptr_nonnull(bc);
        ck_assert_int_eq(X509_add_ext(ca, bc, -1), 1);
        X509_EXTENSION_free(bc);
        ck_assert_int_gt(X509_sign(ca, ca_key, EVP_sha256()), 0);
        ck_assert_int_eq(X509_verify(ca, ca_key), 1); /* still self-signed and matching its key */
        pem = pgw_certs_cert_pem(ca, NULL);
        put(dir, "ca.crt", pem, strlen(pem));
        free(pem);
        X509_free(ca);
        EVP_PKEY_free(ca_key);
        break;
    }
    case EXPIRED_CA:
        o.ca_days = 30;
        o.leaf_days = 30;
        generate_ok(dir, &o);
        break;
    }
}

START_TEST(ensure_replaces_damage_table)
{
    static const struct {
        enum damage damage;
        int ca_replaced; /* else the CA must be kept byte for byte */
    } rows[] = {
        {MISMATCHED_KEY, 0}, {FOREIGN_LEAF, 0}, {OTHER_SERVICE, 0},  {FORGED_LEAF, 0},       {MISSING_LEAF_KEY, 0},
        {MISSING_LEAF, 0},   {GARBAGE_LEAF, 0}, {EMPTY_LEAF, 0},     {LEAF_IS_A_KEY, 0},     {LEAF_IS_THE_CA, 0},
        {EXPIRED_LEAF, 0},   {GARBAGE_CA, 1},   {MISSING_CA_KEY, 1}, {MISMATCHED_CA_KEY, 1}, {CA_IS_A_LEAF, 1},
        {CA_NOT_A_CA, 1},    {EXPIRED_CA, 1},
    };
    struct pgw_certs_options o = default_opts(0);
    char *other = make_tmpdir();
    generate_ok(other, &o);
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        char *dir = make_tmpdir();
        generate_ok(dir, &o);
        char *ca_before = slurp(dir, "ca.crt");
        inflict(dir, other, rows[i].damage);
        char *ca_damaged = slurp(dir, "ca.crt");
        ck_assert_msg(ensure_ok(dir, &o) == 1, "row %zu: nothing replaced", i);
        if (rows[i].ca_replaced) {
            ck_assert_msg(!same_file(dir, "ca.crt", ca_before), "row %zu: CA kept", i);
            ck_assert_msg(!same_file(dir, "ca.crt", ca_damaged), "row %zu: CA kept", i);
        } else {
            ck_assert_msg(same_file(dir, "ca.crt", ca_before), "row %zu: CA replaced", i);
        }
        /* Whatever happened, the result is a good pair chaining to ca.crt, and stable. */
        ck_assert_msg(verify_leaf(dir, time(NULL), SVC "." NS ".svc") == X509_V_OK, "row %zu", i);
        char *err = NULL, *crt = path_in(dir, "tls.crt"), *keyp = path_in(dir, "tls.key");
        time_t na;
        ck_assert_msg(pgw_certs_check_pair(crt, keyp, &na, &err) == 0, "row %zu: %s", i, err);
        ck_assert_msg(file_mode(dir, "tls.key") == 0600 && file_mode(dir, "ca.key") == 0600, "row %zu", i);
        ck_assert_msg(ensure_ok(dir, &o) == 0, "row %zu: not stable", i);
        free(crt);
        free(keyp);
        free(ca_before);
        free(ca_damaged);
        rm_tree(dir);
    }
    rm_tree(other);
}
END_TEST

START_TEST(ensure_rejects_bad_options)
{
    char *dir = make_tmpdir(), *err = NULL;
    struct pgw_certs_options o = default_opts(0);
    o.service = "Not_A_Label";
    int changed = -1;
    ck_assert_int_eq(pgw_certs_ensure(dir, &o, &changed, &err), -1);
    ck_assert_int_eq(changed, 0);
    ck_assert_msg(err != NULL && strstr(err, "service") != NULL, "%s", err);
    free(err);
    rm_tree(dir);
}
END_TEST

/* ---- judging a certificate kept as PEM (pgw_certs_pem_problem) ------------ */

#define T0 1767225600 /* 2026-01-01T00:00:00Z */

static const char *const judged_extra[] = {"db-ro", "*.db-pods", "*.db-pods.shop.svc"};

/* A CA and a 365-day certificate for service db in shop (plus judged_extra), issued at T0. */
static void issue_judged(struct pgw_certs_pem *pem)
{
    struct pgw_certs_options opts = {.service = "db",
                                     .namespace = "shop",
                                     .ca_days = 3650,
                                     .leaf_days = 365,
                                     .now = T0,
                                     .extra_dns = judged_extra,
                                     .extra_dns_count = 3};
    char *err = NULL;
    ck_assert_msg(pgw_certs_issue_pem(&opts, pem, &err) == 0, "%s", err != NULL ? err : "");
}

enum { J_MINE, J_OTHER_CA, J_OTHER_KEY, J_GARBAGE_CA, J_NO_KEY };

static const struct {
    long long at;         /* seconds after T0 */
    int material;         /* which CA and key go beside the certificate */
    const char *names[4]; /* what it must cover */
    const char *problem;  /* NULL: keep */
} judge_rows[] = {
    {DAY, J_MINE, {"db", "db.shop.svc", "db-ro", "*.db-pods"}, NULL},
    {243LL * DAY, J_MINE, {"db.shop.svc.cluster.local", "localhost"}, NULL}, /* 122 of 365 days left: more than a third */
    {244LL * DAY, J_MINE, {"db"}, "less than a third"},                      /* 121 left */
    {366LL * DAY, J_MINE, {"db"}, "expired"},
    {-DAY, J_MINE, {"db"}, "not valid yet"},
    {DAY, J_MINE, {"db", "db-r"}, "does not cover every name"},   /* a Service added since */
    {DAY, J_MINE, {"db-0.db-pods"}, "does not cover every name"}, /* SANs compare exactly, wildcards too */
    {DAY, J_OTHER_CA, {"db"}, "not signed by the CA in the Secret"},
    {DAY, J_OTHER_KEY, {"db"}, "does not match"},
    {DAY, J_GARBAGE_CA, {"db"}, "no readable CA"},
    {DAY, J_NO_KEY, {"db"}, "no readable private key"},
};

START_TEST(pem_problem_table)
{
    struct pgw_certs_pem mine, other;
    issue_judged(&mine);
    issue_judged(&other);
    const char *names[4];
    size_t n = 0;
    for (; n != 4 && judge_rows[_i].names[n] != NULL; ++n)
        names[n] = judge_rows[_i].names[n];
    int m = judge_rows[_i].material;
    struct pgw_certs_pem_check c = {.ca_crt = m == J_OTHER_CA     ? other.ca_crt
                                              : m == J_GARBAGE_CA ? "-----BEGIN nonsense"
                                                                  : mine.ca_crt,
                                    .crt = mine.tls_crt,
                                    .key = m == J_OTHER_KEY ? other.tls_key
                                           : m == J_NO_KEY  ? NULL
                                                            : mine.tls_key,
                                    .dns = names,
                                    .dns_count = n,
                                    .now = T0 + judge_rows[_i].at};
    time_t renew_at = 0;
    const char *problem = pgw_certs_pem_problem(&c, &renew_at);
    if (judge_rows[_i].problem == NULL) {
        ck_assert_msg(problem == NULL, "row %d: %s", _i, problem);
        /* two thirds into [T0 - 300 s, T0 + 365 days]: 365 days + 300 s is 31536300 s, a third 10512100 */
        ck_assert_int_eq((long long)renew_at, T0 + 31536000LL - 10512100LL);
    } else {
        ck_assert_msg(problem != NULL && strstr(problem, judge_rows[_i].problem) != NULL, "row %d: want \"%s\", got \"%s\"", _i,
                      judge_rows[_i].problem, problem != NULL ? problem : "(keep)");
    }
    pgw_certs_pem_free(&mine);
    pgw_certs_pem_free(&other);
}
END_TEST

/* The extra names are SANs of the serving certificate, after the service's; a bad one fails the issue. */
START_TEST(issue_pem_extra_names)
{
    struct pgw_certs_pem pem;
    issue_judged(&pem);
    BIO *b = BIO_new_mem_buf(pem.tls_crt, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_check_host(x, "db-ro.shop.svc", 0, 0, NULL), 0); /* only the forms asked for */
    ck_assert_int_eq(X509_check_host(x, "db-ro", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_host(x, "db-1.db-pods.shop.svc", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_host(x, "db.shop.svc", 0, 0, NULL), 1);
    X509_free(x);
    pgw_certs_pem_free(&pem);

    static const char *const bad[] = {"Not A Name"};
    struct pgw_certs_options opts = {
        .service = "db", .namespace = "shop", .ca_days = 10, .leaf_days = 5, .extra_dns = bad, .extra_dns_count = 1};
    char *err = NULL;
    ck_assert_int_eq(pgw_certs_issue_pem(&opts, &pem, &err), -1);
    ck_assert_ptr_nonnull(err);
    free(err);
}
END_TEST

static Suite *certs_suite(void)
{
    Suite *s = suite_create("certs");
    TCase *tc = tcase_create("generate");
    tcase_add_test(tc, generate_writes_four_files_with_modes);
    tcase_add_test(tc, generate_leaf_chains_to_ca_for_every_name);
    tcase_add_test(tc, generate_sans_are_exact);
    tcase_add_test(tc, generate_extensions_keys_and_lifetimes);
    tcase_add_test(tc, generate_leaf_never_outlives_ca);
    tcase_add_test(tc, generate_option_table);
    tcase_add_test(tc, generate_fails_cleanly_on_unwritable_dir);
    suite_add_tcase(s, tc);
    tc = tcase_create("check");
    tcase_add_test(tc, needs_renewal_table);
    tcase_add_test(tc, check_pair_table);
    tcase_add_loop_test(tc, pem_problem_table, 0, (int)(sizeof(judge_rows) / sizeof(judge_rows[0])));
    tcase_add_test(tc, issue_pem_extra_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("ensure");
    tcase_add_test(tc, ensure_creates_then_keeps);
    tcase_add_test(tc, ensure_renews_leaf_in_last_third);
    tcase_add_test(tc, ensure_renews_ca_in_last_third);
    tcase_add_test(tc, ensure_replaces_damage_table);
    tcase_add_test(tc, ensure_rejects_bad_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    pgw_log_set_level(PGW_LOG_WARN); /* renewals log at info; keep test output readable */
    return pgw_run_suite(certs_suite());
}
