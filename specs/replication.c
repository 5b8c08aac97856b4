/*
 * spec.replication rendered as Patroni's dynamic configuration (see
 * replication.h). The same object seeds bootstrap.dcs and is what the
 * controller keeps in the `<cluster>-config` annotation afterwards, so a new
 * cluster and an edited one end up with the same settings. postgresql.pg_hba
 * rides along for the same reason: Patroni applies a changed list with a
 * reload on its next HA loop.
 */
#include "specs/replication.h"

#include <string.h>

#include "common/json_pack.h"
#include "specs/render.h"
#include "specs/render_meta.h"

const char *pgw_replication_synchronous(const json_t *value)
{
    if (json_is_boolean(value))
        return json_is_true(value) ? "on" : "off";
    const char *s = json_string_value(value);
    if (s != NULL && (strcmp(s, "off") == 0 || strcmp(s, "on") == 0 || strcmp(s, "strict") == 0))
        return s;
    return NULL;
}

json_t *pgw_render_patroni_dcs_settings(const json_t *cluster)
{
    const char *sync = pgw_replication_synchronous(pgw_cluster_spec(cluster, "replication.synchronous"));
    int on = sync != NULL && strcmp(sync, "off") != 0, strict = sync != NULL && strcmp(sync, "strict") == 0;
    return pgw_json_pack(
        "{s:I,s:I,s:I,s:b,s:b,s:b,s:{s:o}}", "ttl",
        (json_int_t)pgw_cluster_spec_int(cluster, "replication.ttl", PGW_REPLICATION_TTL_DEFAULT), "loop_wait",
        (json_int_t)pgw_cluster_spec_int(cluster, "replication.loopWait", PGW_REPLICATION_LOOP_WAIT_DEFAULT), "retry_timeout",
        (json_int_t)pgw_cluster_spec_int(cluster, "replication.retryTimeout", PGW_REPLICATION_RETRY_TIMEOUT_DEFAULT),
        "synchronous_mode", on, "synchronous_mode_strict", strict, "failsafe_mode", 1, "postgresql", "pg_hba",
        pgw_render_pg_hba(cluster));
}
