/*
 * The StatefulSet of a cluster (DESIGN.md §5 and §6).
 *
 * The template holds only the `postgres` container (Patroni). The webhook adds
 * the sidecars named in the pgwarden.io/sidecars annotation when each pod is
 * created, so template and injection share the names in pod_layout.h.
 * updateStrategy OnDelete: Patroni decides when an instance restarts, never
 * the StatefulSet controller.
 *
 * Claims: the claim templates carry the cluster's uid (PGW_LABEL_CLUSTER_UID),
 * so a claim left by an earlier cluster of the same name is told from one of
 * this cluster's (reconcile_volumes.c). Templates are immutable: the
 * reconciler keeps a live StatefulSet's own and grows the claims directly.
 * Deleting the cluster keeps its claims; scaling down keeps or deletes those
 * of the removed instances as spec.storage.onScaleDown says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/inject.h"
#include "specs/operations.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_exporter.h"
#include "specs/render_meta.h"
#include "specs/render_pgbackrest.h"
#include "specs/security_context.h"

/* --- the postgres container ------------------------------------------------ */

static json_t *env_value(const char *name, const char *value)
{
    return pgw_json_pack("{s:s,s:s}", "name", name, "value", value);
}

static json_t *env_field(const char *name, const char *field_path)
{
    return pgw_json_pack("{s:s,s:{s:{s:s}}}", "name", name, "valueFrom", "fieldRef", "fieldPath", field_path);
}

static json_t *env_secret(const char *name, const char *secret, const char *key)
{
    return pgw_json_pack("{s:s,s:{s:{s:s,s:s}}}", "name", name, "valueFrom", "secretKeyRef", "name", secret, "key", key);
}

/* "$(PATRONI_KUBERNETES_POD_IP):<port>": where the other members reach this one. */
static json_t *env_pod_address(const char *name, int port)
{
    char value[64];
    snprintf(value, sizeof(value), "$(PATRONI_KUBERNETES_POD_IP):%d", port);
    return env_value(name, value);
}

static json_t *postgres_env(const json_t *cluster)
{
    char *superuser = pgw_child_name(cluster, PGW_SUFFIX_SUPERUSER), *replication = pgw_child_name(cluster, PGW_SUFFIX_REPLICATION);
    char *app = pgw_child_name(cluster, PGW_SUFFIX_APP), *pgbouncer = pgw_child_name(cluster, PGW_SUFFIX_PGBOUNCER);
    char *exporter = pgw_child_name(cluster, PGW_SUFFIX_EXPORTER);
    json_t *env = json_array();
    json_array_append_new(env, env_field("PATRONI_NAME", "metadata.name"));
    json_array_append_new(env, env_field("PATRONI_KUBERNETES_NAMESPACE", "metadata.namespace"));
    json_array_append_new(env, env_field("PATRONI_KUBERNETES_POD_IP", "status.podIP"));
    json_array_append_new(env, env_pod_address("PATRONI_POSTGRESQL_CONNECT_ADDRESS", PGW_POD_PORT_POSTGRES));
    json_array_append_new(env, env_pod_address("PATRONI_RESTAPI_CONNECT_ADDRESS", PGW_POD_PORT_PATRONI));
    json_array_append_new(env, env_secret("PATRONI_SUPERUSER_PASSWORD", superuser, "password"));
    json_array_append_new(env, env_secret("PATRONI_REPLICATION_PASSWORD", replication, "password"));
    json_array_append_new(env, env_secret("PATRONI_REWIND_PASSWORD", superuser, "password"));
    /* Read by the post-bootstrap script: the superuser's to connect (Patroni takes every PATRONI_*
     * variable out of its environment before it runs the script), the others as psql variables. */
    json_array_append_new(env, env_secret("PGW_SUPERUSER_PASSWORD", superuser, "password"));
    json_array_append_new(env, env_secret("PGW_APP_PASSWORD", app, "password"));
    json_array_append_new(env, env_secret("PGW_PGBOUNCER_PASSWORD", pgbouncer, "password"));
    json_array_append_new(env, env_secret("PGW_EXPORTER_PASSWORD", exporter, PGW_KEY_EXPORTER_PASSWORD));
    json_array_append_new(env, env_value("PGDATA", PGW_POD_PGDATA_DIR));
    /* Repository credentials for archive-push and restore (never in the pgBackRest ConfigMap). */
    json_t *repo_env = pgw_render_pgbackrest_env(cluster);
    json_array_extend(env, repo_env);
    json_decref(repo_env);
    free(superuser);
    free(replication);
    free(app);
    free(pgbouncer);
    free(exporter);
    return env;
}

