/*
 * The pod mutator (sidecar injection, DESIGN.md §5) on pod JSON: which
 * containers, volumes and annotations each sidecar subset adds; that a second
 * run changes nothing; that user containers, other injectors' containers and
 * foreign volumes stay verbatim; that non-database pods are untouched; and the
 * injection hash.
 */
#include "helpers.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/errors.h"
#include "common/json_pack.h"
#include "common/jsonpatch.h"
#include "common/request.h"
#include "common/xalloc.h"
#include "mutators/mutators.h"
#include "specs/inject.h"
#include "specs/pod_layout.h"

static struct pgw_config cfg;

static void setup(void)
{
    pgw_config_init_defaults(&cfg);
}

static void teardown(void)
{
    pgw_config_dispose(&cfg);
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    ck_assert_msg(v != NULL, "bad test JSON: %s: %s", err.text, text);
    return v;
}

/*
 * Mutates the pipeline's copy of `pod` (pgw_pod_copy_for_edit); returns it. Warnings land in
 * *errs (initialised here). Every case also checks the copy's contract: `pod` is unchanged, and
 * the result is what mutating a deep copy gives.
 */
static json_t *mutate(const json_t *pod, struct pgw_errors *errs)
{
    struct pgw_request_ctx ctx = {.operation = "CREATE", .namespace = "db", .name = "demo-0", .config = &cfg};
    json_t *before = json_deep_copy(pod), *deep = json_deep_copy(pod);
    json_t *copy = pgw_pod_copy_for_edit(pod);
    pgw_errors_init(errs);
    pgw_mutate_pod(copy, &ctx, errs);
    ck_assert_msg(json_equal(pod, before), "mutating the edit copy changed the original pod");
    struct pgw_errors deep_errs;
    pgw_errors_init(&deep_errs);
    pgw_mutate_pod(deep, &ctx, &deep_errs);
    ck_assert_msg(json_equal(copy, deep), "the edit copy mutated differently from a deep copy");
    pgw_errors_dispose(&deep_errs);
    json_decref(deep);
    json_decref(before);
    return copy;
}

/* Mutates twice and checks the second run is a no-op (also as an empty JSON patch). */
static json_t *mutate_idempotent(const json_t *pod, struct pgw_errors *errs)
{
    json_t *once = mutate(pod, errs);
    struct pgw_errors again_errs;
    json_t *twice = mutate(once, &again_errs);
    ck_assert_msg(json_equal(once, twice), "second mutation changed the pod");
    json_t *patch = pgw_jsonpatch_diff(once, twice);
    ck_assert_uint_eq(json_array_size(patch), 0);
    json_decref(patch);
    json_decref(twice);
    pgw_errors_dispose(&again_errs);
    return once;
}

static json_t *find_named(const json_t *array, const char *name)
{
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        const char *n = json_string_value(json_object_get(item, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return item;
    }
    return NULL;
}

/* "a,b,c" from the names in an array. malloc'd. */
static char *names_of(const json_t *array)
{
    char *out = pgw_strdup("");
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        char *next = pgw_asprintf("%s%s%s", out, i ? "," : "", json_string_value(json_object_get(item, "name")));
        free(out);
        out = next;
    }
    return out;
}

static const char *annotation(const json_t *pod, const char *key)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"), key));
}

static json_t *containers(const json_t *pod)
{
    return json_object_get(json_object_get(pod, "spec"), "containers");
}

static json_t *volumes(const json_t *pod)
{
    return json_object_get(json_object_get(pod, "spec"), "volumes");
}

static json_t *database_pod(const char *sidecars)
{
    json_t *pod = parse("{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
                        "\"metadata\":{\"name\":\"demo-0\",\"labels\":{\"pgwarden.io/cluster\":\"demo\"},\"annotations\":{}},"
                        "\"spec\":{\"containers\":[{\"name\":\"postgres\",\"image\":\"ghcr.io/pgwarden/postgres:18\"}],"
                        "\"volumes\":[{\"name\":\"pgdata\",\"persistentVolumeClaim\":{\"claimName\":\"pgdata-demo-0\"}}]}}");
    json_object_set_new(json_object_get(json_object_get(pod, "metadata"), "annotations"), PGW_POD_ANNOTATION_SIDECARS,
                        json_string(sidecars));
    return pod;
}

/* ---- each sidecar subset ------------------------------------------------ */

