/*
 * Tests for the AdmissionReview v1 pipeline (webhook/admission.c, routes.c).
 *
 * The pipeline takes its route as a parameter, so these tests define their own
 * routes with small mutators and validators that record what they were given
 * and produce mutations, errors and warnings on demand. The real route table
 * is checked separately (paths, kinds, lookups).
 */
#include "helpers.h"
#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_arena.h"
#include "common/jsonpatch.h"
#include "webhook/admission.h"

/* ---- test routes ---- */

static struct {
    int calls;
    int object_null, old_null;
    char operation[16], namespace[64], name[64];
    int dry_run;
    time_t now;
} seen;

static void record(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx)
{
    ++seen.calls;
    seen.object_null = object == NULL;
    seen.old_null = old_object == NULL;
    snprintf(seen.operation, sizeof(seen.operation), "%s", ctx->operation);
    snprintf(seen.namespace, sizeof(seen.namespace), "%s", ctx->namespace);
    snprintf(seen.name, sizeof(seen.name), "%s", ctx->name);
    seen.dry_run = ctx->dry_run;
    seen.now = ctx->now;
}

/* Defaults spec.instances to 1 and adds a label whose key needs escaping. */
static void mutate_defaults(json_t *object, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    record(object, NULL, ctx);
    json_t *spec = json_object_get(object, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(object, "spec", spec);
    }
    if (json_object_get(spec, "instances") == NULL)
        json_object_set_new(spec, "instances", json_integer(1));
    json_t *meta = json_object_get(object, "metadata");
    json_t *labels = json_object_get(meta, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(meta, "labels", labels);
    }
    json_object_set_new(labels, "pgwarden.io/cluster", json_string("x"));
    json_t *echo = json_object_get(spec, "echo");
    if (echo != NULL)
        json_object_set(object, "echoed", echo);
    pgw_errors_warn(errs, "defaulted");
}

static void mutate_nothing(json_t *object, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    record(object, NULL, ctx);
}

/* A mutator that edits and then fails: the edit must not leak out as a patch. */
static void mutate_fails(json_t *object, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    record(object, NULL, ctx);
    json_object_set_new(object, "spec", json_string("edited"));
    pgw_errors_add(errs, PGW_ERR_INVALID, "spec", NULL, "cannot be defaulted");
}

/* Errors depend on spec.instances: 0 → two errors (one repeated), -1 → one error, else none. */
static void validate_instances(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                               struct pgw_errors *errs)
{
    record(object, old_object, ctx);
    const json_t *subject = object != NULL ? object : old_object;
    json_t *instances = json_object_get(json_object_get(subject, "spec"), "instances");
    if (json_is_integer(instances) && json_integer_value(instances) == 0) {
        pgw_errors_add(errs, PGW_ERR_INVALID, "spec.instances", instances, "must be between 1 and 16");
        pgw_errors_add(errs, PGW_ERR_REQUIRED, "spec.storage.size", NULL, NULL);
        pgw_errors_add(errs, PGW_ERR_INVALID, "spec.instances", instances, "must be between 1 and 16");
    } else if (json_is_integer(instances) && json_integer_value(instances) == -1) {
        pgw_errors_add(errs, PGW_ERR_INVALID, "spec.instances", instances, "must be between 1 and 16");
    }
    json_t *warn = json_object_get(json_object_get(subject, "spec"), "warn");
    size_t i;
    json_t *w;
    json_array_foreach(warn, i, w) pgw_errors_warn(errs, "%s", json_string_value(w));
}

static const struct pgw_guard_kind defaults_kind = {
    .group = "pgwarden.io", .kind = "PostgresCluster", .defaulter = mutate_defaults};
static const struct pgw_guard_kind nothing_kind = {.group = "pgwarden.io", .kind = "PostgresCluster", .defaulter = mutate_nothing};
static const struct pgw_guard_kind fails_kind = {.group = "pgwarden.io", .kind = "PostgresCluster", .defaulter = mutate_fails};
static const struct pgw_guard_kind instances_kind = {
    .group = "pgwarden.io", .kind = "PostgresCluster", .validator = validate_instances};
