/*
 * ServiceAccount, Role and RoleBinding `<cluster>-instance`: what Patroni needs
 * to use the Kubernetes API as its DCS, and nothing more. Patroni with
 * use_endpoints keeps the leader lock and config on Endpoints, labels pods with
 * their role, and creates the `<cluster>-config` service if it is missing.
 */
#include <stdlib.h>

#include "common/json_pack.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_meta.h"

void pgw_render_rbac(const json_t *cluster, json_t *out)
{
    char *name = pgw_child_name(cluster, PGW_SUFFIX_INSTANCE);
    json_array_append_new(out, pgw_child_object(cluster, "v1", "ServiceAccount", name, "database"));

    json_t *role = pgw_child_object(cluster, "rbac.authorization.k8s.io/v1", "Role", name, "database");
    json_object_set_new(role, "rules",
                        pgw_json_pack("[{s:[s],s:[s],s:[s,s,s,s,s,s,s]},{s:[s],s:[s],s:[s,s,s,s]},{s:[s],s:[s],s:[s]}]",
                                      "apiGroups", "", "resources", "endpoints", "verbs", "get", "list", "watch", "create",
                                      "update", "patch", "delete", "apiGroups", "", "resources", "pods", "verbs", "get", "list",
                                      "watch", "patch", "apiGroups", "", "resources", "services", "verbs", "create"));
    json_array_append_new(out, role);

    json_t *binding = pgw_child_object(cluster, "rbac.authorization.k8s.io/v1", "RoleBinding", name, "database");
    json_object_set_new(binding, "roleRef",
                        pgw_json_pack("{s:s,s:s,s:s}", "apiGroup", "rbac.authorization.k8s.io", "kind", "Role", "name", name));
    json_object_set_new(
        binding, "subjects",
        pgw_json_pack("[{s:s,s:s,s:s}]", "kind", "ServiceAccount", "name", name, "namespace", pgw_cluster_namespace(cluster)));
    json_array_append_new(out, binding);
    free(name);
}
