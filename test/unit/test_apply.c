/*
 * Unit tests for controller/reconcile/apply: the desired hash (stable under key order,
 * blind to its own annotation, sensitive to any other change) and the
 * per-child decision table (skip / read live / apply / create), including the
 * rule that Secrets are never overwritten. The cache's owner scoping too.
 */
#include "helpers.h"

#include "controller/reconcile/apply.h"

START_TEST(hash_properties)
{
    char a[PGW_APPLY_HASH_LEN + 1], b[PGW_APPLY_HASH_LEN + 1], c[PGW_APPLY_HASH_LEN + 1], d[PGW_APPLY_HASH_LEN + 1];
    json_t *x = q("{'kind':'Service','metadata':{'name':'n','labels':{'a':'1','b':'2'}},'spec':{'ports':[1,2]}}");
    json_t *y = q("{'spec':{'ports':[1,2]},'metadata':{'labels':{'b':'2','a':'1'},'name':'n'},'kind':'Service'}");
    json_t *z = q("{'kind':'Service','metadata':{'name':'n','labels':{'a':'1','b':'2'},'annotations':{'pgwarden.io/"
                  "desired-hash':'0123456789abcdef'}},'spec':{'ports':[1,2]}}");
    json_t *w = q("{'kind':'Service','metadata':{'name':'n','labels':{'a':'1','b':'2'}},'spec':{'ports':[2,1]}}");
    pgw_apply_hash(x, a);
    pgw_apply_hash(y, b);
    pgw_apply_hash(z, c);
    pgw_apply_hash(w, d);
    ck_assert_uint_eq(strlen(a), PGW_APPLY_HASH_LEN);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), PGW_APPLY_HASH_LEN);
    ck_assert_str_eq(a, b); /* key order does not matter */
    ck_assert_str_eq(a, c); /* our own annotation is not part of the hash */
    ck_assert_str_ne(a, d); /* list order does */
    json_decref(x);
    json_decref(y);
    json_decref(z);
    json_decref(w);
}
END_TEST

static const struct {
    const char *kind, *desired, *cached;
    enum pgw_live_state live;
    const char *live_hash;
    enum pgw_apply_action want;
} decide_cases[] = {
    /* steady state: the cache answers, no request */
    {"StatefulSet", "h1", "h1", PGW_LIVE_UNKNOWN, NULL, PGW_APPLY_SKIP},
    /* render changed since our last apply: apply without reading */
    {"StatefulSet", "h2", "h1", PGW_LIVE_UNKNOWN, NULL, PGW_APPLY_PATCH},
    /* cold cache: read first */
    {"ConfigMap", "h1", NULL, PGW_LIVE_UNKNOWN, NULL, PGW_APPLY_READ_LIVE},
    /* cold cache, live child already carries the hash: skip */
    {"ConfigMap", "h1", NULL, PGW_LIVE_PRESENT, "h1", PGW_APPLY_SKIP},
    /* cold cache, live child has another hash or none: apply */
    {"ConfigMap", "h1", NULL, PGW_LIVE_PRESENT, "h0", PGW_APPLY_PATCH},
    {"ConfigMap", "h1", NULL, PGW_LIVE_PRESENT, NULL, PGW_APPLY_PATCH},
    {"ConfigMap", "h1", NULL, PGW_LIVE_ABSENT, NULL, PGW_APPLY_PATCH},
    /* Secrets: created when absent, never overwritten */
    {"Secret", "h1", NULL, PGW_LIVE_UNKNOWN, NULL, PGW_APPLY_READ_LIVE},
    {"Secret", "h1", NULL, PGW_LIVE_ABSENT, NULL, PGW_APPLY_CREATE},
    {"Secret", "h1", NULL, PGW_LIVE_PRESENT, "other", PGW_APPLY_SKIP},
    {"Secret", "h1", NULL, PGW_LIVE_PRESENT, NULL, PGW_APPLY_SKIP},
    {"Secret", "h2", "h1", PGW_LIVE_UNKNOWN, NULL, PGW_APPLY_SKIP},
    /* A backup repository's claim: created once, never patched (it outlives the cluster) */
    {"PersistentVolumeClaim", "h1", NULL, PGW_LIVE_UNKNOWN, NULL, PGW_APPLY_READ_LIVE},
    {"PersistentVolumeClaim", "h1", NULL, PGW_LIVE_ABSENT, NULL, PGW_APPLY_CREATE},
    {"PersistentVolumeClaim", "h1", NULL, PGW_LIVE_PRESENT, "h0", PGW_APPLY_SKIP},
    {"PersistentVolumeClaim", "h2", "h1", PGW_LIVE_UNKNOWN, NULL, PGW_APPLY_SKIP},
};

START_TEST(decide_table)
{
    for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); ++i) {
        enum pgw_apply_action got = pgw_apply_decide(decide_cases[i].kind, decide_cases[i].desired, decide_cases[i].cached,
                                                     decide_cases[i].live, decide_cases[i].live_hash);
        ck_assert_msg(got == decide_cases[i].want, "row %zu: got %d, want %d", i, (int)got, (int)decide_cases[i].want);
    }
}
END_TEST