/* {name, mountPath} and readOnly: true when read_only. */
static json_t *mount(const char *volume, const char *path, int read_only)
{
    json_t *m = pgw_json_pack("{s:s,s:s}", "name", volume, "mountPath", path);
    if (read_only)
        json_object_set_new(m, "readOnly", json_true());
    return m;
}

static json_t *postgres_mounts(const json_t *cluster)
{
    json_t *mounts = json_array();
    json_array_append_new(mounts, mount(PGW_POD_VOLUME_PGDATA, PGW_POD_PGDATA_MOUNT, 0));
    json_array_append_new(mounts, mount(PGW_POD_VOLUME_SOCKET, PGW_POD_SOCKET_DIR, 0));
    json_array_append_new(mounts, mount(PGW_POD_VOLUME_TMP, PGW_POD_TMP_DIR, 0));
    json_array_append_new(mounts, mount(PGW_POD_VOLUME_PATRONI, PGW_POD_PATRONI_DIR, 1));
    json_array_append_new(mounts, mount(PGW_POD_VOLUME_TLS, PGW_POD_TLS_DIR, 1));
    json_array_append_new(mounts, mount(PGW_POD_VOLUME_PGBACKREST, PGW_POD_PGBACKREST_DIR, 1));
    if (pgw_cluster_spec(cluster, "storage.walSize") != NULL)
        json_array_append_new(mounts, mount(PGW_POD_VOLUME_PGWAL, PGW_POD_PGWAL_MOUNT, 0));
    json_t *unused_volumes = json_array(); /* added by volumes() */
    pgw_render_pgbackrest_repo_volumes(cluster, unused_volumes, mounts);
    json_decref(unused_volumes);
    return mounts;
}

static json_t *tcp_port(const char *name, int port)
{
    return pgw_json_pack("{s:s,s:i,s:s}", "name", name, "containerPort", port, "protocol", "TCP");
}

/* An HTTP probe on Patroni's REST API. */
static json_t *patroni_probe(const char *path, int period, int timeout, int failures)
{
    return pgw_json_pack("{s:{s:s,s:i},s:i,s:i,s:i}", "httpGet", "path", path, "port", PGW_POD_PORT_PATRONI, "periodSeconds",
                         period, "timeoutSeconds", timeout, "failureThreshold", failures);
}

static json_t *postgres_container(const json_t *cluster, const struct pgw_render_ctx *ctx)
{
    const char *image = json_string_value(pgw_cluster_spec(cluster, "image"));
    if (image == NULL)
        image = pgw_config_postgres_image(ctx->config, (int)pgw_cluster_spec_int(cluster, "postgresVersion", 18));
    json_t *mounts = postgres_mounts(cluster);
    json_t *c = pgw_json_pack("{s:s,s:s,s:s,s:[s,s],s:o}", "name", PGW_POD_CONTAINER_POSTGRES, "image", image ? image : "",
                              "imagePullPolicy", ctx->config->image_pull_policy, "command", "patroni",
                              PGW_POD_PATRONI_DIR "/patroni.yml", "env", postgres_env(cluster));
    json_object_set_new(c, "ports",
                        pgw_json_pack("[o,o]", tcp_port(PGW_POD_PORT_POSTGRES_NAME, PGW_POD_PORT_POSTGRES),
                                      tcp_port(PGW_POD_PORT_PATRONI_NAME, PGW_POD_PORT_PATRONI)));
    /* Readiness routes only the selector Services (-ro, -r; the read-write one is Patroni's own
     * Endpoints): a replica whose PostgreSQL stopped leaves them within 2 x 2 s. Liveness restarts
     * Patroni, which on a primary is a switchover: it fails only once Patroni's own /liveness does
     * (its loop stuck for ttl on a primary, 2 x ttl on a replica, when the leader key has expired
     * anyway), and then 3 x 10 s later, a backstop against a hung Patroni whose PostgreSQL would
     * go on taking writes. docs/reliability.md, "Failover". */
    json_object_set_new(c, "readinessProbe", patroni_probe("/readiness", 2, 2, 2));
    json_object_set_new(c, "livenessProbe", patroni_probe("/liveness", 10, 5, 3));
    json_object_set_new(c, "volumeMounts", mounts);
    json_object_set_new(c, "securityContext", pgw_container_security_context());
    json_t *resources = pgw_cluster_spec(cluster, "resources");
    if (json_is_object(resources))
        json_object_set_new(c, "resources", json_deep_copy(resources));
    return c;
}

/* --- the pod ----------------------------------------------------------------- */

static json_t *empty_dir(const char *name)
{
    return pgw_json_pack("{s:s,s:{}}", "name", name, "emptyDir");
}

