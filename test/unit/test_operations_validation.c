/*
 * Day-2 operations (validators/cluster_operations.c, specs/operations.h):
 * the spec.rollout.mode and spec.storage.onScaleDown defaults and values, the
 * pgwarden.io/switchover and pgwarden.io/restart annotations, the scale-down
 * warnings, and that the annotations are judged by admission only, never by
 * the controller's guard. Expected values are written out here, not taken
 * from the constants under test.
 */
#include "helpers.h"

#include "common/json_arena.h"
#include "mutators/mutators.h"
#include "validators/guard.h"
#include "validators/validators.h"
#include "webhook/admission.h"

static const char base_json[] =
    "{'apiVersion':'pgwarden.io/v1','kind':'PostgresCluster','metadata':{'name':'demo','namespace':'shop'},"
    "'spec':{'postgresVersion':15,'instances':3,'storage':{'size':'1Gi'},"
    "'resources':{'limits':{'memory':'1Gi'}}}}";

/* ---- defaults ---- */

static const struct {
    const char *patch;
    const char *rollout; /* spec.rollout after defaulting; NULL: absent */
    const char *storage; /* spec.storage after defaulting; NULL: absent */
} default_rows[] = {
    {NULL, "{'mode':'unsupervised'}", "{'size':'1Gi','onScaleDown':'Retain'}"},
    {"{'spec':{'rollout':{}}}", "{'mode':'unsupervised'}", "{'size':'1Gi','onScaleDown':'Retain'}"},
    {"{'spec':{'rollout':{'mode':'supervised'},'storage':{'onScaleDown':'Delete'}}}", "{'mode':'supervised'}",
     "{'size':'1Gi','onScaleDown':'Delete'}"},
    /* user values are kept, even invalid ones */
    {"{'spec':{'rollout':{'mode':'bogus'},'storage':{'onScaleDown':'retain'}}}", "{'mode':'bogus'}",
     "{'size':'1Gi','onScaleDown':'retain'}"},
    /* not objects: left for validation */
    {"{'spec':{'rollout':'supervised','storage':'1Gi'}}", "'supervised'", "'1Gi'"},
    /* storage is never invented (its size is required) */
    {"{'spec':{'storage':null}}", "{'mode':'unsupervised'}", NULL},
};

static json_t *defaulted(const char *patch, const char *operation)
{
    return defaulted_cluster(base_json, patch, operation, 0);
}

static void assert_member(int row, const json_t *spec, const char *key, const char *want_text)
{
    json_t *got = json_object_get(spec, key);
    if (want_text == NULL) {
        ck_assert_msg(got == NULL, "row %d: spec.%s should be absent", row, key);
        return;
    }
    json_t *want = q(want_text);
    char *g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS) : pgw_strdup("(absent)");
    ck_assert_msg(json_equal(got, want), "row %d: spec.%s: got %s, want %s", row, key, g, want_text);
    free(g);
    json_decref(want);
}

START_TEST(test_defaults)
{
    json_t *obj = defaulted(default_rows[_i].patch, "CREATE");
    json_t *spec = json_object_get(obj, "spec");
    assert_member(_i, spec, "rollout", default_rows[_i].rollout);
    assert_member(_i, spec, "storage", default_rows[_i].storage);
    /* defaulting twice changes nothing */
    json_t *again = json_deep_copy(obj);
    struct pgw_request_ctx ctx = {.operation = "CREATE", .namespace = "shop", .name = "demo"};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_mutate_postgrescluster(again, &ctx, &errs);
    pgw_errors_dispose(&errs);
    ck_assert_msg(json_equal(again, obj), "row %d: not idempotent", _i);
    json_decref(again);
    json_decref(obj);
}
END_TEST

/* ---- validation, as the webhook runs it: the object's validator, then the request's ---- */

/* Runs both validators on `obj` (and `old`, NULL on CREATE) into errs (initialised here). */
static void admit(const json_t *obj, const json_t *old, struct pgw_errors *errs)
{
    struct pgw_request_ctx ctx = {.operation = old ? "UPDATE" : "CREATE", .namespace = "shop", .name = "demo"};
    pgw_errors_init(errs);
    pgw_validate_postgrescluster(obj, old, &ctx, errs);
    pgw_validate_postgrescluster_request(obj, old, &ctx, errs);
}

