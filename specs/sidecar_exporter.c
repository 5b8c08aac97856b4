/*
 * The exporter sidecar: postgres_exporter on 9187 (port name "metrics"),
 * logged in as the pg_monitor role over the shared unix socket. The password is
 * a file from Secret <cluster>-exporter; the environment is the one
 * specs/render_exporter.c renders, so the data-plane test runs exactly it.
 */
#include "specs/sidecars.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render_exporter.h"

void pgw_sidecar_exporter_inject(struct pgw_pod_edit *edit)
{
    if (pgw_pod_edit_has_container(edit, PGW_POD_CONTAINER_EXPORTER))
        return;
    json_t *c = pgw_sidecar_container_new(PGW_POD_CONTAINER_EXPORTER, &edit->cfg->exporter, edit->cfg->image_pull_policy);
    char listen[16];
    snprintf(listen, sizeof(listen), ":%d", PGW_POD_PORT_EXPORTER);
    json_object_set_new(c, "args", pgw_render_exporter_args(listen));
    json_object_set_new(c, "env", pgw_render_exporter_env(NULL));
    pgw_sidecar_add_port(c, PGW_POD_PORT_EXPORTER_NAME, PGW_POD_PORT_EXPORTER);
    pgw_sidecar_tcp_probes(c, PGW_POD_PORT_EXPORTER_NAME);
    pgw_sidecar_add_mount(c, PGW_POD_VOLUME_SOCKET, PGW_POD_SOCKET_DIR, 0);
    pgw_sidecar_add_mount(c, PGW_POD_VOLUME_EXPORTER, PGW_POD_EXPORTER_DIR, 1);
    pgw_pod_edit_add_container(edit, c);

    pgw_sidecar_add_shared_volumes(edit, 0);
    char *secret = pgw_asprintf("%s%s", edit->cluster, PGW_SUFFIX_EXPORTER);
    pgw_pod_edit_add_volume(edit, pgw_json_pack("{s:s,s:{s:s}}", "name", PGW_POD_VOLUME_EXPORTER, "secret", "secretName", secret));
    free(secret);
}