static const struct {
    const char *sidecars;
    const char *containers; /* names after mutation */
    const char *volumes;
    int prometheus; /* prometheus.io annotations expected */
    unsigned set;   /* what the stamp must be the hash of */
} subsets[] = {
    {"pooler", "postgres,pgbouncer", "pgdata,pgw-socket,pgw-pgbouncer", 0, PGW_INJECT_POOLER},
    {"metrics", "postgres,exporter", "pgdata,pgw-socket,pgw-exporter", 1, PGW_INJECT_METRICS},
    {"backup", "postgres,pgbackrest", "pgdata,pgw-socket,pgw-tmp,pgw-pgbackrest", 0, PGW_INJECT_BACKUP},
    {"pooler,metrics", "postgres,pgbouncer,exporter", "pgdata,pgw-socket,pgw-pgbouncer,pgw-exporter", 1,
     PGW_INJECT_POOLER | PGW_INJECT_METRICS},
    {"pooler,backup", "postgres,pgbouncer,pgbackrest", "pgdata,pgw-socket,pgw-pgbouncer,pgw-tmp,pgw-pgbackrest", 0,
     PGW_INJECT_POOLER | PGW_INJECT_BACKUP},
    {"metrics,backup", "postgres,exporter,pgbackrest", "pgdata,pgw-socket,pgw-exporter,pgw-tmp,pgw-pgbackrest", 1,
     PGW_INJECT_METRICS | PGW_INJECT_BACKUP},
    {"pooler,metrics,backup", "postgres,pgbouncer,exporter,pgbackrest",
     "pgdata,pgw-socket,pgw-pgbouncer,pgw-exporter,pgw-tmp,pgw-pgbackrest", 1, 7},
    /* order in the annotation does not matter, spaces and duplicates are tolerated */
    {" backup ,  pooler,pooler, ", "postgres,pgbouncer,pgbackrest", "pgdata,pgw-socket,pgw-pgbouncer,pgw-tmp,pgw-pgbackrest", 0,
     PGW_INJECT_POOLER | PGW_INJECT_BACKUP},
    {"backup,metrics,pooler", "postgres,pgbouncer,exporter,pgbackrest",
     "pgdata,pgw-socket,pgw-pgbouncer,pgw-exporter,pgw-tmp,pgw-pgbackrest", 1, 7},
    /* nothing enabled: nothing added, but the stamp still says the webhook saw the pod */
    {"", "postgres", "pgdata", 0, 0},
};

START_TEST(test_subsets)
{
    json_t *pod = database_pod(subsets[_i].sidecars);
    struct pgw_errors errs;
    json_t *out = mutate_idempotent(pod, &errs);
    ck_assert_uint_eq(errs.warning_count, 0);
    char *c = names_of(containers(out)), *v = names_of(volumes(out));
    ck_assert_str_eq(c, subsets[_i].containers);
    ck_assert_str_eq(v, subsets[_i].volumes);
    free(c);
    free(v);
    if (subsets[_i].prometheus) {
        ck_assert_str_eq(annotation(out, "prometheus.io/scrape"), "true");
        ck_assert_str_eq(annotation(out, "prometheus.io/port"), "9187");
        ck_assert_str_eq(annotation(out, "prometheus.io/path"), "/metrics");
    } else {
        ck_assert_ptr_null(annotation(out, "prometheus.io/scrape"));
    }
    char *hash = pgw_inject_expected_hash(subsets[_i].set, &cfg);
    ck_assert_str_eq(annotation(out, PGW_POD_ANNOTATION_INJECTED), hash);
    free(hash);
    /* the postgres container is never edited */
    ck_assert(json_equal(json_array_get(containers(out), 0), json_array_get(containers(pod), 0)));
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* ---- what each container looks like ------------------------------------- */

static const struct {
    const char *name;
    const char *port_name;
    int port;
    const char *mounts; /* "volume:path" joined by "," in order */
} shapes[] = {
    {"pgbouncer", "pgbouncer", 6432, "pgw-socket:/var/run/postgresql,pgw-pgbouncer:/etc/pgbouncer"},
    {"exporter", "metrics", 9187, "pgw-socket:/var/run/postgresql,pgw-exporter:/etc/postgres_exporter"},
    {"pgbackrest", "pgbackrest", 8432,
     "pgdata:/var/lib/postgresql/data,pgw-socket:/var/run/postgresql,pgw-tmp:/tmp,pgw-pgbackrest:/etc/pgbackrest"},
};

static char *mounts_of(const json_t *c)
{
    char *out = pgw_strdup("");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c, "volumeMounts"), i, m)
    {
        char *next = pgw_asprintf("%s%s%s:%s", out, i ? "," : "", json_string_value(json_object_get(m, "name")),
                                  json_string_value(json_object_get(m, "mountPath")));
        free(out);
        out = next;
    }
    return out;
}