/* The stored cluster an UPDATE starts from: the base with `patch`, defaulted, running with demo-0 as its primary. */
static json_t *stored(const char *patch)
{
    json_t *old = defaulted(patch, "CREATE");
    json_object_set_new(old, "status", q("{'phase':'Running','primary':'demo-0'}"));
    return old;
}

#define SO_ANNOTATION(v) "'metadata':{'annotations':{'pgwarden.io/switchover':'" v "'}}"
#define SWITCHOVER(v) "{" SO_ANNOTATION(v) "}"
#define RESTART(v) "{'metadata':{'annotations':{'pgwarden.io/restart':'" v "'}}}"
#define SO_PATH "metadata.annotations[pgwarden.io/switchover]"
#define RS_PATH "metadata.annotations[pgwarden.io/restart]"
#define UPDATE ""   /* old: the base */
#define CREATE NULL /* no old object */

static const struct {
    const char *patch;
    const char *old;  /* patch of the stored object; NULL: a CREATE */
    const char *path; /* NULL: accepted */
    pgw_error_type_t type;
    const char *detail;
} rows[] = {
    /* spec.rollout.mode: unsupervised|supervised */
    {"{'spec':{'rollout':{'mode':'unsupervised'}}}", CREATE, NULL, 0, NULL},
    {"{'spec':{'rollout':{'mode':'supervised'}}}", CREATE, NULL, 0, NULL},
    {"{'spec':{'rollout':{'mode':'manual'}}}", CREATE, "spec.rollout.mode", PGW_ERR_NOT_SUPPORTED,
     "supported values: \"unsupervised\", \"supervised\""},
    {"{'spec':{'rollout':{'mode':'Supervised'}}}", CREATE, "spec.rollout.mode", PGW_ERR_NOT_SUPPORTED, NULL},
    {"{'spec':{'rollout':{'mode':true}}}", CREATE, "spec.rollout.mode", PGW_ERR_INVALID, "must be of type string"},
    {"{'spec':{'rollout':'supervised'}}", CREATE, "spec.rollout", PGW_ERR_INVALID, "must be of type object"},
    /* spec.storage.onScaleDown: Retain|Delete */
    {"{'spec':{'storage':{'onScaleDown':'Retain'}}}", CREATE, NULL, 0, NULL},
    {"{'spec':{'storage':{'onScaleDown':'Delete'}}}", CREATE, NULL, 0, NULL},
    {"{'spec':{'storage':{'onScaleDown':'delete'}}}", CREATE, "spec.storage.onScaleDown", PGW_ERR_NOT_SUPPORTED,
     "supported values: \"Retain\", \"Delete\""},
    {"{'spec':{'storage':{'onScaleDown':'Keep'}}}", UPDATE, "spec.storage.onScaleDown", PGW_ERR_NOT_SUPPORTED, "\"Retain\""},
    {"{'spec':{'storage':{'onScaleDown':0}}}", CREATE, "spec.storage.onScaleDown", PGW_ERR_INVALID, "must be of type string"},
    /* switchover: to a replica of a running cluster with replicas */
    {SWITCHOVER("demo-1"), UPDATE, NULL, 0, NULL},
    {SWITCHOVER("demo-2"), UPDATE, NULL, 0, NULL},
    {SWITCHOVER("demo-3"), UPDATE, SO_PATH, PGW_ERR_INVALID, "no such instance: demo has instances demo-0 … demo-2"},
    {SWITCHOVER("other-1"), UPDATE, SO_PATH, PGW_ERR_INVALID, "no such instance"},
    {SWITCHOVER("demo-01"), UPDATE, SO_PATH, PGW_ERR_INVALID, "no such instance"},
    {SWITCHOVER("demo-"), UPDATE, SO_PATH, PGW_ERR_INVALID, "no such instance"},
    {SWITCHOVER("demo-x"), UPDATE, SO_PATH, PGW_ERR_INVALID, "no such instance"},
    {SWITCHOVER("demo"), UPDATE, SO_PATH, PGW_ERR_INVALID, "no such instance"},
    {SWITCHOVER("demo-0"), UPDATE, SO_PATH, PGW_ERR_INVALID, "demo-0 is already the primary"},
    {SWITCHOVER("demo-1"), CREATE, SO_PATH, PGW_ERR_FORBIDDEN, "a new cluster has no instances yet"},
    {"{'spec':{'instances':1},'metadata':{'annotations':{'pgwarden.io/switchover':'demo-0'}}}", "{'spec':{'instances':1}}", SO_PATH,
     PGW_ERR_FORBIDDEN, "a single instance has no replica to switch over to"},
    {"{'spec':{'instances':1},'metadata':{'annotations':{'pgwarden.io/switchover':'demo-1'}}}", UPDATE, SO_PATH, PGW_ERR_FORBIDDEN,
     "a single instance has no replica"},
    /* the new instance count counts: scaling to 2 while asking for demo-2 */
    {"{'spec':{'instances':2},'metadata':{'annotations':{'pgwarden.io/switchover':'demo-2'}}}", UPDATE, SO_PATH, PGW_ERR_INVALID,
     "demo has instances demo-0 … demo-1"},
    /* a request already pending is not judged again (the controller owns it) ... */
    {"{'spec':{'instances':2},'metadata':{'annotations':{'pgwarden.io/switchover':'demo-2'}}}", SWITCHOVER("demo-2"), NULL, 0,
     NULL},
    {"{'spec':{'pooler':{'enabled':false}}," SO_ANNOTATION("demo-0") "}", SWITCHOVER("demo-0"), NULL, 0, NULL},
    /* ... but a changed one is */
    {SWITCHOVER("demo-0"), SWITCHOVER("demo-1"), SO_PATH, PGW_ERR_INVALID, "demo-0 is already the primary"},
    {SWITCHOVER("demo-2"), SWITCHOVER("demo-1"), NULL, 0, NULL},
    {"{'metadata':{'annotations':{'pgwarden.io/switchover':1}}}", UPDATE, SO_PATH, PGW_ERR_INVALID, "must be of type string"},
    /* restart: all, or one instance */
    {RESTART("all"), UPDATE, NULL, 0, NULL},
    {RESTART("all"), CREATE, NULL, 0, NULL},
    {RESTART("demo-0"), UPDATE, NULL, 0, NULL},
    {RESTART("demo-2"), UPDATE, NULL, 0, NULL},
    {"{'spec':{'instances':1},'metadata':{'annotations':{'pgwarden.io/restart':'demo-0'}}}", "{'spec':{'instances':1}}", NULL, 0,
     NULL},
    {RESTART("demo-3"), UPDATE, RS_PATH, PGW_ERR_INVALID, "no such instance: demo has instances demo-0 … demo-2"},
    {"{'spec':{'instances':1},'metadata':{'annotations':{'pgwarden.io/restart':'demo-1'}}}", "{'spec':{'instances':1}}", RS_PATH,
     PGW_ERR_INVALID, "no such instance: demo has one instance, demo-0"},
    {RESTART("ALL"), UPDATE, RS_PATH, PGW_ERR_INVALID, "must be \"all\" or the name of one instance"},
    {RESTART("other-0"), UPDATE, RS_PATH, PGW_ERR_INVALID, "must be \"all\" or the name of one instance"},
    {RESTART(""), UPDATE, RS_PATH, PGW_ERR_INVALID, "must be \"all\""},
    {RESTART("demo-3"), RESTART("demo-3"), NULL, 0, NULL},
    /* other annotations are none of our business */
    {"{'metadata':{'annotations':{'example.com/switchover':'x'}}}", UPDATE, NULL, 0, NULL},
};

