/*
 * SCRAM-SHA-256 (controller/pg/scram.c): the client exchange replays RFC 7677
 * §3's example (user "user", password "pencil", the RFC's nonces, salt and
 * proofs), a hostile or broken server's messages are refused, and verifiers
 * have PostgreSQL's format and the keys RFC 5802 defines. The pinned verifier
 * was computed with Python's hashlib (pbkdf2_hmac, hmac), not with this code.
 * That PostgreSQL accepts our verifiers: test/integration/test_pgconn_real.py.
 */
#include "helpers.h"
#include <check.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "controller/pg/scram.h"
#include "controller/pg/scram_exchange.h"

#define RFC_CLIENT_NONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL                                                                                                           \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* Runs the RFC exchange up to the client-final-message; returns it (caller frees). */
static char *rfc_exchange(struct pgw_scram_client *c, const char *server_first, char **err)
{
    char *first = pgw_scram_client_first(c, "user", "pencil", RFC_CLIENT_NONCE);
    ck_assert_str_eq(first, "n,,n=user,"
                            "r=" RFC_CLIENT_NONCE);
    free(first);
    return pgw_scram_client_final(c, server_first, strlen(server_first), err);
}

START_TEST(test_rfc7677_exchange)
{
    struct pgw_scram_client c;
    char *err = NULL;
    char *final = rfc_exchange(&c, RFC_SERVER_FIRST, &err);
    ck_assert_msg(final != NULL, "%s", err);
    ck_assert_str_eq(final, RFC_CLIENT_FINAL);
    ck_assert_int_eq(pgw_scram_client_verify(&c, RFC_SERVER_FINAL, strlen(RFC_SERVER_FINAL), &err), 0);
    free(final);
    pgw_scram_client_dispose(&c);
}
END_TEST

/* A server that does not hold the verifier cannot produce the signature: one changed byte fails. */
static const char *bad_finals[] = {
    "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", /* another signature */
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G!=", /* not base64 */
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5n",             /* short */
    "v=",                                             /* empty */
    "x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", /* wrong attribute */
    "e=invalid-proof",                                /* the server's error */
    "",
};

START_TEST(test_bad_server_signature)
{
    struct pgw_scram_client c;
    char *err = NULL;
    char *final = rfc_exchange(&c, RFC_SERVER_FIRST, &err);
    ck_assert_ptr_nonnull(final);
    free(final);
    const char *msg = bad_finals[_i];
    ck_assert_int_eq(pgw_scram_client_verify(&c, msg, strlen(msg), &err), -1);
    ck_assert_ptr_nonnull(err);
    if (strncmp(msg, "e=", 2) == 0)
        ck_assert_str_eq(err, "SCRAM: the server refused: invalid-proof");
    free(err);
    pgw_scram_client_dispose(&c);
}
END_TEST

