/*
 * PgBouncer [pgbouncer] settings: an allow-list with types and ranges.
 *
 * Anything that decides how PgBouncer is wired into the pod (listeners,
 * sockets, authentication, TLS files, logging destinations, admin users) is
 * written by the operator into <cluster>-pgbouncer; letting users override it
 * would break the sidecar. Pool sizing has first-class fields in spec.pooler,
 * so the raw settings are pointed there. Types follow PgBouncer's config
 * parser: integers, booleans (0/1, on/off, yes/no, true/false), durations in
 * seconds (fractions allowed), and free strings.
 */
#include "validators/pgbouncer_params.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "validators/fields.h"

enum st_bouncer_type_t { T_INT, T_BOOL, T_SECONDS, T_STRING, T_ENUM };

static const struct {
    const char *name;
    enum st_bouncer_type_t type;
    long long min, max;
    const char *values; /* T_ENUM: '|'-separated */
} allowed[] = {
    {"max_db_connections", T_INT, 0, 100000, NULL},
    {"max_user_connections", T_INT, 0, 100000, NULL},
    {"min_pool_size", T_INT, 0, 10000, NULL},
    {"reserve_pool_size", T_INT, 0, 10000, NULL},
    {"reserve_pool_timeout", T_SECONDS, 0, 0, NULL},
    {"max_prepared_statements", T_INT, 0, 100000, NULL},
    {"server_round_robin", T_BOOL, 0, 0, NULL},
    {"server_reset_query", T_STRING, 0, 0, NULL},
    {"server_reset_query_always", T_BOOL, 0, 0, NULL},
    {"server_check_delay", T_SECONDS, 0, 0, NULL},
    {"server_check_query", T_STRING, 0, 0, NULL},
    {"server_fast_close", T_BOOL, 0, 0, NULL},
    {"server_lifetime", T_SECONDS, 0, 0, NULL},
    {"server_idle_timeout", T_SECONDS, 0, 0, NULL},
    {"server_connect_timeout", T_SECONDS, 0, 0, NULL},
    {"server_login_retry", T_SECONDS, 0, 0, NULL},
    {"client_login_timeout", T_SECONDS, 0, 0, NULL},
    {"autodb_idle_timeout", T_SECONDS, 0, 0, NULL},
    {"query_timeout", T_SECONDS, 0, 0, NULL},
    {"query_wait_timeout", T_SECONDS, 0, 0, NULL},
    {"cancel_wait_timeout", T_SECONDS, 0, 0, NULL},
    {"client_idle_timeout", T_SECONDS, 0, 0, NULL},
    {"idle_transaction_timeout", T_SECONDS, 0, 0, NULL},
    {"suspend_timeout", T_SECONDS, 0, 0, NULL},
    {"ignore_startup_parameters", T_STRING, 0, 0, NULL},
    {"track_extra_parameters", T_STRING, 0, 0, NULL},
    {"application_name_add_host", T_BOOL, 0, 0, NULL},
    {"disable_pqexec", T_BOOL, 0, 0, NULL},
    {"log_connections", T_BOOL, 0, 0, NULL},
    {"log_disconnections", T_BOOL, 0, 0, NULL},
    {"log_pooler_errors", T_BOOL, 0, 0, NULL},
    {"log_stats", T_BOOL, 0, 0, NULL},
    {"stats_period", T_INT, 1, 86400, NULL},
    {"verbose", T_INT, 0, 3, NULL},
    {"pkt_buf", T_INT, 4096, 1048576, NULL},
    {"max_packet_size", T_INT, 9, 2147483647LL, NULL},
    {"listen_backlog", T_INT, 1, 65535, NULL},
    {"sbuf_loopcnt", T_INT, 0, 1000000, NULL},
    {"so_reuseport", T_BOOL, 0, 0, NULL},
    {"tcp_defer_accept", T_INT, 0, 3600, NULL},
    {"tcp_socket_buffer", T_INT, 0, 16777216, NULL},
    {"tcp_keepalive", T_BOOL, 0, 0, NULL},
    {"tcp_keepcnt", T_INT, 0, 1000, NULL},
    {"tcp_keepidle", T_INT, 0, 86400, NULL},
    {"tcp_keepintvl", T_INT, 0, 86400, NULL},
    {"tcp_user_timeout", T_INT, 0, 2147483647LL, NULL},
    {"dns_max_ttl", T_SECONDS, 0, 0, NULL},
    {"dns_nxdomain_ttl", T_SECONDS, 0, 0, NULL},
    {"dns_zone_check_period", T_SECONDS, 0, 0, NULL},
    {"stats_users_prefix", T_STRING, 0, 0, NULL},
    {"server_tls_protocols", T_ENUM, 0, 0, "secure|all|tlsv1.2|tlsv1.3|tlsv1.2,tlsv1.3"},
};