START_TEST(test_rule)
{
    json_t *obj = defaulted(rows[_i].patch, rows[_i].old ? "UPDATE" : "CREATE");
    json_t *old = rows[_i].old ? stored(rows[_i].old[0] ? rows[_i].old : NULL) : NULL;
    struct pgw_errors errs;
    admit(obj, old, &errs);
    char *text = errors_text(&errs);
    if (rows[_i].path == NULL)
        ck_assert_msg(errs.count == 0, "row %d (%s): expected no error, got:%s", _i, rows[_i].patch, text);
    else
        ck_assert_msg(errs.count == 1 && has_error(&errs, rows[_i].path, rows[_i].type, rows[_i].detail),
                      "row %d (%s): expected only %s %s \"%s\", got:%s", _i, rows[_i].patch, rows[_i].path,
                      pgw_error_type_string(rows[_i].type), rows[_i].detail ? rows[_i].detail : "", text);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(old);
    json_decref(obj);
}
END_TEST

/* ---- warnings ---- */

static const struct {
    const char *patch;
    const char *old;     /* NULL: CREATE */
    const char *warning; /* must be present */
    const char *absent;  /* must be absent */
} warning_rows[] = {
    {"{'spec':{'instances':2}}", UPDATE, "scaling down from 3 to 2 removes the highest ordinal, demo-2", NULL},
    {"{'spec':{'instances':2}}", UPDATE, "when the primary is among the removed instances it is switched over first", NULL},
    {"{'spec':{'instances':2}}", UPDATE, "onScaleDown is Retain: the volume claims of the removed instances are kept", "Delete"},
    {"{'spec':{'instances':2,'storage':{'onScaleDown':'Delete'}}}", "{'spec':{'storage':{'onScaleDown':'Delete'}}}",
     "onScaleDown is Delete: the volume claims of the removed instances are deleted", "kept"},
    {"{'spec':{'instances':2}}", "{'spec':{'instances':5}}", "from 5 to 2 removes the highest ordinals, demo-2 to demo-4", NULL},
    {"{'spec':{'instances':1}}", UPDATE, "removes the highest ordinals, demo-1 to demo-2", NULL},
    {"{'spec':{'instances':4}}", UPDATE, NULL, "scaling down"},
    {"{'spec':{'instances':3}}", UPDATE, NULL, "onScaleDown"},
    {"{'spec':{'instances':2}}", CREATE, NULL, "scaling down"},
    /* the new fields are known; a misspelt one is not */
    {"{'spec':{'rollout':{'mode':'supervised'},'storage':{'onScaleDown':'Delete'}}}", CREATE, NULL, "unknown field"},
    {"{'spec':{'rollout':{'mod':'supervised'}}}", CREATE, "unknown field \"spec.rollout.mod\"", NULL},
    {"{'spec':{'storage':{'onScaledown':'Delete'}}}", CREATE, "unknown field \"spec.storage.onScaledown\"", NULL},
};