static const struct pgw_guard_kind pod_instances_kind = {.group = "", .kind = "Pod", .validator = validate_instances};

static const pgw_admission_route_t mutate_route = {"/mutate/postgresclusters", "postgresclusters", &defaults_kind,
                                                   PGW_ROUTE_DEFAULT};
static const pgw_admission_route_t noop_route = {"/mutate/postgresclusters", "postgresclusters", &nothing_kind, PGW_ROUTE_DEFAULT};
static const pgw_admission_route_t failing_route = {"/mutate/postgresclusters", "postgresclusters", &fails_kind, PGW_ROUTE_DEFAULT};
static const pgw_admission_route_t validate_route = {"/validate/postgresclusters", "postgresclusters", &instances_kind,
                                                     PGW_ROUTE_VALIDATE};
static const pgw_admission_route_t pod_route = {"/validate/pods", "pods", &pod_instances_kind, PGW_ROUTE_VALIDATE};

/* ---- helpers ---- */

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    ck_assert_msg(v != NULL, "bad JSON %s: %s", text, err.text);
    return v;
}

/* Runs the pipeline; returns the parsed body (caller decrefs). */
static json_t *run(const pgw_admission_route_t *route, const char *body, struct pgw_admission_outcome *out)
{
    memset(&seen, 0, sizeof(seen));
    pgw_admission_handle(route, body, strlen(body), NULL, 1700000000, out);
    ck_assert_ptr_nonnull(out->body);
    ck_assert_uint_eq(out->body_len, strlen(out->body));
    json_t *doc = parse(out->body);
    free(out->body);
    out->body = NULL;
    return doc;
}

static const char *const cluster_x =
    "{\"apiVersion\":\"pgwarden.io/v1\",\"kind\":\"PostgresCluster\",\"metadata\":{\"name\":\"x\",\"namespace\":\"db\"},"
    "\"spec\":{\"instances\":%s,\"warn\":%s}}";

/* A CREATE review of PostgresCluster x with the given spec.instances and spec.warn (JSON texts). */
static char *cluster_review(const char *uid, const char *operation, const char *instances, const char *warn)
{
    char object[1024];
    snprintf(object, sizeof(object), cluster_x, instances, warn);
    int deleting = strcmp(operation, "DELETE") == 0, updating = strcmp(operation, "UPDATE") == 0;
    char *s = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&s, &n);
    fprintf(fp,
            "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"%s\","
            "\"kind\":{\"group\":\"pgwarden.io\",\"version\":\"v1\",\"kind\":\"PostgresCluster\"},"
            "\"resource\":{\"group\":\"pgwarden.io\",\"version\":\"v1\",\"resource\":\"postgresclusters\"},"
            "\"name\":\"x\",\"namespace\":\"db\",\"operation\":\"%s\",\"dryRun\":true",
            uid, operation);
    if (!deleting)
        fprintf(fp, ",\"object\":%s", object);
    if (deleting || updating)
        fprintf(fp, ",\"oldObject\":%s", object);
    fprintf(fp, "}}");
    fclose(fp);
    return s;
}

static json_t *decode_patch(const char *b64)
{
    size_t len = strlen(b64);
    unsigned char *raw = malloc(len + 1);
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
    ck_assert_int_ge(n, 0);
    while (len > 0 && b64[len - 1] == '=') { /* EVP_DecodeBlock counts padding as zero bytes */
        --len;
        --n;
    }
    json_error_t err;
    json_t *patch = json_loadb((const char *)raw, (size_t)n, 0, &err);
    ck_assert_msg(patch != NULL, "patch is not JSON: %s", err.text);
    free(raw);
    return patch;
}

static void assert_bad_request(const json_t *doc, const struct pgw_admission_outcome *out, const char *msg_part)
{
    ck_assert_int_eq(out->http_status, 400);
    ck_assert_int_eq(out->allowed, 0);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "Status");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "apiVersion")), "v1");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "Failure");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "reason")), "BadRequest");
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "code")), 400);
    const char *msg = json_string_value(json_object_get(doc, "message"));
    ck_assert_msg(msg != NULL && strstr(msg, msg_part) != NULL, "message \"%s\" lacks \"%s\"", msg ? msg : "", msg_part);
}