START_TEST(test_container_shape)
{
    json_t *pod = database_pod("pooler,metrics,backup");
    struct pgw_errors errs;
    json_t *out = mutate(pod, &errs);
    const json_t *c = find_named(containers(out), shapes[_i].name);
    ck_assert_ptr_nonnull(c);
    const json_t *port = json_array_get(json_object_get(c, "ports"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(port, "name")), shapes[_i].port_name);
    ck_assert_int_eq(json_integer_value(json_object_get(port, "containerPort")), shapes[_i].port);
    ck_assert_uint_eq(json_array_size(json_object_get(c, "ports")), 1);
    char *m = mounts_of(c);
    ck_assert_str_eq(m, shapes[_i].mounts);
    free(m);
    /* probes on the named port */
    const char *probes[] = {"readinessProbe", "livenessProbe"};
    for (size_t p = 0; p != 2; ++p) {
        const json_t *probe = json_object_get(c, probes[p]);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(probe, "tcpSocket"), "port")), shapes[_i].port_name);
    }
    /* restricted security context */
    const json_t *sc = json_object_get(c, "securityContext");
    ck_assert(json_is_true(json_object_get(sc, "runAsNonRoot")));
    ck_assert(json_is_false(json_object_get(sc, "allowPrivilegeEscalation")));
    ck_assert(json_is_true(json_object_get(sc, "readOnlyRootFilesystem")));
    json_t *drop = json_object_get(json_object_get(sc, "capabilities"), "drop");
    ck_assert_uint_eq(json_array_size(drop), 1);
    ck_assert_str_eq(json_string_value(json_array_get(drop, 0)), "ALL");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(sc, "seccompProfile"), "type")), "RuntimeDefault");
    /* image and pull policy from the configuration */
    const struct pgw_sidecar_config *sidecar_cfg = _i == 0 ? &cfg.pgbouncer : _i == 1 ? &cfg.exporter : &cfg.pgbackrest;
    ck_assert_str_eq(json_string_value(json_object_get(c, "image")), sidecar_cfg->image);
    ck_assert_str_eq(json_string_value(json_object_get(c, "imagePullPolicy")), "IfNotPresent");
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* Every referenced volume exists, and volume mounts of read-only configuration are read-only. */
START_TEST(test_mounts_reference_volumes)
{
    json_t *pod = database_pod("pooler,metrics,backup");
    struct pgw_errors errs;
    json_t *out = mutate(pod, &errs);
    size_t i, j;
    json_t *c, *m;
    json_array_foreach(containers(out), i, c) json_array_foreach(json_object_get(c, "volumeMounts"), j, m)
    {
        const char *v = json_string_value(json_object_get(m, "name"));
        ck_assert_msg(find_named(volumes(out), v) != NULL, "mount of missing volume %s", v);
        if (strncmp(json_string_value(json_object_get(m, "mountPath")), "/etc/", 5) == 0)
            ck_assert(json_is_true(json_object_get(m, "readOnly")));
    }
    /* projections named by convention from the cluster label */
    json_t *pgb = json_object_get(json_object_get(find_named(volumes(out), "pgw-pgbouncer"), "projected"), "sources");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(pgb, 0), "configMap"), "name")),
                     "demo-pgbouncer");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(pgb, 1), "secret"), "name")),
                     "demo-pgbouncer");
    json_t *br = json_object_get(json_object_get(find_named(volumes(out), "pgw-pgbackrest"), "projected"), "sources");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(br, 0), "configMap"), "name")),
                     "demo-pgbackrest");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(br, 1), "secret"), "name")),
                     "demo-pgbackrest-tls");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(find_named(volumes(out), "pgw-exporter"), "secret"), "secretName")),
        "demo-exporter");
    ck_assert(json_is_object(json_object_get(find_named(volumes(out), "pgw-socket"), "emptyDir")));
    ck_assert(json_is_object(json_object_get(find_named(volumes(out), "pgw-tmp"), "emptyDir")));
    /* the exporter's password is a file, never a value in the spec */
    json_t *env = json_object_get(find_named(containers(out), "exporter"), "env");
    ck_assert_str_eq(json_string_value(json_object_get(find_named(env, "DATA_SOURCE_PASS_FILE"), "value")),
                     "/etc/postgres_exporter/password");
    ck_assert_ptr_null(find_named(env, "DATA_SOURCE_PASS"));
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* ---- resources from the configuration ----------------------------------- */

static const struct {
    const char *cpu_request, *cpu_limit, *memory_request, *memory_limit;
    const char *expected; /* compact JSON of resources */
} resource_rows[] = {
    {"50m", NULL, "32Mi", "128Mi", "{\"requests\": {\"cpu\": \"50m\", \"memory\": \"32Mi\"}, \"limits\": {\"memory\": \"128Mi\"}}"},
    {"100m", "1", "64Mi", "256Mi",
     "{\"requests\": {\"cpu\": \"100m\", \"memory\": \"64Mi\"}, \"limits\": {\"cpu\": \"1\", \"memory\": \"256Mi\"}}"},
    {NULL, NULL, NULL, NULL, "{}"},
    {NULL, "2", NULL, NULL, "{\"limits\": {\"cpu\": \"2\"}}"},
};

static void set(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? pgw_strdup(v) : NULL;
}

