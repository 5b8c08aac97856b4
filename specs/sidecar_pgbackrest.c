/*
 * The pgbackrest sidecar: `pgbackrest server` (TLS, 8432), which backup Jobs
 * reach with pgN-host-type=tls so no exec is ever needed (DESIGN.md §7).
 *
 * It shares pgdata (and pgwal when the pod has it), the socket directory, and
 * /tmp, where pgBackRest keeps its locks: archive-push in the postgres
 * container and a backup served here must see each other's locks. Config comes
 * from ConfigMap <cluster>-pgbackrest and the server's TLS key pair and CA from
 * Secret <cluster>-pgbackrest-tls, projected into /etc/pgbackrest. Options that
 * follow from the pod layout are set in the environment (pgBackRest reads
 * PGBACKREST_* before the config file); policy stays in the ConfigMap. The
 * superuser's password (Secret <cluster>-superuser, by naming convention: no
 * API lookup) is PGPASSWORD, for the local connections a backup makes.
 */
#include "specs/sidecars.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render_pgbackrest.h"

static json_t *config_volume(const char *cluster)
{
    char *cm = pgw_asprintf("%s%s", cluster, PGW_SUFFIX_PGBACKREST);
    char *tls = pgw_asprintf("%s%s", cluster, PGW_SUFFIX_PGBACKREST_TLS);
    json_t *v = pgw_json_pack("{s:s,s:{s:i,s:[{s:{s:s}},{s:{s:s}}]}}", "name", PGW_POD_VOLUME_PGBACKREST, "projected",
                              "defaultMode", PGW_PGBACKREST_TLS_MODE, "sources", "configMap", "name", cm, "secret", "name", tls);
    free(cm);
    free(tls);
    return v;
}

static void add_env(json_t *env, const char *name, const char *value)
{
    json_array_append_new(env, pgw_json_pack("{s:s,s:s}", "name", name, "value", value));
}

void pgw_sidecar_pgbackrest_inject(struct pgw_pod_edit *edit)
{
    if (pgw_pod_edit_has_container(edit, PGW_POD_CONTAINER_PGBACKREST))
        return;
    if (!pgw_pod_edit_has_volume(edit, PGW_POD_VOLUME_PGDATA)) {
        pgw_errors_warn(edit->errs, "pod has no volume \"%s\": the pgbackrest sidecar needs it and was not added",
                        PGW_POD_VOLUME_PGDATA);
        return;
    }
    json_t *c = pgw_sidecar_container_new(PGW_POD_CONTAINER_PGBACKREST, &edit->cfg->pgbackrest, edit->cfg->image_pull_policy);
    json_object_set_new(c, "command", pgw_json_pack("[s,s]", "pgbackrest", "server"));
    json_t *env = json_array();
    add_env(env, "PGBACKREST_TLS_SERVER_ADDRESS", "*");
    char port[8];
    snprintf(port, sizeof(port), "%d", PGW_POD_PORT_PGBACKREST);
    add_env(env, "PGBACKREST_TLS_SERVER_PORT", port);
    add_env(env, "PGBACKREST_TLS_SERVER_CERT_FILE", PGW_POD_PGBACKREST_DIR "/" PGW_KEY_TLS_CERT);
    add_env(env, "PGBACKREST_TLS_SERVER_KEY_FILE", PGW_POD_PGBACKREST_DIR "/" PGW_KEY_TLS_KEY);
    add_env(env, "PGBACKREST_TLS_SERVER_CA_FILE", PGW_POD_PGBACKREST_DIR "/" PGW_KEY_TLS_CA);
    add_env(env, "PGBACKREST_CONFIG", PGW_POD_PGBACKREST_DIR "/" PGW_KEY_PGBACKREST_CONF);
    add_env(env, "PGBACKREST_LOCK_PATH", PGW_POD_PGBACKREST_LOCK_DIR);
    add_env(env, "PGBACKREST_LOG_LEVEL_FILE", "off"); /* the root filesystem is read-only; logs go to stdout */
    add_env(env, "PGBACKREST_LOG_LEVEL_CONSOLE", "info");
    /* The server never touches the repository (the Jobs are the repository host and archive-push
     * runs in the postgres container), but it loads the instance side of the config, where
     * spec.backup.encryptionSecret sets repo1-cipher-type, and pgBackRest then demands
     * repo1-cipher-pass for every command it serves: stanza-create failed on every instance. The
     * pass is in a Secret the webhook cannot name (admission never reads the cluster), and the
     * server has no use for it: the environment overrides the file. */
    add_env(env, "PGBACKREST_REPO1_CIPHER_TYPE", "none");
    /* The server's local processes connect to postgres over the socket as the superuser (pg1-user),
     * and pg_hba asks every local connection for a password: libpq reads it from PGPASSWORD. */
    char *superuser = pgw_asprintf("%s%s", edit->cluster, PGW_SUFFIX_SUPERUSER);
    json_array_append_new(env, pgw_json_pack("{s:s,s:{s:{s:s,s:s}}}", "name", "PGPASSWORD", "valueFrom", "secretKeyRef", "name",
                                             superuser, "key", "password"));
    free(superuser);
    json_object_set_new(c, "env", env);
    pgw_sidecar_add_port(c, PGW_POD_PORT_PGBACKREST_NAME, PGW_POD_PORT_PGBACKREST);
    pgw_sidecar_tcp_probes(c, PGW_POD_PORT_PGBACKREST_NAME);
    pgw_sidecar_add_mount(c, PGW_POD_VOLUME_PGDATA, PGW_POD_PGDATA_MOUNT, 0);
    if (pgw_pod_edit_has_volume(edit, PGW_POD_VOLUME_PGWAL))
        pgw_sidecar_add_mount(c, PGW_POD_VOLUME_PGWAL, PGW_POD_PGWAL_MOUNT, 0);
    pgw_sidecar_add_mount(c, PGW_POD_VOLUME_SOCKET, PGW_POD_SOCKET_DIR, 0);
    pgw_sidecar_add_mount(c, PGW_POD_VOLUME_TMP, PGW_POD_TMP_DIR, 0);
    pgw_sidecar_add_mount(c, PGW_POD_VOLUME_PGBACKREST, PGW_POD_PGBACKREST_DIR, 1);
    pgw_pod_edit_add_container(edit, c);
    pgw_sidecar_add_shared_volumes(edit, 1);
    pgw_pod_edit_add_volume(edit, config_volume(edit->cluster));
}
