/*
 * The StatefulSet of a cluster (DESIGN.md §5 and §6).
 *
 * The template holds only the `postgres` container (Patroni). The webhook adds
 * the sidecars named in the pgwarden.io/sidecars annotation when each pod is
 * created, so template and injection share the names in pod_layout.h.
 * updateStrategy OnDelete: Patroni decides when an instance restarts, never
 * the StatefulSet controller.
 */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_meta.h"
#include "specs/render_pgbackrest.h"
#include "specs/inject.h"

#define POSTGRES_UID 999

static json_t *restricted_security_context(void)
{
    return json_pack("{s:b,s:b,s:b,s:{s:[s]},s:{s:s}}", "runAsNonRoot", 1, "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem",
                     1, "capabilities", "drop", "ALL", "seccompProfile", "type", "RuntimeDefault");
}

static json_t *env_field(const char *name, const char *field_path)
{
    return json_pack("{s:s,s:{s:{s:s}}}", "name", name, "valueFrom", "fieldRef", "fieldPath", field_path);
}

static json_t *env_secret(const char *name, const char *secret, const char *key)
{
    return json_pack("{s:s,s:{s:{s:s,s:s}}}", "name", name, "valueFrom", "secretKeyRef", "name", secret, "key", key);
}

static json_t *postgres_env(const json_t *cluster)
{
    char *superuser = pgw_child_name(cluster, "-superuser"), *replication = pgw_child_name(cluster, "-replication");
    char *app = pgw_child_name(cluster, "-app"), *pgbouncer = pgw_child_name(cluster, PGW_SUFFIX_PGBOUNCER);
    char *exporter = pgw_child_name(cluster, PGW_SUFFIX_EXPORTER);
    json_t *env = json_array();
    json_array_append_new(env, env_field("PATRONI_NAME", "metadata.name"));
    json_array_append_new(env, env_field("PATRONI_KUBERNETES_NAMESPACE", "metadata.namespace"));
    json_array_append_new(env, env_field("PATRONI_KUBERNETES_POD_IP", "status.podIP"));
    json_array_append_new(
        env, json_pack("{s:s,s:s}", "name", "PATRONI_POSTGRESQL_CONNECT_ADDRESS", "value", "$(PATRONI_KUBERNETES_POD_IP):5432"));
    json_array_append_new(
        env, json_pack("{s:s,s:s}", "name", "PATRONI_RESTAPI_CONNECT_ADDRESS", "value", "$(PATRONI_KUBERNETES_POD_IP):8008"));
    json_array_append_new(env, env_secret("PATRONI_SUPERUSER_PASSWORD", superuser, "password"));
    json_array_append_new(env, env_secret("PATRONI_REPLICATION_PASSWORD", replication, "password"));
    json_array_append_new(env, env_secret("PATRONI_REWIND_PASSWORD", superuser, "password"));
    /* Read by the post-bootstrap script, which passes them to psql as variables. */
    json_array_append_new(env, env_secret("PGW_APP_PASSWORD", app, "password"));
    json_array_append_new(env, env_secret("PGW_PGBOUNCER_PASSWORD", pgbouncer, "password"));
    json_array_append_new(env, env_secret("PGW_EXPORTER_PASSWORD", exporter, PGW_KEY_EXPORTER_PASSWORD));
    json_array_append_new(env, json_pack("{s:s,s:s}", "name", "PGDATA", "value", PGW_POD_PGDATA_DIR));
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

static json_t *postgres_container(const json_t *cluster, const struct pgw_render_ctx *ctx)
{
    const char *image = json_string_value(pgw_cluster_spec(cluster, "image"));
    if (image == NULL)
        image = pgw_config_postgres_image(ctx->config, (int)pgw_cluster_spec_int(cluster, "postgresVersion", 18));
    json_t *mounts =
        json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s,s:b},{s:s,s:s,s:b},{s:s,s:s,s:b}]", "name", PGW_POD_VOLUME_PGDATA,
                  "mountPath", PGW_POD_PGDATA_MOUNT, "name", PGW_POD_VOLUME_SOCKET, "mountPath", PGW_POD_SOCKET_DIR, "name",
                  PGW_POD_VOLUME_TMP, "mountPath", PGW_POD_TMP_DIR, "name", "pgw-patroni", "mountPath", "/etc/patroni", "readOnly",
                  1, "name", "pgw-tls", "mountPath", "/etc/pgwarden/tls", "readOnly", 1, "name", PGW_POD_VOLUME_PGBACKREST,
                  "mountPath", PGW_POD_PGBACKREST_DIR, "readOnly", 1);
    if (pgw_cluster_spec(cluster, "storage.walSize") != NULL)
        json_array_append_new(mounts, json_pack("{s:s,s:s}", "name", PGW_POD_VOLUME_PGWAL, "mountPath", PGW_POD_PGWAL_MOUNT));
    json_t *unused_volumes = json_array(); /* added by volumes() */
    pgw_render_pgbackrest_repo_volumes(cluster, unused_volumes, mounts);
    json_decref(unused_volumes);
    json_t *c = json_pack(
        "{s:s,s:s,s:s,s:[s,s],s:o,s:[{s:s,s:i,s:s},{s:s,s:i,s:s}],s:{s:{s:s,s:i},s:i,s:i,s:i},"
        "s:{s:{s:s,s:i},s:i,s:i,s:i},s:o,s:o}",
        "name", PGW_POD_CONTAINER_POSTGRES, "image", image ? image : "", "imagePullPolicy", ctx->config->image_pull_policy,
        "command", "patroni", "/etc/patroni/patroni.yml", "env", postgres_env(cluster), "ports", "name", PGW_POD_PORT_POSTGRES_NAME,
        "containerPort", PGW_POD_PORT_POSTGRES, "protocol", "TCP", "name", "patroni", "containerPort", 8008, "protocol", "TCP",
        "readinessProbe", "httpGet", "path", "/readiness", "port", 8008, "periodSeconds", 5, "timeoutSeconds", 3,
        "failureThreshold", 3, "livenessProbe", "httpGet", "path", "/liveness", "port", 8008, "periodSeconds", 10, "timeoutSeconds",
        5, "failureThreshold", 6, "volumeMounts", mounts, "securityContext", restricted_security_context());
    json_t *resources = pgw_cluster_spec(cluster, "resources");
    if (json_is_object(resources))
        json_object_set_new(c, "resources", json_deep_copy(resources));
    return c;
}

