/*
 * All children of a cluster, in the order the controller applies them.
 */
#include "common/json_pack.h"
#include "specs/render.h"
#include "specs/render_backup.h"
#include "specs/render_pgbackrest.h"

json_t *pgw_render_cluster(const json_t *cluster, const struct pgw_render_ctx *ctx)
{
    json_t *out = json_array();
    pgw_render_rbac(cluster, out);
    pgw_render_secrets(cluster, ctx, out);
    pgw_render_configmaps(cluster, ctx, out);
    json_t *repo_claim = pgw_render_pgbackrest_repo_claim(cluster);
    if (repo_claim != NULL)
        json_array_append_new(out, repo_claim);
    pgw_render_services(cluster, out);
    json_array_append_new(out, pgw_render_statefulset(cluster, ctx));
    pgw_render_backup_cronjobs(cluster, ctx, out);
    return out;
}

json_t *pgw_render_list(json_t *items)
{
    return pgw_json_pack("{s:s,s:s,s:{},s:o}", "apiVersion", "v1", "kind", "List", "metadata", "items", items);
}