/* ---- undecodable reviews: HTTP 400 with a metav1.Status ---- */

static const struct {
    const char *body, *message_part;
} undecodable[] = {
    {"", "empty request body"},
    {"{", "malformed JSON at line 1"},
    {"{\"a\":1,\"a\":2}", "malformed JSON"},
    {"\xff\xfe", "malformed JSON"},
    {"[]", "must be a JSON object"},
    {"\"AdmissionReview\"", "must be a JSON object"},
    {"42", "must be a JSON object"},
    {"{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\"}}",
     "expected apiVersion admission.k8s.io/v1"},
    {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Status\",\"request\":{\"uid\":\"u\"}}", "kind AdmissionReview"},
    {"{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\"}}", "expected apiVersion"},
    {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", "has no request"},
    {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":[]}", "has no request"},
    {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{}}", "has no uid"},
    {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"\"}}", "has no uid"},
    {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":7}}", "has no uid"},
};

START_TEST(test_undecodable_reviews)
{
    struct pgw_admission_outcome out;
    json_t *doc = run(&validate_route, undecodable[_i].body, &out);
    assert_bad_request(doc, &out, undecodable[_i].message_part);
    ck_assert_str_eq(out.uid, "");
    ck_assert_int_eq(seen.calls, 0);
    json_decref(doc);
}
END_TEST

/* ---- answerable but wrong: HTTP 200, allowed:false, code 400 ---- */

static const struct {
    const char *request_members, *message_part;
} wrong[] = {
    {"\"operation\":\"PATCH\",\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"},\"object\":{}",
     "request.operation must be"},
    {"\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"},\"object\":{}", "request.operation must be"},
    {"\"operation\":\"CREATE\",\"kind\":{\"group\":\"\",\"kind\":\"Pod\"},\"object\":{}",
     "/validate/postgresclusters serves PostgresCluster.pgwarden.io objects, not Pod"},
    {"\"operation\":\"CREATE\",\"kind\":{\"group\":\"other.io\",\"kind\":\"PostgresCluster\"},\"object\":{}",
     "not PostgresCluster.other.io"},
    {"\"operation\":\"CREATE\",\"object\":{}", "serves PostgresCluster.pgwarden.io objects"},
    {"\"operation\":\"CREATE\",\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"}",
     "request.object must be a PostgresCluster object"},
    {"\"operation\":\"CREATE\",\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"},\"object\":[1]",
     "request.object must be"},
    {"\"operation\":\"UPDATE\",\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"},\"object\":{}",
     "request.object must be"},
    {"\"operation\":\"DELETE\",\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"},\"object\":{}",
     "request.oldObject must be"},
    {"\"operation\":\"CREATE\",\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"},"
     "\"object\":{\"apiVersion\":\"pgwarden.io/v1\",\"kind\":\"PostgresBackup\"}",
     "object is a PostgresBackup (pgwarden.io/v1), but /validate/postgresclusters serves PostgresCluster"},
    {"\"operation\":\"CREATE\",\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"},"
     "\"object\":{\"apiVersion\":\"v1\",\"kind\":\"PostgresCluster\"}",
     "object is a PostgresCluster (v1)"},
};

