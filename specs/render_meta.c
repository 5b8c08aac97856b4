/*
 * Names, labels and owner references shared by every rendered child.
 */
#include "specs/render_meta.h"

#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/object.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"

const char *pgw_cluster_name(const json_t *cluster)
{
    const char *s = pgw_obj_meta_str(cluster, "name");
    return s != NULL ? s : "";
}

const char *pgw_cluster_namespace(const json_t *cluster)
{
    const char *s = pgw_obj_meta_str(cluster, "namespace");
    return s != NULL ? s : "default";
}

json_t *pgw_cluster_spec(const json_t *cluster, const char *dotted)
{
    /* borrowed, as json_object_get returns it: callers may hand it to json_object_set */
    return (json_t *)pgw_obj_at(json_object_get(cluster, "spec"), dotted);
}

long long pgw_cluster_spec_int(const json_t *cluster, const char *dotted, long long fallback)
{
    json_t *v = pgw_cluster_spec(cluster, dotted);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

int pgw_cluster_spec_bool(const json_t *cluster, const char *dotted, int fallback)
{
    json_t *v = pgw_cluster_spec(cluster, dotted);
    return json_is_boolean(v) ? json_is_true(v) : fallback;
}

char *pgw_child_name(const json_t *cluster, const char *suffix)
{
    return pgw_obj_child_name(pgw_cluster_name(cluster), suffix);
}

json_t *pgw_pod_selector(const json_t *cluster)
{
    return pgw_json_pack("{s:s}", PGW_POD_LABEL_CLUSTER, pgw_cluster_name(cluster));
}

json_t *pgw_child_labels(const json_t *cluster, const char *component)
{
    json_t *labels = json_object();
    /* User labels first, so ours win on a clash (validation denies reserved prefixes anyway). */
    json_t *user = pgw_cluster_spec(cluster, "metadata.labels");
    if (json_is_object(user))
        json_object_update(labels, user);
    json_object_set_new(labels, "app.kubernetes.io/name", json_string("postgresql"));
    json_object_set_new(labels, "app.kubernetes.io/instance", json_string(pgw_cluster_name(cluster)));
    json_object_set_new(labels, "app.kubernetes.io/component", json_string(component));
    json_object_set_new(labels, "app.kubernetes.io/managed-by", json_string("pgwarden"));
    json_object_set_new(labels, PGW_POD_LABEL_CLUSTER, json_string(pgw_cluster_name(cluster)));
    return labels;
}

json_t *pgw_child_object(const json_t *cluster, const char *api_version, const char *kind, const char *name, const char *component)
{
    const json_t *meta = json_object_get(cluster, "metadata");
    const char *uid = json_string_value(json_object_get(meta, "uid"));
    json_t *owner =
        pgw_json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", "pgwarden.io/v1", "kind", "PostgresCluster", "name",
                      pgw_cluster_name(cluster), "uid", uid != NULL ? uid : "", "controller", 1, "blockOwnerDeletion", 1);
    json_t *metadata = pgw_json_pack("{s:s,s:s,s:o,s:[o]}", "name", name, "namespace", pgw_cluster_namespace(cluster), "labels",
                                     pgw_child_labels(cluster, component), "ownerReferences", owner);
    json_t *annotations = pgw_cluster_spec(cluster, "metadata.annotations");
    if (json_is_object(annotations) && json_object_size(annotations) != 0)
        json_object_set_new(metadata, "annotations", json_deep_copy(annotations));
    return pgw_json_pack("{s:s,s:s,s:o}", "apiVersion", api_version, "kind", kind, "metadata", metadata);
}