START_TEST(test_resources_from_config)
{
    struct pgw_sidecar_config *targets[] = {&cfg.pgbouncer, &cfg.exporter, &cfg.pgbackrest};
    const char *names[] = {"pgbouncer", "exporter", "pgbackrest"};
    for (size_t t = 0; t != 3; ++t) {
        set(&targets[t]->cpu_request, resource_rows[_i].cpu_request);
        set(&targets[t]->cpu_limit, resource_rows[_i].cpu_limit);
        set(&targets[t]->memory_request, resource_rows[_i].memory_request);
        set(&targets[t]->memory_limit, resource_rows[_i].memory_limit);
    }
    set(&cfg.image_pull_policy, "Always");
    set(&cfg.exporter.image, "registry.example/exporter:1.2.3");
    json_t *pod = database_pod("pooler,metrics,backup");
    struct pgw_errors errs;
    json_t *out = mutate(pod, &errs);
    json_t *expected = parse(resource_rows[_i].expected);
    for (size_t t = 0; t != 3; ++t) {
        const json_t *c = find_named(containers(out), names[t]);
        ck_assert_msg(json_equal(json_object_get(c, "resources"), expected), "%s resources (row %d)", names[t], _i);
        ck_assert_str_eq(json_string_value(json_object_get(c, "imagePullPolicy")), "Always");
    }
    ck_assert_str_eq(json_string_value(json_object_get(find_named(containers(out), "exporter"), "image")),
                     "registry.example/exporter:1.2.3");
    json_decref(expected);
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* ---- pods left unchanged ------------------------------------------------- */

static const struct {
    const char *pod;
    const char *warning; /* substring of the expected warning, or NULL for none */
} untouched[] = {
    /* not a database pod */
    {"{\"metadata\":{\"name\":\"web\"},\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1\"}]}}", NULL},
    /* label without annotation */
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":\"demo\"}},\"spec\":{\"containers\":[]}}", NULL},
    /* label, annotations key present but no sidecars annotation */
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":\"demo\"},\"annotations\":{\"a\":\"b\"}},\"spec\":{\"containers\":[]}}",
     NULL},
    /* annotation without label */
    {"{\"metadata\":{\"annotations\":{\"pgwarden.io/sidecars\":\"pooler\"}},\"spec\":{\"containers\":[]}}", NULL},
    /* no metadata at all, or a pod that is not even an object */
    {"{\"spec\":{\"containers\":[]}}", NULL},
    {"[]", NULL},
    /* values of the wrong type */
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":7},\"annotations\":{\"pgwarden.io/sidecars\":\"pooler\"}},\"spec\":{}}",
     NULL},
    {"{\"metadata\":{\"labels\":\"x\",\"annotations\":[]},\"spec\":{}}", NULL},
    /* a label that cannot name ConfigMaps */
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":\"Demo_1\"},\"annotations\":{\"pgwarden.io/sidecars\":\"pooler\"}},"
     "\"spec\":{\"containers\":[]}}",
     "is not a cluster name"},
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":\"\"},\"annotations\":{\"pgwarden.io/sidecars\":\"pooler\"}},"
     "\"spec\":{\"containers\":[]}}",
     "is not a cluster name"},
    /* malformed spec */
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":\"demo\"},\"annotations\":{\"pgwarden.io/sidecars\":\"pooler\"}},"
     "\"spec\":{\"containers\":\"postgres\"}}",
     "malformed"},
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":\"demo\"},\"annotations\":{\"pgwarden.io/sidecars\":\"pooler\"}},"
     "\"spec\":{\"containers\":[],\"volumes\":{}}}",
     "malformed"},
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":\"demo\"},\"annotations\":{\"pgwarden.io/sidecars\":\"pooler\"}}}",
     "malformed"},
};

