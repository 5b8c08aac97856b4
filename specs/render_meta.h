/*
 * Shared pieces of every rendered child: names, labels, owner reference, and
 * small accessors for the cluster spec. Internal to specs/render_*.c.
 */
#ifndef PGW_SPECS_RENDER_META_H
#define PGW_SPECS_RENDER_META_H

#include <jansson.h>

const char *pgw_cluster_name(const json_t *cluster);
const char *pgw_cluster_namespace(const json_t *cluster);
/* spec.<dotted.path>, borrowed, or NULL. */
json_t *pgw_cluster_spec(const json_t *cluster, const char *dotted);
/* Integer at spec.<path>, or `fallback`. */
long long pgw_cluster_spec_int(const json_t *cluster, const char *dotted, long long fallback);
/* 1 when spec.<path> is true, 0 when false, `fallback` when unset. */
int pgw_cluster_spec_bool(const json_t *cluster, const char *dotted, int fallback);

/* "<cluster><suffix>", malloc'd. */
char *pgw_child_name(const json_t *cluster, const char *suffix);

/* Labels every child carries (new object): app.kubernetes.io/... and pgwarden.io/cluster, plus spec.metadata.labels. */
json_t *pgw_child_labels(const json_t *cluster, const char *component);
/* The selector labels of the cluster's pods (new object). */
json_t *pgw_pod_selector(const json_t *cluster);

/*
 * A new object {apiVersion, kind, metadata{name, namespace, labels, annotations,
 * ownerReferences}} owned by the cluster (controller=true).
 */
json_t *pgw_child_object(const json_t *cluster, const char *api_version, const char *kind, const char *name, const char *component);

#endif