static json_t *volumes(const json_t *cluster)
{
    char *patroni = pgw_child_name(cluster, "-patroni"), *tls = pgw_child_name(cluster, "-server-tls");
    char *pgbackrest = pgw_child_name(cluster, PGW_SUFFIX_PGBACKREST);
    json_t *v = json_pack("[{s:s,s:{}},{s:s,s:{}},{s:s,s:{s:s,s:i}},{s:s,s:{s:s,s:i}},{s:s,s:{s:s,s:b}}]", "name",
                          PGW_POD_VOLUME_SOCKET, "emptyDir", "name", PGW_POD_VOLUME_TMP, "emptyDir", "name", "pgw-patroni",
                          "configMap", "name", patroni, "defaultMode", 0555, "name", "pgw-tls", "secret", "secretName", tls,
                          "defaultMode", 0600, "name", PGW_POD_VOLUME_PGBACKREST, "configMap", "name", pgbackrest, "optional", 1);
    json_t *unused_mounts = json_array(); /* added by postgres_container() */
    pgw_render_pgbackrest_repo_volumes(cluster, v, unused_mounts);
    json_decref(unused_mounts);
    json_t *tls_secret = pgw_cluster_spec(cluster, "tls.secretName");
    if (json_is_string(tls_secret))
        json_object_set(json_object_get(json_array_get(v, 3), "secret"), "secretName", tls_secret);
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
    json_t *term = json_pack("{s:{s:o},s:s}", "labelSelector", "matchLabels", pgw_pod_selector(cluster), "topologyKey", topology);
    if (strcmp(mode, "required") == 0)
        return json_pack("{s:{s:[o]}}", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", term);
    return json_pack("{s:{s:[{s:i,s:o}]}}", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", "weight", 100,
                     "podAffinityTerm", term);
}

static json_t *claim_template(const json_t *cluster, const char *name, const char *size)
{
    json_t *spec = json_pack("{s:[s],s:{s:{s:s}}}", "accessModes", "ReadWriteOnce", "resources", "requests", "storage", size);
    json_t *storage_class = pgw_cluster_spec(cluster, "storage.storageClass");
    if (json_is_string(storage_class))
        json_object_set(spec, "storageClassName", storage_class);
    return json_pack("{s:{s:s,s:o},s:o}", "metadata", "name", name, "labels", pgw_child_labels(cluster, "database"), "spec", spec);
}

json_t *pgw_render_statefulset(const json_t *cluster, const struct pgw_render_ctx *ctx)
{
    const char *name = pgw_cluster_name(cluster);
    json_t *sts = pgw_child_object(cluster, "apps/v1", "StatefulSet", name, "database");
    char *pods_service = pgw_child_name(cluster, "-pods"), *sa = pgw_child_name(cluster, "-instance");

    char *sidecars = pgw_inject_format_sidecars(pgw_inject_sidecars_for_cluster(cluster));
    json_t *template_meta = json_pack("{s:o,s:{s:s}}", "labels", pgw_child_labels(cluster, "database"), "annotations",
                                      PGW_POD_ANNOTATION_SIDECARS, sidecars);
    free(sidecars);
    json_t *pod_spec = json_pack("{s:s,s:b,s:i,s:{s:b,s:i,s:i,s:i,s:s,s:{s:s}},s:[o],s:o}", "serviceAccountName", sa,
                                 "automountServiceAccountToken", 1, "terminationGracePeriodSeconds", 60, "securityContext",
                                 "runAsNonRoot", 1, "runAsUser", POSTGRES_UID, "runAsGroup", POSTGRES_UID, "fsGroup", POSTGRES_UID,
                                 "fsGroupChangePolicy", "OnRootMismatch", "seccompProfile", "type", "RuntimeDefault", "containers",
                                 postgres_container(cluster, ctx), "volumes", volumes(cluster));
    json_t *aff = affinity(cluster);
    if (aff != NULL)
        json_object_set_new(pod_spec, "affinity", aff);
    json_object_set_new(pod_spec, "topologySpreadConstraints",
                        json_pack("[{s:i,s:s,s:s,s:{s:o}}]", "maxSkew", 1, "topologyKey", "topology.kubernetes.io/zone",
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

    json_object_set_new(sts, "spec",
                        json_pack("{s:I,s:s,s:s,s:{s:s},s:{s:o},s:{s:o,s:o},s:o,s:{s:s,s:s}}", "replicas",
                                  (json_int_t)pgw_cluster_spec_int(cluster, "instances", 1), "serviceName", pods_service,
                                  "podManagementPolicy", "Parallel", "updateStrategy", "type", "OnDelete", "selector",
                                  "matchLabels", pgw_pod_selector(cluster), "template", "metadata", template_meta, "spec", pod_spec,
                                  "volumeClaimTemplates", claims, "persistentVolumeClaimRetentionPolicy", "whenDeleted", "Retain",
                                  "whenScaled", "Retain"));
    free(pods_service);
    free(sa);
    return sts;
}