START_TEST(test_untouched)
{
    json_t *pod = parse(untouched[_i].pod);
    struct pgw_errors errs;
    json_t *out = mutate(pod, &errs);
    ck_assert_msg(json_equal(pod, out), "row %d changed", _i);
    ck_assert_uint_eq(errs.count, 0);
    if (untouched[_i].warning == NULL) {
        ck_assert_uint_eq(errs.warning_count, 0);
    } else {
        ck_assert_uint_eq(errs.warning_count, 1);
        ck_assert_ptr_nonnull(strstr(errs.warnings[0], untouched[_i].warning));
    }
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* ---- warnings ------------------------------------------------------------- */

START_TEST(test_unknown_sidecar_warns)
{
    json_t *pod = database_pod("pooler, tracing ,metrics");
    struct pgw_errors errs;
    json_t *out = mutate_idempotent(pod, &errs);
    ck_assert_uint_eq(errs.count, 0);
    ck_assert_uint_eq(errs.warning_count, 1);
    ck_assert_ptr_nonnull(strstr(errs.warnings[0], "unknown sidecar \"tracing\""));
    char *c = names_of(containers(out));
    ck_assert_str_eq(c, "postgres,pgbouncer,exporter");
    free(c);
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

START_TEST(test_backup_without_pgdata_warns)
{
    json_t *pod = database_pod("backup,pooler");
    json_object_del(json_object_get(pod, "spec"), "volumes");
    struct pgw_errors errs;
    json_t *out = mutate_idempotent(pod, &errs);
    ck_assert_uint_eq(errs.warning_count, 1);
    ck_assert_ptr_nonnull(strstr(errs.warnings[0], "pgdata"));
    char *c = names_of(containers(out)), *v = names_of(volumes(out));
    ck_assert_str_eq(c, "postgres,pgbouncer");
    ck_assert_str_eq(v, "pgw-socket,pgw-pgbouncer");
    free(c);
    free(v);
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* ---- what is already there is kept --------------------------------------- */

START_TEST(test_existing_containers_kept_verbatim)
{
    json_t *pod = database_pod("pooler,metrics,backup");
    json_t *mine = parse("{\"name\":\"pgbouncer\",\"image\":\"my/pgbouncer:dev\",\"args\":[\"-v\"],"
                         "\"securityContext\":{\"runAsUser\":1000}}");
    json_array_append(containers(pod), mine);
    /* a name taken by an init container is taken for the pod */
    json_object_set_new(json_object_get(pod, "spec"), "initContainers",
                        parse("[{\"name\":\"exporter\",\"image\":\"my/exporter\",\"restartPolicy\":\"Always\"}]"));
    /* a volume with one of our names, of another type, is reused rather than duplicated */
    json_array_append_new(volumes(pod), parse("{\"name\":\"pgw-socket\",\"emptyDir\":{\"medium\":\"Memory\"}}"));
    struct pgw_errors errs;
    json_t *out = mutate_idempotent(pod, &errs);
    char *c = names_of(containers(out)), *v = names_of(volumes(out));
    ck_assert_str_eq(c, "postgres,pgbouncer,pgbackrest");
    ck_assert_str_eq(v, "pgdata,pgw-socket,pgw-tmp,pgw-pgbackrest");
    free(c);
    free(v);
    ck_assert(json_equal(find_named(containers(out), "pgbouncer"), mine));
    ck_assert(json_equal(json_object_get(json_object_get(out, "spec"), "initContainers"),
                         json_object_get(json_object_get(pod, "spec"), "initContainers")));
    ck_assert(json_equal(find_named(volumes(out), "pgw-socket"), find_named(volumes(pod), "pgw-socket")));
    /* the stamp is the hash of what was asked for, whoever provided the containers */
    char *hash = pgw_inject_expected_hash(7, &cfg);
    ck_assert_str_eq(annotation(out, PGW_POD_ANNOTATION_INJECTED), hash);
    free(hash);
    json_decref(mine);
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

START_TEST(test_user_annotations_kept)
{
    json_t *pod = database_pod("metrics");
    json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
    json_object_set_new(ann, "prometheus.io/scrape", json_string("false"));
    json_object_set_new(ann, PGW_POD_ANNOTATION_INJECTED, json_string("stale"));
    struct pgw_errors errs;
    json_t *out = mutate_idempotent(pod, &errs);
    ck_assert_str_eq(annotation(out, "prometheus.io/scrape"), "false");
    ck_assert_str_eq(annotation(out, "prometheus.io/port"), "9187");
    char *hash = pgw_inject_expected_hash(PGW_INJECT_METRICS, &cfg);
    ck_assert_str_eq(annotation(out, PGW_POD_ANNOTATION_INJECTED), hash); /* a stale stamp is replaced */
    free(hash);
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

START_TEST(test_pgwal_shared_with_pgbackrest)
{
    json_t *pod = database_pod("backup");
    json_array_append_new(volumes(pod), parse("{\"name\":\"pgwal\",\"persistentVolumeClaim\":{\"claimName\":\"pgwal-demo-0\"}}"));
    struct pgw_errors errs;
    json_t *out = mutate_idempotent(pod, &errs);
    char *m = mounts_of(find_named(containers(out), "pgbackrest"));
    ck_assert_str_eq(m, "pgdata:/var/lib/postgresql/data,pgwal:/var/lib/postgresql/wal,pgw-socket:/var/run/postgresql,"
                        "pgw-tmp:/tmp,pgw-pgbackrest:/etc/pgbackrest");
    free(m);
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* The pgbackrest server never uses the repository: with spec.backup.encryptionSecret the instance
 * config sets repo1-cipher-type, and without this override pgBackRest asks the server for the
 * cipher pass on every command (stanza-create failed on the test bed). */
START_TEST(test_pgbackrest_server_has_no_cipher)
{
    json_t *pod = database_pod("backup");
    struct pgw_errors errs;
    json_t *out = mutate_idempotent(pod, &errs);
    const json_t *env = json_object_get(find_named(containers(out), "pgbackrest"), "env");
    const json_t *cipher = find_named(env, "PGBACKREST_REPO1_CIPHER_TYPE");
    ck_assert_ptr_nonnull(cipher);
    ck_assert_str_eq(json_string_value(json_object_get(cipher, "value")), "none");
    ck_assert_ptr_null(find_named(env, "PGBACKREST_REPO1_CIPHER_PASS"));
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* ---- custom queries (spec.metrics.customQueriesConfigMap via the template annotation) ---- */

/* "a b c" from a container's args. malloc'd. */
static char *args_of(const json_t *container)
{
    char *out = pgw_strdup("");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(container, "args"), i, a)
    {
        char *next = pgw_asprintf("%s%s%s", out, i ? " " : "", json_string_value(a));
        free(out);
        out = next;
    }
    return out;
}

static const struct {
    const char *sidecars;
    const char *queries; /* the annotation, NULL for none */
    int mounted;         /* flag, mount and volume expected */
    int warnings;
} queries_rows[] = {
    {"pooler,metrics", "my-queries", 1, 0},
    {"metrics,backup", "a.b-c", 1, 0},
    {"pooler,metrics", NULL, 0, 0},
    {"pooler", "my-queries", 0, 0},         /* no exporter: nothing to mount it into */
    {"pooler,metrics", "My Queries", 0, 1}, /* not an object name: warned, ignored */
    {"pooler,metrics", "../../etc/passwd", 0, 1},
};

START_TEST(test_custom_queries)
{
    json_t *pod = database_pod(queries_rows[_i].sidecars);
    if (queries_rows[_i].queries != NULL)
        json_object_set_new(json_object_get(json_object_get(pod, "metadata"), "annotations"), PGW_POD_ANNOTATION_METRICS_QUERIES,
                            json_string(queries_rows[_i].queries));
    struct pgw_errors errs;
    json_t *out = mutate_idempotent(pod, &errs);
    ck_assert_int_eq(errs.warning_count, queries_rows[_i].warnings);
    json_t *volume = find_named(volumes(out), "pgw-queries");
    const json_t *exporter = find_named(containers(out), "exporter");
    char *args = args_of(exporter), *m = mounts_of(exporter);
    if (queries_rows[_i].mounted) {
        ck_assert_str_eq(args, "--web.listen-address=:9187 --web.telemetry-path=/metrics "
                               "--extend.query-path=/etc/postgres_exporter_queries/queries.yaml");
        ck_assert_str_eq(m, "pgw-socket:/var/run/postgresql,pgw-exporter:/etc/postgres_exporter,"
                            "pgw-queries:/etc/postgres_exporter_queries");
        ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(exporter, "volumeMounts"), 2), "readOnly")));
        /* optional: a missing ConfigMap must not keep the database pod from starting */
        json_t *want =
            json_pack("{s:s,s:{s:s,s:b}}", "name", "pgw-queries", "configMap", "name", queries_rows[_i].queries, "optional", 1);
        ck_assert(json_equal(volume, want));
        json_decref(want);
    } else {
        ck_assert_ptr_null(volume);
        ck_assert_ptr_null(strstr(args, "extend.query-path"));
        ck_assert_ptr_null(strstr(m, "pgw-queries"));
    }
    free(args);
    free(m);
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* ---- odd but legal shapes -------------------------------------------------- */

static const struct {
    const char *pod;
    const char *containers;
    const char *volumes;
} shapes_rows[] = {
    /* no volumes key */
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":\"demo\"},\"annotations\":{\"pgwarden.io/sidecars\":\"pooler,metrics\"}},"
     "\"spec\":{\"containers\":[{\"name\":\"postgres\"}]}}",
     "postgres,pgbouncer,exporter", "pgw-socket,pgw-pgbouncer,pgw-exporter"},
    /* empty containers list */
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":\"demo\"},\"annotations\":{\"pgwarden.io/sidecars\":\"pooler\"}},"
     "\"spec\":{\"containers\":[],\"volumes\":[]}}",
     "pgbouncer", "pgw-socket,pgw-pgbouncer"},
    /* no containers key */
    {"{\"metadata\":{\"labels\":{\"pgwarden.io/cluster\":\"demo\"},\"annotations\":{\"pgwarden.io/sidecars\":\"metrics\"}},"
     "\"spec\":{}}",
     "exporter", "pgw-socket,pgw-exporter"},
    /* other labels and annotations around ours */
    {"{\"metadata\":{\"labels\":{\"app\":\"x\",\"pgwarden.io/cluster\":\"a-1\"},\"annotations\":{\"x/y\":\"z\",\"pgwarden.io/"
     "sidecars\":\"pooler\"}},"
     "\"spec\":{\"containers\":[{\"name\":\"postgres\"}],\"volumes\":[{\"name\":\"other\",\"emptyDir\":{}}]}}",
     "postgres,pgbouncer", "other,pgw-socket,pgw-pgbouncer"},
};

START_TEST(test_shapes)
{
    json_t *pod = parse(shapes_rows[_i].pod);
    struct pgw_errors errs;
    json_t *out = mutate_idempotent(pod, &errs);
    char *c = names_of(containers(out)), *v = names_of(volumes(out));
    ck_assert_str_eq(c, shapes_rows[_i].containers);
    ck_assert_str_eq(v, shapes_rows[_i].volumes);
    free(c);
    free(v);
    ck_assert_ptr_nonnull(annotation(out, PGW_POD_ANNOTATION_INJECTED));
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* ---- other injectors ------------------------------------------------------- */

START_TEST(test_independent_of_other_injectors)
{
    json_t *plain = database_pod("pooler,metrics,backup");
    /* the same pod after an istio-like injector ran first */
    json_t *meshed = database_pod("pooler,metrics,backup");
    json_t *proxy = parse("{\"name\":\"istio-proxy\",\"image\":\"istio/proxyv2:1.22\",\"args\":[\"proxy\",\"sidecar\"],"
                          "\"ports\":[{\"containerPort\":15090,\"name\":\"http-envoy-prom\"}]}");
    json_t *init = parse("[{\"name\":\"istio-init\",\"image\":\"istio/proxyv2:1.22\",\"args\":[\"istio-iptables\"]}]");
    json_array_insert(containers(meshed), 0, proxy);
    json_object_set(json_object_get(meshed, "spec"), "initContainers", init);
    json_array_append_new(volumes(meshed), parse("{\"name\":\"istio-envoy\",\"emptyDir\":{\"medium\":\"Memory\"}}"));

    struct pgw_errors e1, e2;
    json_t *a = mutate_idempotent(plain, &e1);
    json_t *b = mutate_idempotent(meshed, &e2);
    const char *ours[] = {"pgbouncer", "exporter", "pgbackrest"};
    for (size_t i = 0; i != 3; ++i)
        ck_assert_msg(json_equal(find_named(containers(a), ours[i]), find_named(containers(b), ours[i])), "%s differs", ours[i]);
    const char *our_volumes[] = {"pgw-socket", "pgw-tmp", "pgw-pgbouncer", "pgw-exporter", "pgw-pgbackrest"};
    for (size_t i = 0; i != 5; ++i)
        ck_assert(json_equal(find_named(volumes(a), our_volumes[i]), find_named(volumes(b), our_volumes[i])));
    ck_assert(json_equal(find_named(containers(b), "istio-proxy"), proxy));
    ck_assert(json_equal(json_object_get(json_object_get(b, "spec"), "initContainers"), init));
    ck_assert_str_eq(annotation(a, PGW_POD_ANNOTATION_INJECTED), annotation(b, PGW_POD_ANNOTATION_INJECTED));

    /* and an injector running after us leaves nothing for a reinvocation to do */
    json_t *after = json_deep_copy(a);
    json_array_append(containers(after), proxy);
    struct pgw_errors e3;
    json_t *again = mutate(after, &e3);
    ck_assert(json_equal(after, again));
    json_decref(again);
    json_decref(after);
    pgw_errors_dispose(&e3);

    json_decref(proxy);
    json_decref(init);
    pgw_errors_dispose(&e1);
    pgw_errors_dispose(&e2);
    json_decref(a);
    json_decref(b);
    json_decref(plain);
    json_decref(meshed);
}
END_TEST

START_TEST(test_large_pod)
{
    json_t *pod = database_pod("pooler,metrics,backup");
    json_t *pg = json_array_get(containers(pod), 0);
    json_t *env = json_array();
    for (int i = 0; i != 200; ++i) {
        char name[32], value[32];
        snprintf(name, sizeof(name), "VAR_%03d", i);
        snprintf(value, sizeof(value), "value-%d", i);
        json_array_append_new(env, pgw_json_pack("{s:s,s:s}", "name", name, "value", value));
    }
    json_object_set_new(pg, "env", env);
    for (int i = 1; i != 50; ++i) {
        char name[32];
        snprintf(name, sizeof(name), "helper-%02d", i);
        json_array_append_new(containers(pod), pgw_json_pack("{s:s,s:s}", "name", name, "image", "busybox:1"));
    }
    struct pgw_errors errs;
    json_t *out = mutate_idempotent(pod, &errs);
    ck_assert_uint_eq(json_array_size(containers(out)), 53);
    for (size_t i = 0; i != 50; ++i)
        ck_assert(json_equal(json_array_get(containers(out), i), json_array_get(containers(pod), i)));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(containers(out), 50), "name")), "pgbouncer");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(containers(out), 52), "name")), "pgbackrest");
    json_t *patch = pgw_jsonpatch_diff(pod, out);
    ck_assert_uint_gt(json_array_size(patch), 0);
    json_decref(patch);
    pgw_errors_dispose(&errs);
    json_decref(out);
    json_decref(pod);
}
END_TEST

