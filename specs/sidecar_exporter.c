/*
 * The exporter sidecar: postgres_exporter on 9187 (port name "metrics"),
 * logged in as the pg_monitor role over the shared unix socket. The password is
 * a file from Secret <cluster>-exporter; the environment is the one
 * specs/render_exporter.c renders, so the data-plane test runs exactly it.
 *
 * Custom queries: the pod's PGW_POD_ANNOTATION_METRICS_QUERIES (written on the
 * StatefulSet template from spec.metrics.customQueriesConfigMap) names a
 * ConfigMap, mounted optional: a missing ConfigMap or key must not keep the
 * database pod from starting. The exporter then reports the failed load as
 * pg_exporter_user_queries_load_error and serves its built-in metrics.
 */
#include "specs/sidecars.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/json_pack.h"
#include "common/names.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render_exporter.h"

/* The custom queries ConfigMap the pod names, or NULL (a malformed name is warned about and ignored). */
static const char *queries_configmap(const struct pgw_pod_edit *edit)
{
    const json_t *annotations = json_object_get(json_object_get(edit->pod, "metadata"), "annotations");
    const char *name = json_string_value(json_object_get(annotations, PGW_POD_ANNOTATION_METRICS_QUERIES));
    if (name == NULL)
        return NULL;
    if (pgw_dns1123_subdomain(name, NULL) != 0) {
        pgw_errors_warn(edit->errs, "annotation %s=\"%.40s\" is not a ConfigMap name; no custom queries mounted",
                        PGW_POD_ANNOTATION_METRICS_QUERIES, name);
        return NULL;
    }
    return name;
}

void pgw_sidecar_exporter_inject(struct pgw_pod_edit *edit)
{
    if (pgw_pod_edit_has_container(edit, PGW_POD_CONTAINER_EXPORTER))
        return;
    json_t *c = pgw_sidecar_container_new(PGW_POD_CONTAINER_EXPORTER, &edit->cfg->exporter, edit->cfg->image_pull_policy);
    char listen[16];
    snprintf(listen, sizeof(listen), ":%d", PGW_POD_PORT_EXPORTER);
    json_t *args = pgw_render_exporter_args(listen);
    const char *queries = queries_configmap(edit);
    if (queries != NULL)
        json_array_append_new(args, json_string(PGW_EXPORTER_QUERIES_FLAG));
    json_object_set_new(c, "args", args);
    json_object_set_new(c, "env", pgw_render_exporter_env(NULL));
    pgw_sidecar_add_port(c, PGW_POD_PORT_EXPORTER_NAME, PGW_POD_PORT_EXPORTER);
    pgw_sidecar_tcp_probes(c, PGW_POD_PORT_EXPORTER_NAME);
    pgw_sidecar_add_mount(c, PGW_POD_VOLUME_SOCKET, PGW_POD_SOCKET_DIR, 0);
    pgw_sidecar_add_mount(c, PGW_POD_VOLUME_EXPORTER, PGW_POD_EXPORTER_DIR, 1);
    if (queries != NULL)
        pgw_sidecar_add_mount(c, PGW_POD_VOLUME_QUERIES, PGW_POD_EXPORTER_QUERIES_DIR, 1);
    pgw_pod_edit_add_container(edit, c);

    pgw_sidecar_add_shared_volumes(edit, 0);
    char *secret = pgw_asprintf("%s%s", edit->cluster, PGW_SUFFIX_EXPORTER);
    pgw_pod_edit_add_volume(edit, pgw_json_pack("{s:s,s:{s:s}}", "name", PGW_POD_VOLUME_EXPORTER, "secret", "secretName", secret));
    free(secret);
    if (queries != NULL)
        pgw_pod_edit_add_volume(
            edit, pgw_json_pack("{s:s,s:{s:s,s:b}}", "name", PGW_POD_VOLUME_QUERIES, "configMap", "name", queries, "optional", 1));
}