START_TEST(test_wrong_requests_are_denied_with_400)
{
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u-%d\",%s}}", _i,
             wrong[_i].request_members);
    struct pgw_admission_outcome out;
    json_t *doc = run(&validate_route, body, &out);
    ck_assert_int_eq(out.http_status, 200);
    ck_assert_int_eq(out.allowed, 0);
    char uid[16];
    snprintf(uid, sizeof(uid), "u-%d", _i);
    ck_assert_str_eq(out.uid, uid);
    json_t *response = json_object_get(doc, "response");
    ck_assert_str_eq(json_string_value(json_object_get(response, "uid")), uid);
    ck_assert(json_is_false(json_object_get(response, "allowed")));
    json_t *status = json_object_get(response, "status");
    ck_assert_int_eq(json_integer_value(json_object_get(status, "code")), 400);
    ck_assert_str_eq(json_string_value(json_object_get(status, "reason")), "BadRequest");
    const char *msg = json_string_value(json_object_get(status, "message"));
    ck_assert_msg(msg != NULL && strstr(msg, wrong[_i].message_part) != NULL, "message \"%s\" lacks \"%s\"", msg ? msg : "",
                  wrong[_i].message_part);
    ck_assert_ptr_null(json_object_get(response, "patch"));
    ck_assert_int_eq(seen.calls, 0);
    json_decref(doc);
}
END_TEST

/* ---- allowed reviews ---- */

START_TEST(test_allowed_echoes_uid_and_version)
{
    char *body = cluster_review("7f0c-uid", "CREATE", "3", "[]");
    struct pgw_admission_outcome out;
    json_t *doc = run(&validate_route, body, &out);
    ck_assert_int_eq(out.http_status, 200);
    ck_assert_int_eq(out.allowed, 1);
    ck_assert_str_eq(out.uid, "7f0c-uid");
    ck_assert_str_eq(out.operation, "CREATE");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "apiVersion")), "admission.k8s.io/v1");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "AdmissionReview");
    json_t *response = json_object_get(doc, "response");
    ck_assert_str_eq(json_string_value(json_object_get(response, "uid")), "7f0c-uid");
    ck_assert(json_is_true(json_object_get(response, "allowed")));
    ck_assert_ptr_null(json_object_get(response, "status"));
    ck_assert_ptr_null(json_object_get(response, "patch"));
    ck_assert_ptr_null(json_object_get(response, "patchType"));
    ck_assert_ptr_null(json_object_get(response, "warnings"));
    ck_assert_ptr_null(json_object_get(doc, "request"));
    /* The validator saw the request context. */
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_str_eq(seen.operation, "CREATE");
    ck_assert_str_eq(seen.namespace, "db");
    ck_assert_str_eq(seen.name, "x");
    ck_assert_int_eq(seen.dry_run, 1);
    ck_assert_int_eq((long)seen.now, 1700000000L);
    ck_assert(!seen.object_null && seen.old_null);
    json_decref(doc);
    free(body);
}
END_TEST

static const struct {
    const char *operation;
    int object_null, old_null;
} operations[] = {{"CREATE", 0, 1}, {"UPDATE", 0, 0}, {"DELETE", 1, 0}};

START_TEST(test_validator_sees_object_and_old_object)
{
    char *body = cluster_review("u", operations[_i].operation, "2", "[]");
    struct pgw_admission_outcome out;
    json_t *doc = run(&validate_route, body, &out);
    ck_assert_int_eq(out.allowed, 1);
    ck_assert_str_eq(out.operation, operations[_i].operation);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_int_eq(seen.object_null, operations[_i].object_null);
    ck_assert_int_eq(seen.old_null, operations[_i].old_null);
    json_decref(doc);
    free(body);
}
END_TEST

/* The name comes from request.name, else from the object (generateName leaves both empty). */
START_TEST(test_name_from_object)
{
    const char *body = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\","
                       "\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"},\"operation\":\"CREATE\","
                       "\"object\":{\"metadata\":{\"name\":\"from-object\"},\"spec\":{\"instances\":-1}}}}";
    struct pgw_admission_outcome out;
    json_t *doc = run(&validate_route, body, &out);
    ck_assert_str_eq(seen.name, "from-object");
    ck_assert_str_eq(seen.namespace, "");
    ck_assert_int_eq(seen.dry_run, 0);
    json_t *status = json_object_get(json_object_get(doc, "response"), "status");
    ck_assert_str_eq(json_string_value(json_object_get(status, "message")),
                     "PostgresCluster.pgwarden.io \"from-object\" is invalid: "
                     "spec.instances: Invalid value: -1: must be between 1 and 16");
    json_decref(doc);
}
END_TEST