/* ---- the list syntax and the hash ------------------------------------------ */

static const struct {
    const char *list;
    unsigned set;
    size_t warnings;
    const char *canonical;
} lists[] = {
    {"pooler,metrics,backup", 7, 0, "pooler,metrics,backup"},
    {"backup", PGW_INJECT_BACKUP, 0, "backup"},
    {" metrics , pooler ", PGW_INJECT_POOLER | PGW_INJECT_METRICS, 0, "pooler,metrics"},
    {"", 0, 0, ""},
    {",,", 0, 0, ""},
    {"Pooler", 0, 1, ""}, /* names are case-sensitive */
    {"pooler,x,y", PGW_INJECT_POOLER, 2, "pooler"},
    {"pooler metrics", 0, 1, ""}, /* separators are commas */
    {"\tbackup\n", PGW_INJECT_BACKUP, 0, "backup"},
};

START_TEST(test_parse_sidecars)
{
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    unsigned set = pgw_inject_parse_sidecars(lists[_i].list, &errs);
    ck_assert_uint_eq(set, lists[_i].set);
    ck_assert_uint_eq(errs.warning_count, lists[_i].warnings);
    char *canonical = pgw_inject_format_sidecars(set);
    ck_assert_str_eq(canonical, lists[_i].canonical);
    free(canonical);
    ck_assert_uint_eq(pgw_inject_parse_sidecars(lists[_i].list, NULL), lists[_i].set); /* errs is optional */
    pgw_errors_dispose(&errs);
}
END_TEST