struct bad_first {
    const char *message;
    const char *error;
};
static const struct bad_first bad_firsts[] = {
    {"r=someoneelse%hvYDpWUa2RaTCAfuxFIlj,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "SCRAM: the server's nonce does not extend ours"},
    {"r=" RFC_CLIENT_NONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "SCRAM: the server's nonce does not extend ours"},
    {"r=" RFC_CLIENT_NONCE "%h\x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "SCRAM: the server's nonce is not printable"},
    {"r=" RFC_CLIENT_NONCE "%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", "SCRAM: the server's iteration count is out of range"},
    {"r=" RFC_CLIENT_NONCE "%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1", "SCRAM: the server's iteration count is out of range"},
    {"r=" RFC_CLIENT_NONCE "%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000001", "SCRAM: the server's iteration count is out of range"},
    {"r=" RFC_CLIENT_NONCE "%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999",
     "SCRAM: the server's iteration count is out of range"},
    {"r=" RFC_CLIENT_NONCE "%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=40x", "SCRAM: the server's iteration count is out of range"},
    {"r=" RFC_CLIENT_NONCE "%hv,s=***,i=4096", "SCRAM: the server's salt is not base64"},
    {"r=" RFC_CLIENT_NONCE "%hv,s=,i=4096", "SCRAM: the server's salt is not base64"},
    {"r=" RFC_CLIENT_NONCE "%hv,i=4096", "SCRAM: malformed server-first-message"},
    {"r=" RFC_CLIENT_NONCE "%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==", "SCRAM: malformed server-first-message"},
    {"s=W22ZaJ0SNY7soEsUEjb6gQ==,r=" RFC_CLIENT_NONCE "%hv,i=4096", "SCRAM: malformed server-first-message"},
    {"m=ext,r=" RFC_CLIENT_NONCE "%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "SCRAM: the server requires an extension we do not know"},
    {"", "SCRAM: malformed server-first-message"},
};

START_TEST(test_bad_server_first)
{
    struct pgw_scram_client c;
    char *err = NULL;
    char *final = rfc_exchange(&c, bad_firsts[_i].message, &err);
    ck_assert_msg(final == NULL, "accepted %s", bad_firsts[_i].message);
    ck_assert_str_eq(err, bad_firsts[_i].error);
    free(err);
    /* the exchange cannot go on to verify */
    err = NULL;
    ck_assert_int_eq(pgw_scram_client_verify(&c, RFC_SERVER_FINAL, strlen(RFC_SERVER_FINAL), &err), -1);
    free(err);
    pgw_scram_client_dispose(&c);
}
END_TEST

START_TEST(test_random_nonce_and_escaped_user)
{
    struct pgw_scram_client a, b;
    char *fa = pgw_scram_client_first(&a, "we,i=rd", "pw", NULL);
    char *fb = pgw_scram_client_first(&b, "", "pw", NULL);
    ck_assert_int_eq(strncmp(fa, "n,,n=we=2Ci=3Drd,r=", 19), 0);
    ck_assert_int_eq(strlen(fa), 19 + 24);
    ck_assert_int_eq(strncmp(fb, "n,,n=,r=", 8), 0);
    ck_assert_str_ne(fa + 19, fb + 8); /* two draws differ */
    ck_assert_ptr_null(strchr(fb + 8, ','));
    free(fa);
    free(fb);
    pgw_scram_client_dispose(&a);
    pgw_scram_client_dispose(&b);
}
END_TEST

START_TEST(test_verifier_pinned)
{
    size_t salt_len;
    char *salt = pgw_base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", &salt_len);
    char *v = pgw_scram_verifier_salted("pencil", 4096, (const unsigned char *)salt, salt_len);
    ck_assert_str_eq(v, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
    free(v);
    free(salt);
}
END_TEST

START_TEST(test_verifier_format)
{
    regex_t re;
    ck_assert_int_eq(regcomp(&re, "^SCRAM-SHA-256\\$4096:[A-Za-z0-9+/]{22}==\\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    char *a = pgw_scram_verifier("pencil", PGW_SCRAM_ITERATIONS);
    char *b = pgw_scram_verifier("pencil", PGW_SCRAM_ITERATIONS);
    ck_assert_int_eq(regexec(&re, a, 0, NULL, 0), 0);
    ck_assert_int_eq(regexec(&re, b, 0, NULL, 0), 0);
    ck_assert_str_ne(a, b); /* a fresh salt each time */
    char *c = pgw_scram_verifier("", 1);
    ck_assert_int_eq(strncmp(c, "SCRAM-SHA-256$1:", 16), 0);
    ck_assert_ptr_null(pgw_scram_verifier("pencil", 0));
    ck_assert_ptr_null(pgw_scram_verifier(NULL, 4096));
    free(a);
    free(b);
    free(c);
    regfree(&re);
}
END_TEST

static Suite *pgscram_suite(void)
{
    Suite *s = suite_create("pgscram");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rfc7677_exchange);
    tcase_add_loop_test(tc, test_bad_server_signature, 0, sizeof(bad_finals) / sizeof(bad_finals[0]));
    tcase_add_loop_test(tc, test_bad_server_first, 0, sizeof(bad_firsts) / sizeof(bad_firsts[0]));
    tcase_add_test(tc, test_random_nonce_and_escaped_user);
    tcase_add_test(tc, test_verifier_pinned);
    tcase_add_test(tc, test_verifier_format);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(pgscram_suite());
}