/* ---- denials ---- */

START_TEST(test_denial_is_a_kubernetes_invalid_error)
{
    char *body = cluster_review("deny-1", "CREATE", "0", "[]");
    struct pgw_admission_outcome out;
    json_t *doc = run(&validate_route, body, &out);
    ck_assert_int_eq(out.http_status, 200);
    ck_assert_int_eq(out.allowed, 0);
    json_t *response = json_object_get(doc, "response");
    ck_assert_str_eq(json_string_value(json_object_get(response, "uid")), "deny-1");
    ck_assert(json_is_false(json_object_get(response, "allowed")));
    ck_assert_ptr_null(json_object_get(response, "patch"));
    json_t *status = json_object_get(response, "status");
    ck_assert_int_eq(json_integer_value(json_object_get(status, "code")), 422);
    ck_assert_str_eq(json_string_value(json_object_get(status, "reason")), "Invalid");
    ck_assert_str_eq(json_string_value(json_object_get(status, "status")), "Failure");
    /* As apimachinery's NewInvalid: every error in causes, each distinct one once in the message. */
    ck_assert_str_eq(json_string_value(json_object_get(status, "message")),
                     "PostgresCluster.pgwarden.io \"x\" is invalid: [spec.instances: Invalid value: 0: must be between "
                     "1 and 16, spec.storage.size: Required value]");
    json_t *details = json_object_get(status, "details");
    ck_assert_str_eq(json_string_value(json_object_get(details, "name")), "x");
    ck_assert_str_eq(json_string_value(json_object_get(details, "group")), "pgwarden.io");
    ck_assert_str_eq(json_string_value(json_object_get(details, "kind")), "PostgresCluster");
    json_t *want = parse("[{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid value: 0: must be between 1 and 16\","
                         "\"field\":\"spec.instances\"},"
                         "{\"reason\":\"FieldValueRequired\",\"message\":\"Required value\",\"field\":\"spec.storage.size\"},"
                         "{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid value: 0: must be between 1 and 16\","
                         "\"field\":\"spec.instances\"}]");
    ck_assert(json_equal(json_object_get(details, "causes"), want));
    json_decref(want);
    json_decref(doc);
    free(body);
}
END_TEST

START_TEST(test_denial_of_core_kind_has_no_group)
{
    const char *body = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"p\","
                       "\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},\"operation\":\"CREATE\",\"name\":\"db-0\","
                       "\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"instances\":-1}}}}";
    struct pgw_admission_outcome out;
    json_t *doc = run(&pod_route, body, &out);
    json_t *status = json_object_get(json_object_get(doc, "response"), "status");
    ck_assert_str_eq(json_string_value(json_object_get(status, "message")),
                     "Pod \"db-0\" is invalid: spec.instances: Invalid value: -1: must be between 1 and 16");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(status, "details"), "group")), "");
    json_decref(doc);
}
END_TEST

/* ---- mutations ---- */

START_TEST(test_mutation_patch_round_trips)
{
    const char *body = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"m\","
                       "\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"},\"operation\":\"CREATE\","
                       "\"object\":{\"apiVersion\":\"pgwarden.io/v1\",\"kind\":\"PostgresCluster\",\"metadata\":{\"name\":\"x\"},"
                       "\"spec\":{}}}}";
    struct pgw_admission_outcome out;
    json_t *doc = run(&mutate_route, body, &out);
    ck_assert_int_eq(out.allowed, 1);
    json_t *response = json_object_get(doc, "response");
    ck_assert(json_is_true(json_object_get(response, "allowed")));
    ck_assert_str_eq(json_string_value(json_object_get(response, "patchType")), "JSONPatch");
    json_t *patch = decode_patch(json_string_value(json_object_get(response, "patch")));
    json_t *want = parse("[{\"op\":\"add\",\"path\":\"/metadata/labels\",\"value\":{\"pgwarden.io/cluster\":\"x\"}},"
                         "{\"op\":\"add\",\"path\":\"/spec/instances\",\"value\":1}]");
    /* Order of the two operations follows the object's key order. */
    ck_assert_uint_eq(json_array_size(patch), 2);
    int same = json_equal(patch, want);
    if (!same) {
        json_t *swapped = json_array();
        json_array_append(swapped, json_array_get(want, 1));
        json_array_append(swapped, json_array_get(want, 0));
        same = json_equal(patch, swapped);
        json_decref(swapped);
    }
    char *ps = json_dumps(patch, JSON_COMPACT);
    ck_assert_msg(same, "patch %s", ps);
    free(ps);
    /* The mutator's warning is passed on. */
    json_t *warnings = json_object_get(response, "warnings");
    ck_assert_uint_eq(json_array_size(warnings), 1);
    ck_assert_str_eq(json_string_value(json_array_get(warnings, 0)), "defaulted");
    json_decref(want);
    json_decref(patch);
    json_decref(doc);
}
END_TEST