static const struct {
    const char *cluster;
    unsigned set;
} cluster_sets[] = {
    {"{\"spec\":{}}", PGW_INJECT_POOLER | PGW_INJECT_METRICS},
    {"{\"spec\":{\"pooler\":{\"enabled\":false}}}", PGW_INJECT_METRICS},
    {"{\"spec\":{\"metrics\":{\"enabled\":false},\"backup\":{\"repository\":{\"volume\":{\"size\":\"1Gi\"}}}}}",
     PGW_INJECT_POOLER | PGW_INJECT_BACKUP},
    {"{\"spec\":{\"pooler\":{\"enabled\":true},\"metrics\":{},\"backup\":{}}}", 7},
};

START_TEST(test_sidecars_for_cluster)
{
    json_t *cluster = parse(cluster_sets[_i].cluster);
    ck_assert_uint_eq(pgw_inject_sidecars_for_cluster(cluster), cluster_sets[_i].set);
    json_decref(cluster);
}
END_TEST

/*
 * The injection hash pinned to literals. Every running database pod carries
 * this stamp (PGW_POD_ANNOTATION_INJECTED); when the value for a given
 * configuration changes, the controller reports SidecarsInjected=False on
 * every pod after an upgrade and each one must be re-rolled. If this test
 * fails, the change re-rolls every pod: make it on purpose, say so in the
 * release notes, and only then update the literals.
 *
 * The fixed-configuration literals were computed outside the code, from the
 * documented input (specs/inject_hash.c), e.g. for the full set:
 *   sc() { printf '%s\nimage=%s\npull=IfNotPresent\nreq.cpu=10m\nreq.mem=32Mi\nlim.cpu=\x01\nlim.mem=64Mi\n' "$1" "$2"; }
 *   { printf 'pgwarden-inject/1\n'; sc pooler example.org/pgbouncer:1.0; sc metrics example.org/exporter:1.0;
 *     sc backup example.org/pgbackrest:1.0; } | sha256sum | cut -c1-16
 */
