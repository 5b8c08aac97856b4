/*
 * spec.replication: Patroni's synchronous mode and HA timings (DESIGN.md §3).
 *
 * One place for the defaults and bounds, shared by the defaulter
 * (mutators/), the admission rules (validators/cluster_replication.c) and the
 * renderer (bootstrap.dcs in specs/render_patroni.c, and the dynamic
 * configuration the controller keeps in step on a running cluster).
 *
 * The timings (seconds) follow Patroni's rule loop_wait + 2*retry_timeout <=
 * ttl: a primary that cannot renew its leader key retries for retry_timeout,
 * and must have demoted itself before the key expires and a replica takes
 * it. The defaults (20/5/5) give a failover within about ttl + loop_wait
 * (25 s) instead of Patroni's 30/10/10 (40 s), and keep 5 s of slack over the
 * rule. docs/reliability.md discusses the trade-off.
 */
#ifndef PGW_SPECS_REPLICATION_H
#define PGW_SPECS_REPLICATION_H

#include <jansson.h>

#define PGW_REPLICATION_TTL_DEFAULT 20
#define PGW_REPLICATION_LOOP_WAIT_DEFAULT 5
#define PGW_REPLICATION_RETRY_TIMEOUT_DEFAULT 5

/* Patroni refuses ttl < 20, loop_wait < 1 and retry_timeout < 3 (patroni/validator.py). The upper bounds are ours:
 * beyond them a dead primary goes unnoticed for minutes. */
#define PGW_REPLICATION_TTL_MIN 20
#define PGW_REPLICATION_TTL_MAX 300
#define PGW_REPLICATION_LOOP_WAIT_MIN 1
#define PGW_REPLICATION_LOOP_WAIT_MAX 60
#define PGW_REPLICATION_RETRY_TIMEOUT_MIN 3
#define PGW_REPLICATION_RETRY_TIMEOUT_MAX 120

/*
 * The keys pgwarden owns at the top of Patroni's dynamic configuration, from
 * spec.replication (defaults where unset): ttl, loop_wait, retry_timeout,
 * synchronous_mode, synchronous_mode_strict and failsafe_mode (always on: a
 * primary that can reach every member keeps running while the Kubernetes API
 * is away); and {"postgresql":{"pg_hba":[...]}} (pgw_render_pg_hba), which
 * is not about replication but travels the same way. New object; the caller
 * decrefs.
 */
json_t *pgw_render_patroni_dcs_settings(const json_t *cluster);

/* spec.replication.synchronous as "off", "on" or "strict"; YAML 1.1's booleans (`on` unquoted) read as on/off.
 * NULL for anything else. */
const char *pgw_replication_synchronous(const json_t *value);

#endif