static json_t *volumes(const json_t *cluster)
{
    char *patroni = pgw_child_name(cluster, PGW_SUFFIX_PATRONI), *tls = pgw_child_name(cluster, PGW_SUFFIX_SERVER_TLS);
    char *pgbackrest = pgw_child_name(cluster, PGW_SUFFIX_PGBACKREST);
    const char *tls_secret = json_string_value(pgw_cluster_spec(cluster, "tls.secretName"));
    json_t *v = json_array();
    json_array_append_new(v, empty_dir(PGW_POD_VOLUME_SOCKET));
    json_array_append_new(v, empty_dir(PGW_POD_VOLUME_TMP));
    json_array_append_new(
        v, pgw_json_pack("{s:s,s:{s:s,s:i}}", "name", PGW_POD_VOLUME_PATRONI, "configMap", "name", patroni, "defaultMode", 0555));
    json_array_append_new(v, pgw_json_pack("{s:s,s:{s:s,s:i}}", "name", PGW_POD_VOLUME_TLS, "secret", "secretName",
                                           tls_secret != NULL ? tls_secret : tls, "defaultMode", 0600));
    if (pgw_cluster_spec(cluster, "backup.repository") != NULL) {
        /* The same projected volume the pgbackrest sidecar would add: the webhook keeps a volume that
         * exists by name, so a plain ConfigMap here would leave `pgbackrest server` without its TLS files. */
        char *backrest_tls = pgw_child_name(cluster, PGW_SUFFIX_PGBACKREST_TLS);
        json_array_append_new(v, pgw_json_pack("{s:s,s:{s:i,s:[{s:{s:s}},{s:{s:s}}]}}", "name", PGW_POD_VOLUME_PGBACKREST,
                                               "projected", "defaultMode", PGW_PGBACKREST_TLS_MODE, "sources", "configMap", "name",
                                               pgbackrest, "secret", "name", backrest_tls));
        free(backrest_tls);
    } else {
        json_array_append_new(v, pgw_json_pack("{s:s,s:{s:s,s:b}}", "name", PGW_POD_VOLUME_PGBACKREST, "configMap", "name",
                                               pgbackrest, "optional", 1));
    }
    json_t *unused_mounts = json_array(); /* added by postgres_container() */
    pgw_render_pgbackrest_repo_volumes(cluster, v, unused_mounts);
    json_decref(unused_mounts);
    free(patroni);
    free(tls);
    free(pgbackrest);
    return v;
}