START_TEST(test_hash_pinned)
{
    /* A fixed configuration: the algorithm and the field encoding. */
    struct pgw_sidecar_config *sidecars[] = {&cfg.pgbouncer, &cfg.exporter, &cfg.pgbackrest};
    const char *images[] = {"example.org/pgbouncer:1.0", "example.org/exporter:1.0", "example.org/pgbackrest:1.0"};
    for (size_t i = 0; i != 3; ++i) {
        set(&sidecars[i]->image, images[i]);
        set(&sidecars[i]->cpu_request, "10m");
        set(&sidecars[i]->memory_request, "32Mi");
        set(&sidecars[i]->cpu_limit, NULL);
        set(&sidecars[i]->memory_limit, "64Mi");
    }
    set(&cfg.image_pull_policy, "IfNotPresent");
    static const struct {
        unsigned set;
        const char *hash;
    } fixed[] = {
        {PGW_INJECT_POOLER | PGW_INJECT_METRICS | PGW_INJECT_BACKUP, "27f23352c08a6d72"},
        {PGW_INJECT_POOLER | PGW_INJECT_METRICS, "fc1332c5a56824ca"},
        {0, "a0a94ee674fc60b5"},
    };
    for (size_t i = 0; i != sizeof(fixed) / sizeof(fixed[0]); ++i) {
        char *hash = pgw_inject_expected_hash(fixed[i].set, &cfg);
        ck_assert_msg(strcmp(hash, fixed[i].hash) == 0, "set %u: hash %s, pinned %s", fixed[i].set, hash, fixed[i].hash);
        free(hash);
    }
}
END_TEST

/* The built-in defaults: a release that changes a default image or resource re-rolls every pod. */
START_TEST(test_hash_pinned_defaults)
{
    char *hash = pgw_inject_expected_hash(PGW_INJECT_POOLER | PGW_INJECT_METRICS | PGW_INJECT_BACKUP, &cfg);
    ck_assert_msg(strcmp(hash, "ec530e607655ed53") == 0, "hash %s, pinned %s", hash, "ec530e607655ed53");
    free(hash);
}
END_TEST

START_TEST(test_hash)
{
    char *base = pgw_inject_expected_hash(7, &cfg);
    ck_assert_uint_eq(strlen(base), 16);
    ck_assert_uint_eq(strspn(base, "0123456789abcdef"), 16);
    char *same = pgw_inject_expected_hash(7, &cfg);
    ck_assert_str_eq(base, same); /* stable */
    free(same);
    /* each input matters */
    char *fewer = pgw_inject_expected_hash(3, &cfg);
    ck_assert_str_ne(base, fewer);
    char *none = pgw_inject_expected_hash(0, &cfg);
    ck_assert_str_ne(base, none);
    set(&cfg.pgbackrest.image, "ghcr.io/pgwarden/pgbackrest:2.57");
    char *image = pgw_inject_expected_hash(7, &cfg);
    ck_assert_str_ne(base, image);
    /* ... but only for sidecars in the set */
    char *unaffected = pgw_inject_expected_hash(3, &cfg);
    ck_assert_str_eq(fewer, unaffected);
    set(&cfg.pgbouncer.memory_limit, "256Mi");
    char *resources = pgw_inject_expected_hash(7, &cfg);
    ck_assert_str_ne(image, resources);
    /* an unset value differs from any set one */
    set(&cfg.pgbouncer.memory_limit, NULL);
    char *unset = pgw_inject_expected_hash(7, &cfg);
    ck_assert_str_ne(resources, unset);
    ck_assert_str_ne(image, unset);
    free(base);
    free(fewer);
    free(none);
    free(image);
    free(unaffected);
    free(resources);
    free(unset);
}
END_TEST

static Suite *pod_mutator_suite(void)
{
    Suite *s = suite_create("pod_mutator");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_subsets, 0, sizeof(subsets) / sizeof(subsets[0]));
    tcase_add_loop_test(tc, test_container_shape, 0, sizeof(shapes) / sizeof(shapes[0]));
    tcase_add_test(tc, test_mounts_reference_volumes);
    tcase_add_loop_test(tc, test_resources_from_config, 0, sizeof(resource_rows) / sizeof(resource_rows[0]));
    tcase_add_loop_test(tc, test_untouched, 0, sizeof(untouched) / sizeof(untouched[0]));
    tcase_add_test(tc, test_unknown_sidecar_warns);
    tcase_add_test(tc, test_backup_without_pgdata_warns);
    tcase_add_test(tc, test_existing_containers_kept_verbatim);
    tcase_add_test(tc, test_user_annotations_kept);
    tcase_add_test(tc, test_pgwal_shared_with_pgbackrest);
    tcase_add_test(tc, test_pgbackrest_server_has_no_cipher);
    tcase_add_loop_test(tc, test_custom_queries, 0, sizeof(queries_rows) / sizeof(queries_rows[0]));
    tcase_add_loop_test(tc, test_shapes, 0, sizeof(shapes_rows) / sizeof(shapes_rows[0]));
    tcase_add_test(tc, test_independent_of_other_injectors);
    tcase_add_test(tc, test_large_pod);
    tcase_add_loop_test(tc, test_parse_sidecars, 0, sizeof(lists) / sizeof(lists[0]));
    tcase_add_loop_test(tc, test_sidecars_for_cluster, 0, sizeof(cluster_sets) / sizeof(cluster_sets[0]));
    tcase_add_test(tc, test_hash);
    tcase_add_test(tc, test_hash_pinned);
    tcase_add_test(tc, test_hash_pinned_defaults);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(pod_mutator_suite());
}