/* Settings the operator writes, with the field to use instead (NULL: none). */
static const struct {
    const char *name;
    const char *instead;
} owned[] = {
    {"pool_mode", "spec.pooler.mode"},
    {"max_client_conn", "spec.pooler.maxClientConnections"},
    {"default_pool_size", "spec.pooler.defaultPoolSize"},
    {"listen_addr", NULL},
    {"listen_port", NULL},
    {"unix_socket_dir", NULL},
    {"unix_socket_mode", NULL},
    {"unix_socket_group", NULL},
    {"auth_type", NULL},
    {"auth_file", NULL},
    {"auth_hba_file", NULL},
    {"auth_ident_file", NULL},
    {"auth_query", NULL},
    {"auth_user", NULL},
    {"auth_dbname", NULL},
    {"admin_users", NULL},
    {"stats_users", NULL},
    {"logfile", NULL},
    {"pidfile", NULL},
    {"syslog", NULL},
    {"syslog_ident", NULL},
    {"syslog_facility", NULL},
    {"user", NULL},
    {"conffile", NULL},
    {"service_name", NULL},
    {"job_name", NULL},
    {"peer_id", NULL},
    {"resolv_conf", NULL},
    {"client_tls_sslmode", "spec.tls"},
    {"client_tls_key_file", "spec.tls"},
    {"client_tls_cert_file", "spec.tls"},
    {"client_tls_ca_file", "spec.tls"},
    {"server_tls_sslmode", NULL},
    {"server_tls_key_file", NULL},
    {"server_tls_cert_file", NULL},
    {"server_tls_ca_file", NULL},
};

static int is_bool(const char *s)
{
    static const char *const words[] = {"0", "1", "on", "off", "yes", "no", "true", "false", NULL};
    for (const char *const *w = words; *w; ++w)
        if (strcasecmp(s, *w) == 0)
            return 1;
    return 0;
}

/* Non-negative decimal seconds ("30", "0.5"). */
static int is_seconds(const char *s)
{
    char *end = NULL;
    if (*s == '\0' || *s == '-' || *s == '+' || isspace((unsigned char)*s))
        return 0;
    double d = strtod(s, &end);
    return *end == '\0' && d >= 0 && d < 1e9;
}

static int enum_has(const char *values, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = values;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncasecmp(p, s, n) == 0)
            return 1;
        if (bar == NULL)
            return 0;
        p = bar + 1;
    }
}

static void check_one(const char *name, const json_t *value, const char *path, struct pgw_errors *errs)
{
    for (size_t i = 0; i != sizeof(owned) / sizeof(owned[0]); ++i) {
        if (strcmp(owned[i].name, name) != 0)
            continue;
        if (owned[i].instead)
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, value, "set by the operator from %s: use that field", owned[i].instead);
        else
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, value, "managed by the operator (it wires PgBouncer into the pod)");
        return;
    }
    for (size_t i = 0; i != sizeof(allowed) / sizeof(allowed[0]); ++i) {
        if (strcmp(allowed[i].name, name) != 0)
            continue;
        if (!json_is_string(value)) {
            pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "must be a string (quote numbers and booleans in YAML)");
            return;
        }
        const char *s = json_string_value(value);
        if (strchr(s, '\n') != NULL || strchr(s, '\r') != NULL) {
            pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "must be a single line");
            return;
        }
        switch (allowed[i].type) {
        case T_INT: {
            char *end = NULL;
            long long n = strtoll(s, &end, 10);
            if (end == s || *end != '\0')
                pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "must be an integer");
            else if (n < allowed[i].min || n > allowed[i].max)
                pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "must be between %lld and %lld", allowed[i].min, allowed[i].max);
            break;
        }
        case T_BOOL:
            if (!is_bool(s))
                pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "must be a boolean (0, 1, on, off, yes, no, true, false)");
            break;
        case T_SECONDS:
            if (!is_seconds(s))
                pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "must be a non-negative number of seconds");
            break;
        case T_ENUM:
            if (!enum_has(allowed[i].values, s))
                pgw_errors_add(errs, PGW_ERR_NOT_SUPPORTED, path, value, "supported values: %s", allowed[i].values);
            break;
        case T_STRING:
            break;
        }
        return;
    }
    pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, value, "not a PgBouncer setting that may be set here");
}

void pgw_pgbouncer_params_validate(const json_t *params, const char *path, struct pgw_errors *errs)
{
    if (pgw_expect_object(errs, path, params) != 1)
        return;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)params, key, value)
    {
        char *p = pgw_path_key(path, key);
        check_one(key, value, p, errs);
        free(p);
    }
}