static json_t *affinity(const json_t *cluster)
{
    const char *mode = json_string_value(pgw_cluster_spec(cluster, "affinity.antiAffinity"));
    const char *topology = json_string_value(pgw_cluster_spec(cluster, "affinity.topologyKey"));
    if (mode == NULL)
        mode = "preferred";
    if (topology == NULL)
        topology = "kubernetes.io/hostname";
    if (strcmp(mode, "none") == 0)
        return NULL;
    json_t *term =
        pgw_json_pack("{s:{s:o},s:s}", "labelSelector", "matchLabels", pgw_pod_selector(cluster), "topologyKey", topology);
    if (strcmp(mode, "required") == 0)
        return pgw_json_pack("{s:{s:[o]}}", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", term);
    return pgw_json_pack("{s:{s:[{s:i,s:o}]}}", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", "weight", 100,
                         "podAffinityTerm", term);
}

static json_t *claim_template(const json_t *cluster, const char *name, const char *size)
{
    json_t *spec = pgw_json_pack("{s:[s],s:{s:{s:s}}}", "accessModes", "ReadWriteOnce", "resources", "requests", "storage", size);
    json_t *storage_class = pgw_cluster_spec(cluster, "storage.storageClass");
    if (json_is_string(storage_class))
        json_object_set(spec, "storageClassName", storage_class);
    json_t *labels = pgw_child_labels(cluster, "database");
    const char *uid = json_string_value(json_object_get(json_object_get(cluster, "metadata"), "uid"));
    if (uid != NULL) /* absent from a manifest rendered offline (`pgwarden render`) */
        json_object_set_new(labels, PGW_LABEL_CLUSTER_UID, json_string(uid));
    return pgw_json_pack("{s:{s:s,s:o},s:o}", "metadata", "name", name, "labels", labels, "spec", spec);
}

/* whenScaled from spec.storage.onScaleDown (Retain unless Delete); a deleted cluster's claims are always kept. */
static json_t *claim_retention(const json_t *cluster)
{
    const char *on_scale_down = json_string_value(pgw_cluster_spec(cluster, "storage.onScaleDown"));
    int delete = on_scale_down != NULL && strcmp(on_scale_down, PGW_SCALE_DOWN_DELETE) == 0;
    return pgw_json_pack("{s:s,s:s}", "whenDeleted", PGW_SCALE_DOWN_RETAIN, "whenScaled",
                         delete ? PGW_SCALE_DOWN_DELETE : PGW_SCALE_DOWN_RETAIN);
}

/* --- the StatefulSet ---------------------------------------------------------- */

json_t *pgw_render_statefulset(const json_t *cluster, const struct pgw_render_ctx *ctx)
{
    const char *name = pgw_cluster_name(cluster);
    json_t *sts = pgw_child_object(cluster, "apps/v1", "StatefulSet", name, "database");
    char *pods_service = pgw_child_name(cluster, PGW_SUFFIX_PODS), *sa = pgw_child_name(cluster, PGW_SUFFIX_INSTANCE);

    char *sidecars = pgw_inject_format_sidecars(pgw_inject_sidecars_for_cluster(cluster));
    json_t *template_meta = pgw_json_pack("{s:o,s:{s:s}}", "labels", pgw_child_labels(cluster, "database"), "annotations",
                                          PGW_POD_ANNOTATION_SIDECARS, sidecars);
    free(sidecars);
    /* Mounted by the pod mutator (sidecar_exporter.c): the user's queries, else pgwarden's (render_configmaps.c). */
    const char *queries = pgw_exporter_queries_configmap(cluster);
    char *own = NULL;
    if (queries == NULL && pgw_cluster_spec_bool(cluster, "metrics.enabled", 1))
        queries = own = pgw_child_name(cluster, PGW_SUFFIX_EXPORTER);
    if (queries != NULL)
        json_object_set_new(json_object_get(template_meta, "annotations"), PGW_POD_ANNOTATION_METRICS_QUERIES,
                            json_string(queries));
    free(own);
    const char *restarted = json_string_value(
        json_object_get(json_object_get(json_object_get(cluster, "metadata"), "annotations"), PGW_ANNOTATION_RESTARTED_AT));
    if (restarted != NULL) /* a requested restart of every instance (specs/operations.h) */
        json_object_set_new(json_object_get(template_meta, "annotations"), PGW_ANNOTATION_RESTARTED_AT, json_string(restarted));
    json_t *pod_spec =
        pgw_json_pack("{s:s,s:b,s:i,s:o,s:[o],s:o}", "serviceAccountName", sa, "automountServiceAccountToken", 1,
                      "terminationGracePeriodSeconds", 60, "securityContext", pgw_pod_security_context("OnRootMismatch"),
                      "containers", postgres_container(cluster, ctx), "volumes", volumes(cluster));
    json_t *aff = affinity(cluster);
    if (aff != NULL)
        json_object_set_new(pod_spec, "affinity", aff);
    json_object_set_new(pod_spec, "topologySpreadConstraints",
                        pgw_json_pack("[{s:i,s:s,s:s,s:{s:o}}]", "maxSkew", 1, "topologyKey", "topology.kubernetes.io/zone",
                                      "whenUnsatisfiable", "ScheduleAnyway", "labelSelector", "matchLabels",
                                      pgw_pod_selector(cluster)));
    json_t *node_selector = pgw_cluster_spec(cluster, "affinity.nodeSelector");
    if (node_selector == NULL)
        node_selector = pgw_cluster_spec(cluster, "nodeSelector");
    if (json_is_object(node_selector))
        json_object_set_new(pod_spec, "nodeSelector", json_deep_copy(node_selector));
    json_t *tolerations = pgw_cluster_spec(cluster, "affinity.tolerations");
    if (tolerations == NULL)
        tolerations = pgw_cluster_spec(cluster, "tolerations");
    if (json_is_array(tolerations))
        json_object_set_new(pod_spec, "tolerations", json_deep_copy(tolerations));

    json_t *claims = json_array();
    const char *size = json_string_value(pgw_cluster_spec(cluster, "storage.size"));
    json_array_append_new(claims, claim_template(cluster, PGW_POD_VOLUME_PGDATA, size ? size : "1Gi"));
    const char *wal_size = json_string_value(pgw_cluster_spec(cluster, "storage.walSize"));
    if (wal_size != NULL)
        json_array_append_new(claims, claim_template(cluster, PGW_POD_VOLUME_PGWAL, wal_size));

    json_t *spec =
        pgw_json_pack("{s:I,s:s,s:s,s:{s:s},s:{s:o}}", "replicas", (json_int_t)pgw_cluster_spec_int(cluster, "instances", 1),
                      "serviceName", pods_service, "podManagementPolicy", "Parallel", "updateStrategy", "type", "OnDelete",
                      "selector", "matchLabels", pgw_pod_selector(cluster));
    json_object_set_new(spec, "template", pgw_json_pack("{s:o,s:o}", "metadata", template_meta, "spec", pod_spec));
    json_object_set_new(spec, "volumeClaimTemplates", claims);
    json_object_set_new(spec, "persistentVolumeClaimRetentionPolicy", claim_retention(cluster));
    json_object_set_new(sts, "spec", spec);
    free(pods_service);
    free(sa);
    return sts;
}