/* Patches of every length decode to exactly what the differ produces (base64 padding of 0, 1 and 2). */
START_TEST(test_patch_base64_sizes)
{
    for (int len = 0; len <= 40; ++len) {
        char echo[64];
        memset(echo, 'a', (size_t)len);
        echo[len] = '\0';
        char object[512], body[1024];
        snprintf(object, sizeof(object), "{\"metadata\":{\"labels\":{}},\"spec\":{\"instances\":2,\"echo\":\"%s\"}}", echo);
        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"m\","
                 "\"kind\":{\"group\":\"pgwarden.io\",\"kind\":\"PostgresCluster\"},\"operation\":\"UPDATE\","
                 "\"object\":%s,\"oldObject\":{}}}",
                 object);
        struct pgw_admission_outcome out;
        json_t *doc = run(&mutate_route, body, &out);
        json_t *patch = decode_patch(json_string_value(json_object_get(json_object_get(doc, "response"), "patch")));

        json_t *before = parse(object), *after = json_deep_copy(before);
        struct pgw_errors errs;
        pgw_errors_init(&errs);
        struct pgw_request_ctx ctx = {.operation = "UPDATE", .namespace = "", .name = ""};
        mutate_defaults(after, &ctx, &errs);
        json_t *want = pgw_jsonpatch_diff(before, after);
        ck_assert_uint_eq(json_array_size(want), 2);
        char *ps = json_dumps(patch, JSON_COMPACT);
        ck_assert_msg(json_equal(patch, want), "length %d: patch %s", len, ps);
        free(ps);
        pgw_errors_dispose(&errs);
        json_decref(want);
        json_decref(before);
        json_decref(after);
        json_decref(patch);
        json_decref(doc);
    }
}
END_TEST

START_TEST(test_no_patch_when_unchanged)
{
    char *body = cluster_review("n", "CREATE", "2", "[]");
    struct pgw_admission_outcome out;
    json_t *doc = run(&noop_route, body, &out);
    json_t *response = json_object_get(doc, "response");
    ck_assert(json_is_true(json_object_get(response, "allowed")));
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_ptr_null(json_object_get(response, "patch"));
    ck_assert_ptr_null(json_object_get(response, "patchType"));
    json_decref(doc);
    free(body);
}
END_TEST

/* Mutators do not run on DELETE: nothing to default. */
START_TEST(test_no_mutation_on_delete)
{
    char *body = cluster_review("d", "DELETE", "2", "[]");
    struct pgw_admission_outcome out;
    json_t *doc = run(&mutate_route, body, &out);
    json_t *response = json_object_get(doc, "response");
    ck_assert(json_is_true(json_object_get(response, "allowed")));
    ck_assert_int_eq(seen.calls, 0);
    ck_assert_ptr_null(json_object_get(response, "patch"));
    json_decref(doc);
    free(body);
}
END_TEST

