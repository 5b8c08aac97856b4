/*
 * The pgbouncer sidecar: PgBouncer on 6432, reaching postgres over the shared
 * unix socket. Its pgbouncer.ini comes from ConfigMap <cluster>-pgbouncer and
 * its auth_file (and TLS key pair) from Secret <cluster>-pgbouncer, projected
 * together into one directory (specs/render_pgbouncer.h renders both).
 */
#include "specs/sidecars.h"

#include <stdlib.h>

#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"

static json_t *config_volume(const char *cluster)
{
    char *name = pgw_asprintf("%s%s", cluster, PGW_SUFFIX_PGBOUNCER);
    json_t *v = pgw_json_pack("{s:s,s:{s:[{s:{s:s}},{s:{s:s}}]}}", "name", PGW_POD_VOLUME_PGBOUNCER, "projected", "sources",
                              "configMap", "name", name, "secret", "name", name);
    free(name);
    return v;
}

void pgw_sidecar_pgbouncer_inject(struct pgw_pod_edit *edit)
{
    if (pgw_pod_edit_has_container(edit, PGW_POD_CONTAINER_PGBOUNCER))
        return;
    json_t *c = pgw_sidecar_container_new(PGW_POD_CONTAINER_PGBOUNCER, &edit->cfg->pgbouncer, edit->cfg->image_pull_policy);
    json_object_set_new(c, "command", pgw_json_pack("[s,s]", "pgbouncer", PGW_POD_PGBOUNCER_DIR "/" PGW_KEY_PGBOUNCER_INI));
    pgw_sidecar_add_port(c, PGW_POD_PORT_PGBOUNCER_NAME, PGW_POD_PORT_PGBOUNCER);
    pgw_sidecar_tcp_probes(c, PGW_POD_PORT_PGBOUNCER_NAME);
    pgw_sidecar_add_mount(c, PGW_POD_VOLUME_SOCKET, PGW_POD_SOCKET_DIR, 0);
    pgw_sidecar_add_mount(c, PGW_POD_VOLUME_PGBOUNCER, PGW_POD_PGBOUNCER_DIR, 1);
    pgw_pod_edit_add_container(edit, c);
    pgw_sidecar_add_shared_volumes(edit, 0);
    pgw_pod_edit_add_volume(edit, config_volume(edit->cluster));
}
