/*
 * Sidecar injection into database pods (DESIGN.md §5).
 *
 * A pod labelled pgwarden.io/cluster=<name> and annotated
 * pgwarden.io/sidecars=<list> gets the listed sidecars (pooler → pgbouncer,
 * metrics → exporter, backup → pgbackrest) and the volumes they need, and is
 * stamped pgwarden.io/injected=<hash> (specs/inject.h).
 *
 * Invariants:
 *  - No API lookups: only the pod, the operator configuration and naming
 *    conventions (specs/pod_layout.h) decide what is added.
 *  - Idempotent: a container that exists by name (in containers or
 *    initContainers) is left exactly as written, volumes are added only when
 *    no volume has that name, and the stamp depends only on the requested set
 *    and the configuration. A second run changes nothing, which is what
 *    reinvocationPolicy IfNeeded relies on.
 *  - Independent of other injectors: our containers are appended and never
 *    depend on anything else in the pod, so injectors running before or after
 *    us (istio-proxy, init containers) do not change what we add.
 *  - A pod we cannot make sense of is left alone with a warning, never denied:
 *    the API server's own validation has the last word on malformed pods.
 */
#include "mutators/mutators.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "specs/inject.h"
#include "specs/pod_layout.h"
#include "specs/sidecars.h"

static json_t *object_member(json_t *obj, const char *key, int create)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL && create) {
        v = json_object();
        json_object_set_new(obj, key, v);
    }
    return v;
}

/* The cluster name goes into ConfigMap and Secret names: a DNS-1123 label (the
 * validator enforces the stricter DNS-1035 rule on the cluster itself). */
static int usable_cluster_name(const char *s)
{
    return pgw_dns1123_label(s, NULL) == 0;
}

/* Sets annotation `key` when absent. */
static void annotate_default(json_t *annotations, const char *key, const char *value)
{
    if (json_object_get(annotations, key) == NULL)
        json_object_set_new(annotations, key, json_string(value));
}

/* Replaces obj[key] by a shallow copy when it is an object or array; returns the member. */
static json_t *own_member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_object(v) && !json_is_array(v))
        return v;
    json_t *copy = json_copy(v);
    json_object_set_new(obj, key, copy);
    return copy;
}

json_t *pgw_pod_copy_for_edit(const json_t *pod)
{
    json_t *copy = json_copy((json_t *)pod);
    if (!json_is_object(copy))
        return copy;
    own_member(own_member(copy, "metadata"), "annotations");
    json_t *spec = own_member(copy, "spec");
    own_member(spec, "containers");
    own_member(spec, "volumes");
    return copy;
}

void pgw_mutate_pod(json_t *pod, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    json_t *metadata = json_object_get(pod, "metadata");
    const char *cluster = json_string_value(json_object_get(json_object_get(metadata, "labels"), PGW_POD_LABEL_CLUSTER));
    json_t *annotations = json_object_get(metadata, "annotations");
    const char *list = json_string_value(json_object_get(annotations, PGW_POD_ANNOTATION_SIDECARS));
    if (cluster == NULL || list == NULL || ctx == NULL || ctx->config == NULL)
        return; /* not a pgwarden database pod (or not one we were asked to fill) */

    if (!usable_cluster_name(cluster)) {
        pgw_errors_warn(errs, "label %s=\"%.40s\" is not a cluster name; no sidecars injected", PGW_POD_LABEL_CLUSTER, cluster);
        return;
    }
    json_t *spec = json_object_get(pod, "spec");
    json_t *containers = json_object_get(spec, "containers");
    json_t *volumes = json_object_get(spec, "volumes");
    json_t *init_containers = json_object_get(spec, "initContainers");
    if (!json_is_object(spec) || (containers != NULL && !json_is_array(containers)) ||
        (volumes != NULL && !json_is_array(volumes)) || (init_containers != NULL && !json_is_array(init_containers))) {
        pgw_errors_warn(errs, "pod spec is malformed (containers, initContainers and volumes must be lists); no sidecars injected");
        return;
    }

    unsigned set = pgw_inject_parse_sidecars(list, errs);
    if (containers == NULL) {
        containers = json_array();
        json_object_set_new(spec, "containers", containers);
    }
    struct pgw_pod_edit edit = {
        .pod = pod,
        .spec = spec,
        .containers = containers,
        .init_containers = init_containers,
        .cluster = cluster,
        .cfg = ctx->config,
        .errs = errs,
    };
    if (set & PGW_INJECT_POOLER)
        pgw_sidecar_pgbouncer_inject(&edit);
    if (set & PGW_INJECT_METRICS)
        pgw_sidecar_exporter_inject(&edit);
    if (set & PGW_INJECT_BACKUP)
        pgw_sidecar_pgbackrest_inject(&edit);

    annotations = object_member(metadata, "annotations", 1);
    if (set & PGW_INJECT_METRICS) {
        char port[8];
        snprintf(port, sizeof(port), "%d", PGW_POD_PORT_EXPORTER);
        annotate_default(annotations, "prometheus.io/scrape", "true");
        annotate_default(annotations, "prometheus.io/port", port);
        annotate_default(annotations, "prometheus.io/path", PGW_POD_METRICS_PATH);
    }
    char *hash = pgw_inject_expected_hash(set, ctx->config);
    json_object_set_new(annotations, PGW_POD_ANNOTATION_INJECTED, json_string(hash));
    free(hash);
}