START_TEST(cache_forget_owner)
{
    struct pgw_apply_cache *c = pgw_apply_cache_new();
    /* Fill through the public API: forget on an empty cache is harmless. */
    pgw_apply_cache_forget_owner(c, "uid-1");
    pgw_apply_cache_forget(c, "uid-1", "Secret", "db", "x");
    ck_assert_int_eq(pgw_apply_cache_size(c), 0);
    pgw_apply_cache_free(c);
}
END_TEST

/* Only the controlling ownerReference counts, and only when it is of the asked kind. */
START_TEST(controller_uid)
{
    static const struct {
        const char *obj;
        const char *want; /* NULL: none */
    } rows[] = {
        {"{'metadata':{'ownerReferences':[{'kind':'PostgresCluster','uid':'u1','controller':true}]}}", "u1"},
        {"{'metadata':{'ownerReferences':[{'kind':'PostgresCluster','uid':'u1'},"
         "{'kind':'PostgresBackup','uid':'u2','controller':true}]}}",
         NULL},
        {"{'metadata':{'ownerReferences':[{'kind':'PostgresCluster','uid':'u1','controller':false}]}}", NULL},
        {"{'metadata':{'ownerReferences':[{'kind':'PostgresCluster','controller':true}]}}", NULL},
        {"{'metadata':{}}", NULL},
        {"{'metadata':{'ownerReferences':'not a list'}}", NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); ++i) {
        json_t *obj = q(rows[i].obj);
        const char *got = pgw_controller_uid(obj, "PostgresCluster");
        if (rows[i].want == NULL)
            ck_assert_msg(got == NULL, "row %zu: got %s", i, got);
        else
            ck_assert_msg(got != NULL && strcmp(got, rows[i].want) == 0, "row %zu", i);
        json_decref(obj);
    }
}
END_TEST

/* Primed means "every child we applied is here"; a reset forgets entries and that promise. */
START_TEST(cache_priming_state)
{
    struct pgw_apply_cache *c = pgw_apply_cache_new();
    ck_assert_int_eq(pgw_apply_cache_primed(c), 0);
    pgw_apply_cache_remember(c, "uid-1", "Service", "db", "a", "0123456789abcdef");
    pgw_apply_cache_remember(c, "uid-2", "Service", "db", "a", "0123456789abcdef");
    pgw_apply_cache_set_primed(c);
    ck_assert_int_eq(pgw_apply_cache_primed(c), 1);
    ck_assert(pgw_apply_cache_seen(c, "uid-1", "Service", "db", "a", "0123456789abcdef"));
    ck_assert(!pgw_apply_cache_seen(c, "uid-1", "Service", "db", "a", "fedcba9876543210"));
    pgw_apply_cache_forget_owner(c, "uid-1");
    ck_assert_int_eq(pgw_apply_cache_size(c), 1);
    pgw_apply_cache_reset(c);
    ck_assert_int_eq(pgw_apply_cache_size(c), 0);
    ck_assert_int_eq(pgw_apply_cache_primed(c), 0);
    json_t *live = q("{'metadata':{'annotations':{'pgwarden.io/desired-hash':'0123456789abcdef'}}}");
    ck_assert_str_eq(pgw_apply_live_hash(live), "0123456789abcdef");
    json_decref(live);
    live = q("{'metadata':{'annotations':null}}");
    ck_assert_ptr_null(pgw_apply_live_hash(live));
    json_decref(live);
    pgw_apply_cache_free(c);
}
END_TEST

/* A child that no object owns (credentials kept with the volumes) is told apart from an owned one;
 * priming attributes it to its cluster by label (apply_prime.c). */
START_TEST(owned_children)
{
    json_t *owned = q("{'metadata':{'ownerReferences':[{'kind':'PostgresCluster','uid':'u1','controller':true}]}}");
    json_t *bare = q("{'metadata':{'name':'c-superuser'}}"), *empty = q("{'metadata':{'ownerReferences':[]}}");
    ck_assert_int_eq(pgw_apply_owned(owned), 1);
    ck_assert_int_eq(pgw_apply_owned(bare), 0);
    ck_assert_int_eq(pgw_apply_owned(empty), 0);
    json_decref(owned);
    json_decref(bare);
    json_decref(empty);
}
END_TEST

/* A live Secret's keys (sorted, what priming remembers) and its decoded text values (binary ones left out). */
START_TEST(secret_keys_and_data)
{
    /* "aGVsbG8=" is "hello", "AAE=" is two bytes with a NUL */
    json_t *s = q("{'kind':'Secret','data':{'tls.key':'aGVsbG8=','password':'aGVsbG8=','blob':'AAE='}}");
    char *keys = pgw_apply_secret_keys(s);
    ck_assert_str_eq(keys, "keys:,blob,password,tls.key,");
    free(keys);
    json_t *data = pgw_apply_secret_data(s);
    ck_assert_str_eq(json_string_value(json_object_get(data, "tls.key")), "hello");
    ck_assert_ptr_null(json_object_get(data, "blob"));
    json_decref(data);
    json_decref(s);
    s = q("{'kind':'Secret'}");
    keys = pgw_apply_secret_keys(s);
    ck_assert_str_eq(keys, "keys:,");
    free(keys);
    json_decref(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("apply");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, hash_properties);
    tcase_add_test(tc, decide_table);
    tcase_add_test(tc, cache_forget_owner);
    tcase_add_test(tc, cache_priming_state);
    tcase_add_test(tc, controller_uid);
    tcase_add_test(tc, owned_children);
    tcase_add_test(tc, secret_keys_and_data);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