START_TEST(test_warning)
{
    json_t *obj = defaulted(warning_rows[_i].patch, warning_rows[_i].old ? "UPDATE" : "CREATE");
    json_t *old = warning_rows[_i].old ? stored(warning_rows[_i].old[0] ? warning_rows[_i].old : NULL) : NULL;
    struct pgw_errors errs;
    admit(obj, old, &errs);
    char *text = errors_text(&errs);
    ck_assert_msg(errs.count == 0, "row %d: unexpected errors:%s", _i, text);
    if (warning_rows[_i].warning)
        ck_assert_msg(has_warning(&errs, warning_rows[_i].warning), "row %d: missing warning %s", _i, warning_rows[_i].warning);
    if (warning_rows[_i].absent)
        ck_assert_msg(!has_warning(&errs, warning_rows[_i].absent), "row %d: unexpected warning %s", _i, warning_rows[_i].absent);
    for (size_t i = 0; i != errs.warning_count; ++i)
        ck_assert_msg(strlen(errs.warnings[i]) <= 120, "warning over 120 characters: %s", errs.warnings[i]);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(old);
    json_decref(obj);
}
END_TEST

/* The storage of a backup repository volume or a restore has no onScaleDown. */
START_TEST(test_on_scale_down_only_on_cluster_storage)
{
    json_t *obj = defaulted("{'spec':{'backup':{'repository':{'volume':{'size':'1Gi','onScaleDown':'Retain'}}}}}", "CREATE");
    struct pgw_errors errs;
    admit(obj, NULL, &errs);
    ck_assert(has_warning(&errs, "unknown field \"spec.backup.repository.volume.onScaleDown\""));
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

/* ---- admission judges the annotations, the guard never does ---- */

/* A running 3-instance cluster that was scaled down to 2 with a switchover to demo-2 still pending. */
static json_t *stale_request(void)
{
    json_t *obj = defaulted("{'spec':{'instances':2}," SO_ANNOTATION("demo-2") "}", "UPDATE");
    json_object_set_new(obj, "status", q("{'phase':'Running','primary':'demo-0'}"));
    return obj;
}

START_TEST(test_guard_ignores_annotations)
{
    ck_assert_ptr_eq(pgw_guard_postgrescluster.request_validator, pgw_validate_postgrescluster_request);
    json_t *obj = stale_request(), *defaulted_copy = NULL;
    char *invalid = pgw_guard_check(&pgw_guard_postgrescluster, obj, NULL, &defaulted_copy);
    ck_assert_msg(invalid == NULL, "the guard refused the cluster: %s", invalid);
    ck_assert_ptr_nonnull(defaulted_copy);
    json_decref(defaulted_copy);
    /* nor for a restart of a removed instance, or a switchover to the primary */
    json_t *anns = json_object_get(json_object_get(obj, "metadata"), "annotations");
    json_object_set_new(anns, "pgwarden.io/restart", json_string("demo-7"));
    json_object_set_new(anns, "pgwarden.io/switchover", json_string("demo-0"));
    invalid = pgw_guard_check(&pgw_guard_postgrescluster, obj, NULL, &defaulted_copy);
    ck_assert_msg(invalid == NULL, "the guard refused the cluster: %s", invalid);
    json_decref(defaulted_copy);
    json_decref(obj);
}
END_TEST

/* The same object sent to the validating webhook as the request that adds the annotation. */
static struct pgw_admission_outcome review(const json_t *obj, const json_t *old)
{
    json_t *request =
        json_pack("{s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},s:s,s:s,s:s,s:O,s:O}", "uid", "u-1", "kind", "group", "pgwarden.io",
                  "version", "v1", "kind", "PostgresCluster", "resource", "group", "pgwarden.io", "version", "v1", "resource",
                  "postgresclusters", "name", "demo", "namespace", "shop", "operation", "UPDATE", "object", obj, "oldObject", old);
    json_t *body = json_pack("{s:s,s:s,s:o}", "apiVersion", "admission.k8s.io/v1", "kind", "AdmissionReview", "request", request);
    ck_assert_ptr_nonnull(body);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const pgw_admission_route_t *route = pgw_admission_route_find("/validate/postgresclusters", 26);
    ck_assert_ptr_nonnull(route);
    struct pgw_admission_outcome out;
    pgw_admission_handle(route, text, strlen(text), NULL, 1700000000, &out);
    free(text);
    ck_assert_int_eq(out.http_status, 200);
    return out;
}

START_TEST(test_admission_denies_what_the_guard_passes)
{
    json_t *obj = stale_request(), *old = stored(NULL);
    struct pgw_admission_outcome out = review(obj, old);
    ck_assert_msg(!out.allowed, "admitted: %.*s", (int)out.body_len, out.body);
    ck_assert_msg(strstr(out.body, "metadata.annotations[pgwarden.io/switchover]") != NULL &&
                      strstr(out.body, "no such instance: demo has instances demo-0") != NULL,
                  "%.*s", (int)out.body_len, out.body);
    free(out.body);
    /* the same object with a valid target is admitted */
    json_object_set_new(json_object_get(json_object_get(obj, "metadata"), "annotations"), "pgwarden.io/switchover",
                        json_string("demo-1"));
    out = review(obj, old);
    ck_assert_msg(out.allowed, "denied: %.*s", (int)out.body_len, out.body);
    free(out.body);
    json_decref(old);
    json_decref(obj);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("operations_validation");
    TCase *tc = tcase_create("defaults");
    tcase_add_loop_test(tc, test_defaults, 0, sizeof(default_rows) / sizeof(default_rows[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_rule, 0, sizeof(rows) / sizeof(rows[0]));
    tcase_add_loop_test(tc, test_warning, 0, sizeof(warning_rows) / sizeof(warning_rows[0]));
    tcase_add_test(tc, test_on_scale_down_only_on_cluster_storage);
    suite_add_tcase(s, tc);
    tc = tcase_create("guard");
    tcase_add_test(tc, test_guard_ignores_annotations);
    tcase_add_test(tc, test_admission_denies_what_the_guard_passes);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