START_TEST(test_failed_mutation_denies_without_patch)
{
    char *body = cluster_review("f", "CREATE", "2", "[]");
    struct pgw_admission_outcome out;
    json_t *doc = run(&failing_route, body, &out);
    json_t *response = json_object_get(doc, "response");
    ck_assert(json_is_false(json_object_get(response, "allowed")));
    ck_assert_ptr_null(json_object_get(response, "patch"));
    ck_assert_ptr_null(json_object_get(response, "patchType"));
    json_t *status = json_object_get(response, "status");
    ck_assert_int_eq(json_integer_value(json_object_get(status, "code")), 422);
    ck_assert_str_eq(json_string_value(json_object_get(status, "message")),
                     "PostgresCluster.pgwarden.io \"x\" is invalid: spec: Invalid value: null: cannot be defaulted");
    json_decref(doc);
    free(body);
}
END_TEST

/* ---- warnings: at most 120 bytes, never a split UTF-8 sequence ---- */

static char *repeat(const char *unit, size_t count)
{
    size_t n = strlen(unit);
    char *s = malloc(n * count + 1);
    for (size_t i = 0; i < count; ++i)
        memcpy(s + i * n, unit, n);
    s[n * count] = '\0';
    return s;
}

static const struct {
    const char *prefix, *unit;
    size_t count, want_bytes;
} warnings[] = {
    {"", "a", 10, 10},    {"", "a", 120, 120}, {"", "a", 121, 120}, {"", "a", 500, 120},
    {"", "é", 100, 120},  /* 2-byte sequences: 60 fit exactly */
    {"a", "é", 100, 119}, /* the 61st would straddle the limit */
    {"a", "€", 70, 118},  /* 3-byte: 1 + 39 * 3 */
    {"ab", "€", 70, 119}, {"", "😀", 40, 120},  {"a", "😀", 40, 117}, {"abc", "😀", 40, 119},
};

START_TEST(test_warning_truncation)
{
    char *tail = repeat(warnings[_i].unit, warnings[_i].count);
    char *w = malloc(strlen(warnings[_i].prefix) + strlen(tail) + 1);
    strcpy(w, warnings[_i].prefix);
    strcat(w, tail);
    json_t *warn = json_array();
    json_array_append_new(warn, json_string(w));
    json_array_append_new(warn, json_string("second"));
    char *warn_text = json_dumps(warn, JSON_COMPACT);
    char *body = cluster_review("w", "CREATE", "2", warn_text);

    struct pgw_admission_outcome out;
    json_t *doc = run(&validate_route, body, &out);
    json_t *got = json_object_get(json_object_get(doc, "response"), "warnings");
    ck_assert_uint_eq(json_array_size(got), 2);
    const char *first = json_string_value(json_array_get(got, 0));
    ck_assert_ptr_nonnull(first); /* parsed, so valid UTF-8 */
    ck_assert_uint_eq(strlen(first), warnings[_i].want_bytes);
    ck_assert_uint_le(strlen(first), PGW_MAX_WARNING_LEN);
    ck_assert(strncmp(first, w, strlen(first)) == 0);
    ck_assert_str_eq(json_string_value(json_array_get(got, 1)), "second");

    json_decref(doc);
    free(body);
    free(warn_text);
    json_decref(warn);
    free(w);
    free(tail);
}
END_TEST

/* ---- the real route table ---- */

