/*
 * GET /api/v1/namespaces/{namespace}/postgresclusters/{name}/detail: the
 * cluster, its summary (controller/decide/summary.h, the same as `kubectl
 * pgwarden status -o json`), how to connect, the recoverable window, its
 * Events, and what the user could not read. Everything is read as the user,
 * so a user who may not read Secrets gets {"forbidden":true} for the
 * connection, not an error for the whole page.
 *
 * The assembly is pure (pgw_api_detail_assemble, unit-tested); reading the
 * parts is pgw_api_detail (api/handlers.h).
 */
#ifndef PGW_API_DETAIL_H
#define PGW_API_DETAIL_H

#include <jansson.h>
#include <time.h>

#define PGW_API_DETAIL_MAX_EVENTS 50

enum pgw_api_secret_state {
    PGW_API_SECRET_READ,      /* secret holds it */
    PGW_API_SECRET_FORBIDDEN, /* RBAC said no */
    PGW_API_SECRET_MISSING,   /* not there (yet) */
};

/* What was read; the lists are `items` arrays (NULL: none or not readable). All borrowed. */
struct pgw_api_detail_input {
    const json_t *cluster;
    const char *leader; /* Patroni's leader key, or NULL */
    const json_t *pods, *services, *backups, *events;
    const json_t *secret; /* the <cluster>-app Secret when state is READ */
    enum pgw_api_secret_state secret_state;
    const json_t *forbidden; /* array of the plurals the user could not read ("pods"...), or NULL */
    time_t now;
};

/* {"cluster","summary","connection","recoverableWindow","events","forbidden"}. New reference. */
json_t *pgw_api_detail_assemble(const struct pgw_api_detail_input *in);

/*
 * The recoverable window: from the end of the oldest Succeeded backup of the
 * cluster to now while WAL is archived (the BackupReady condition is True:
 * the stanza exists, so archive_command succeeds), else to the end of the
 * newest Succeeded backup. null without a Succeeded backup. New reference.
 */
json_t *pgw_api_detail_window(const json_t *cluster, const json_t *backups, time_t now);

/* The Events newest first (lastTimestamp, else eventTime, else creation), at most PGW_API_DETAIL_MAX_EVENTS. New reference. */
json_t *pgw_api_detail_events(const json_t *events);

/* The connection from the <cluster>-app Secret's data (base64 decoded), or {"forbidden":true} / {"missing":true}. */
json_t *pgw_api_detail_connection(const char *secret_name, const json_t *secret, enum pgw_api_secret_state state);

#endif
