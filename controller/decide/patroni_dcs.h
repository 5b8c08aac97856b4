/*
 * Parameter changes after bootstrap (DESIGN.md §6, "Patroni settings").
 *
 * Once a cluster is bootstrapped, Patroni reads its dynamic configuration from
 * the `config` annotation of the `<cluster>-config` Endpoints (JSON such as
 * {"ttl":30,...,"postgresql":{"parameters":{...}}}), not from patroni.yml. The
 * controller owns postgresql.parameters there: it replaces that map with the
 * parameters rendered from the spec. It also owns the keys rendered by
 * pgw_render_patroni_dcs_settings(): the top-level ones from spec.replication
 * (ttl, loop_wait, retry_timeout, synchronous_mode, synchronous_mode_strict,
 * failsafe_mode) and postgresql.pg_hba, so a change of those on a running
 * cluster reaches Patroni too (it rewrites pg_hba.conf and reloads on its next
 * HA loop, no restart). Every other key (maximum_lag_on_failover, use_slots,
 * Patroni's own bookkeeping) stays as it found it.
 *
 * Patroni may store numbers as JSON numbers ("max_connections": 100) while the
 * spec holds strings ("100"): values compare by their text, so an equal
 * setting is not rewritten. Pure; unit-tested.
 */
#ifndef PGW_CONTROLLER_DECIDE_PATRONI_DCS_H
#define PGW_CONTROLLER_DECIDE_PATRONI_DCS_H

#include <jansson.h>

#define PGW_PATRONI_CONFIG_ANNOTATION "config"

/*
 * current: the annotation text (NULL when absent). settings: the keys to set
 * (borrowed; NULL for none); a map among them (postgresql) is merged key by
 * key, a list (pg_hba) replaced when it differs in any line or in order. desired: the parameters object
 * (borrowed). Returns NULL when the annotation already holds these settings
 * and parameters, else the new annotation text (caller frees). An unreadable
 * current value is replaced by settings plus {"postgresql":{"parameters":desired}}.
 */
char *pgw_patroni_dcs_update(const char *current, const json_t *settings, const json_t *desired);

/* 1 when two parameter maps hold the same names with the same values compared as text. */
int pgw_patroni_params_equal(const json_t *a, const json_t *b);

#endif