START_TEST(test_route_table)
{
    static const struct {
        const char *path, *group, *kind;
        int mutating;
    } want[] = {
        {"/mutate/pods", "", "Pod", 1},
        {"/mutate/postgresclusters", "pgwarden.io", "PostgresCluster", 1},
        {"/mutate/postgresbackups", "pgwarden.io", "PostgresBackup", 1},
        {"/mutate/postgresrestores", "pgwarden.io", "PostgresRestore", 1},
        {"/validate/postgresclusters", "pgwarden.io", "PostgresCluster", 0},
        {"/validate/postgresbackups", "pgwarden.io", "PostgresBackup", 0},
        {"/validate/postgresrestores", "pgwarden.io", "PostgresRestore", 0},
    };
    ck_assert_uint_eq(pgw_admission_route_count(), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); ++i) {
        const pgw_admission_route_t *r = pgw_admission_route_find(want[i].path, strlen(want[i].path));
        ck_assert_msg(r != NULL, "%s missing", want[i].path);
        ck_assert_str_eq(r->guard->group, want[i].group);
        ck_assert_str_eq(r->guard->kind, want[i].kind);
        ck_assert_int_eq(r->step == PGW_ROUTE_DEFAULT, want[i].mutating);
        ck_assert_int_eq(r->step == PGW_ROUTE_VALIDATE, !want[i].mutating); /* exactly one */
        /* the step a route runs exists on its guard kind */
        ck_assert_ptr_nonnull(want[i].mutating ? (void *)r->guard->defaulter : (void *)r->guard->validator);
        ck_assert_uint_eq(pgw_admission_route_index(r), i);
    }
    const char *misses[] = {"/mutate/pod", "/mutate/podss", "/mutate/pods/", "/", "", "/validate/pods"};
    for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); ++i)
        ck_assert_ptr_null(pgw_admission_route_find(misses[i], strlen(misses[i])));
    /* Length, not NUL, ends the path. */
    ck_assert_ptr_nonnull(pgw_admission_route_find("/mutate/pods?timeout=5s", strlen("/mutate/pods")));
}
END_TEST

/* Validating routes never answer with a patch, on the real table either. */
START_TEST(test_validating_route_never_patches)
{
    const pgw_admission_route_t *r = pgw_admission_route_find("/validate/postgresclusters", 26);
    ck_assert_ptr_nonnull(r);
    char *body = cluster_review("v", "UPDATE", "2", "[]");
    struct pgw_admission_outcome out;
    json_t *doc = run(r, body, &out);
    json_t *response = json_object_get(doc, "response");
    ck_assert_int_eq(out.http_status, 200);
    ck_assert_ptr_nonnull(json_object_get(response, "allowed"));
    ck_assert_ptr_null(json_object_get(response, "patch"));
    ck_assert_ptr_null(json_object_get(response, "patchType"));
    json_decref(doc);
    free(body);
}
END_TEST

START_TEST(test_status_body)
{
    size_t len;
    char *s = pgw_admission_status_body(404, "NotFound", "no route for /x", &len);
    ck_assert_uint_eq(len, strlen(s));
    json_t *doc = parse(s);
    json_t *want = parse("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                         "\"message\":\"no route for /x\",\"reason\":\"NotFound\",\"code\":404}");
    ck_assert(json_equal(doc, want));
    json_decref(want);
    json_decref(doc);
    free(s);
}
END_TEST

static Suite *admission_suite(void)
{
    Suite *s = suite_create("admission");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_undecodable_reviews, 0, sizeof(undecodable) / sizeof(undecodable[0]));
    tcase_add_loop_test(tc, test_wrong_requests_are_denied_with_400, 0, sizeof(wrong) / sizeof(wrong[0]));
    tcase_add_test(tc, test_allowed_echoes_uid_and_version);
    tcase_add_loop_test(tc, test_validator_sees_object_and_old_object, 0, sizeof(operations) / sizeof(operations[0]));
    tcase_add_test(tc, test_name_from_object);
    tcase_add_test(tc, test_denial_is_a_kubernetes_invalid_error);
    tcase_add_test(tc, test_denial_of_core_kind_has_no_group);
    tcase_add_test(tc, test_mutation_patch_round_trips);
    tcase_add_test(tc, test_patch_base64_sizes);
    tcase_add_test(tc, test_no_patch_when_unchanged);
    tcase_add_test(tc, test_no_mutation_on_delete);
    tcase_add_test(tc, test_failed_mutation_denies_without_patch);
    tcase_add_loop_test(tc, test_warning_truncation, 0, sizeof(warnings) / sizeof(warnings[0]));
    tcase_add_test(tc, test_route_table);
    tcase_add_test(tc, test_validating_route_never_patches);
    tcase_add_test(tc, test_status_body);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    pgw_json_arena_install(); /* as pgwarden does: reviews run in the arena */
    return pgw_run_suite(admission_suite());
}
