/*
 * Defaults of PostgresCluster, PostgresBackup and PostgresRestore: each default
 * appears where unset, a user value (even a wrong one) is kept, and defaulting
 * twice changes nothing.
 */
#include "helpers.h"
#include "test/unit/helpers.h"

#include "mutators/mutators.h"

static const char base[] = "{'metadata':{'name':'demo','namespace':'meta-ns'},'spec':{'storage':{'size':'1Gi'},"
                           "'backup':{'repository':{'s3':{'bucket':'b'}}}}}";

static json_t *pointer_get(json_t *v, const char *path) /* "spec.pooler.mode" */
{
    char *copy = pgw_strdup(path), *save = NULL;
    for (char *t = strtok_r(copy, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
        v = json_object_get(v, t);
    free(copy);
    return v;
}

static const struct {
    const char *input; /* NULL: base */
    const char *ns;    /* ctx->namespace */
    const char *path;
    const char *expected; /* JSON literal */
} rows[] = {
    {NULL, "shop", "spec.postgresVersion", "18"},
    {NULL, "shop", "spec.instances", "1"},
    {NULL, "shop", "spec.pooler.enabled", "true"},
    {NULL, "shop", "spec.pooler.mode", "'transaction'"},
    {NULL, "shop", "spec.pooler.maxClientConnections", "1000"},
    {NULL, "shop", "spec.pooler.defaultPoolSize", "20"},
    {NULL, "shop", "spec.metrics.enabled", "true"},
    {NULL, "shop", "spec.backup.path", "'/shop/demo'"},
    {NULL, "", "spec.backup.path", "'/meta-ns/demo'"},
    {NULL, "shop", "spec.backup.retention.full", "2"},
    {NULL, "shop", "spec.backup.retention.fullType", "'count'"},
    {NULL, "shop", "spec.backup.retention.diff", "6"},
    {NULL, "shop", "spec.backup.repository.s3.uriStyle", "'host'"},
    {NULL, "shop", "spec.bootstrap.initdb.database", "'app'"},
    {NULL, "shop", "spec.bootstrap.initdb.owner", "'app'"},
    {NULL, "shop", "spec.bootstrap.initdb.encoding", "'UTF8'"},
    {NULL, "shop", "spec.bootstrap.initdb.locale", "'C'"},
    {NULL, "shop", "spec.bootstrap.initdb.dataChecksums", "true"},
    {NULL, "shop", "spec.affinity.antiAffinity", "'preferred'"},
    {NULL, "shop", "spec.affinity.topologyKey", "'kubernetes.io/hostname'"},
    {NULL, "shop", "spec.deletionProtection", "false"},
    /* user values are kept, even invalid ones */
    {"{'spec':{'instances':0,'postgresVersion':13}}", "shop", "spec.instances", "0"},
    {"{'spec':{'instances':0,'postgresVersion':13}}", "shop", "spec.postgresVersion", "13"},
    {"{'spec':{'pooler':{'enabled':false,'mode':'bogus'}}}", "shop", "spec.pooler.mode", "'bogus'"},
    {"{'spec':{'pooler':{'enabled':false}}}", "shop", "spec.pooler.enabled", "false"},
    {"{'spec':{'pooler':{'enabled':false}}}", "shop", "spec.pooler.defaultPoolSize", "20"},
    {"{'spec':{'backup':{'path':'/custom'}}}", "shop", "spec.backup.path", "'/custom'"},
    {"{'spec':{'backup':{'retention':{'full':9}}}}", "shop", "spec.backup.retention.full", "9"},
    {"{'spec':{'backup':{'retention':{'full':9}}}}", "shop", "spec.backup.retention.diff", "6"},
    {"{'spec':{'backup':{'repository':{'s3':{'uriStyle':'path'}}}}}", "shop", "spec.backup.repository.s3.uriStyle", "'path'"},
    {"{'spec':{'bootstrap':{'initdb':{'database':'shop'}}}}", "shop", "spec.bootstrap.initdb.database", "'shop'"},
    {"{'spec':{'bootstrap':{'initdb':{'database':'shop'}}}}", "shop", "spec.bootstrap.initdb.owner", "'app'"},
    {"{'spec':{'bootstrap':{'restore':{'fromCluster':'x'}}}}", "shop", "spec.bootstrap", "{'restore':{'fromCluster':'x'}}"},
    {"{'spec':{'affinity':{'antiAffinity':'required'}}}", "shop", "spec.affinity.antiAffinity", "'required'"},
    {"{'spec':{'affinity':{'antiAffinity':'required'}}}", "shop", "spec.affinity.topologyKey", "'kubernetes.io/hostname'"},
    {"{'spec':{'deletionProtection':true}}", "shop", "spec.deletionProtection", "true"},
    {"{'spec':{'pooler':null}}", "shop", "spec.pooler.enabled", "true"},
    /* no backup section: none is invented */
    {"{'spec':{'backup':null}}", "shop", "spec.backup", NULL},
    {"{'spec':{'tls':null}}", "shop", "spec.tls", NULL},
};

static json_t *mutate(json_t *obj, const char *ns, void (*fn)(json_t *, const struct pgw_request_ctx *, struct pgw_errors *))
{
    struct pgw_request_ctx ctx = {.operation = "CREATE", .namespace = ns, .name = ""};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    fn(obj, &ctx, &errs);
    ck_assert_int_eq(errs.count, 0);
    pgw_errors_dispose(&errs);
    return obj;
}

START_TEST(test_default)
{
    json_t *obj = q(base);
    if (rows[_i].input) {
        json_t *p = q(rows[_i].input);
        merge(obj, p);
        json_decref(p);
    }
    mutate(obj, rows[_i].ns, pgw_mutate_postgrescluster);
    json_t *got = pointer_get(obj, rows[_i].path);
    if (rows[_i].expected == NULL) {
        ck_assert_msg(got == NULL, "row %d: %s should stay unset", _i, rows[_i].path);
    } else {
        json_t *want = q(rows[_i].expected);
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : pgw_strdup("(unset)");
        ck_assert_msg(got != NULL && json_equal(got, want), "row %d: %s = %s, want %s", _i, rows[_i].path, g, rows[_i].expected);
        free(g);
        json_decref(want);
    }
    /* Idempotent: a second pass changes nothing. */
    json_t *again = json_deep_copy(obj);
    mutate(again, rows[_i].ns, pgw_mutate_postgrescluster);
    ck_assert(json_equal(again, obj));
    json_decref(again);
    json_decref(obj);
}
END_TEST

START_TEST(test_backup_and_restore_defaults)
{
    json_t *b = mutate(q("{'metadata':{'name':'b1'},'spec':{'cluster':'demo'}}"), "shop", pgw_mutate_postgresbackup);
    ck_assert_str_eq(json_string_value(pointer_get(b, "spec.type")), "full");
    json_decref(b);
    b = mutate(q("{'metadata':{'name':'b1'},'spec':{'cluster':'demo','type':'incr'}}"), "shop", pgw_mutate_postgresbackup);
    ck_assert_str_eq(json_string_value(pointer_get(b, "spec.type")), "incr");
    json_decref(b);

    json_t *r = mutate(q("{'metadata':{'name':'r1'},'spec':{'source':{'cluster':'demo'}}}"), "shop", pgw_mutate_postgresrestore);
    ck_assert_str_eq(json_string_value(pointer_get(r, "spec.newCluster.name")), "r1");
    json_t *again = mutate(json_deep_copy(r), "shop", pgw_mutate_postgresrestore);
    ck_assert(json_equal(again, r));
    json_decref(again);
    json_decref(r);
    r = mutate(q("{'metadata':{'name':'r1'},'spec':{'newCluster':{'name':'other'}}}"), "shop", pgw_mutate_postgresrestore);
    ck_assert_str_eq(json_string_value(pointer_get(r, "spec.newCluster.name")), "other");
    json_decref(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cluster_defaults");
    TCase *tc = tcase_create("defaults");
    tcase_add_loop_test(tc, test_default, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, test_backup_and_restore_defaults);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
