/*
 * Parameters the operator sets itself, and who sets them.
 *
 * A user value for these would either be overwritten (so the spec would lie)
 * or break the cluster: Patroni must own networking, the data and config
 * paths, replication and recovery settings to run failover; pgBackRest owns
 * WAL archiving and restore; pgwarden owns TLS (spec.tls), the unix sockets
 * its sidecars use, and the pid file. The admission error names the owner so
 * the user knows where the value comes from instead.
 */
#include "validators/pg_owned.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

struct st_owned_t {
    const char *name; /* exact name, or a prefix when it ends in '*' */
    const char *owner;
};

static const struct st_owned_t owned[] = {
    /* Patroni: how and where the server runs, and replication between members. */
    {"listen_addresses", "Patroni sets it"},
    {"port", "Patroni sets it"},
    {"data_directory", "Patroni sets it"},
    {"config_file", "Patroni sets it"},
    {"hba_file", "Patroni sets it; use spec.postgres.pgHba"},
    {"ident_file", "Patroni sets it"},
    {"cluster_name", "Patroni sets it to the cluster's name"},
    {"hot_standby", "Patroni sets it"},
    {"wal_log_hints", "Patroni sets it so that pg_rewind can resynchronise a former primary"},
    {"primary_conninfo", "Patroni sets it"},
    {"primary_slot_name", "Patroni sets it"},
    {"promote_trigger_file", "Patroni promotes replicas itself"},
    {"synchronous_standby_names", "Patroni sets it in synchronous mode"},
    {"recovery_target*", "pgwarden sets it from spec.bootstrap.restore.target"},
    {"recovery_end_command", "Patroni and pgBackRest run recovery"},
    /* pgBackRest: WAL archiving and restore. */
    {"archive_mode", "pgBackRest archiving is enabled from spec.backup"},
    {"archive_command", "pgBackRest sets it"},
    {"archive_library", "pgBackRest archives through archive_command"},
    {"archive_cleanup_command", "pgBackRest expires WAL by its retention policy"},
    {"restore_command", "pgBackRest sets it"},
    /* pgwarden itself. */
    {"ssl", "pgwarden sets it from spec.tls"},
    {"ssl_*", "pgwarden sets it from spec.tls"},
    {"unix_socket_directories", "pgwarden sets it; its sidecars connect through the socket"},
    {"unix_socket_group", "pgwarden sets it; its sidecars connect through the socket"},
    {"unix_socket_permissions", "pgwarden sets it; its sidecars connect through the socket"},
    {"external_pid_file", "pgwarden sets it"},
};

const char *pgw_pg_owned_by(const char *name)
{
    for (size_t i = 0; i != sizeof(owned) / sizeof(owned[0]); ++i) {
        size_t len = strlen(owned[i].name);
        if (owned[i].name[len - 1] == '*') {
            if (strncasecmp(name, owned[i].name, len - 1) == 0)
                return owned[i].owner;
        } else if (strcasecmp(name, owned[i].name) == 0) {
            return owned[i].owner;
        }
    }
    return NULL;
}
