/*
 * Rendering: pure functions from a defaulted, valid PostgresCluster to the
 * child objects the controller applies (DESIGN.md §6). `pgwarden render` and
 * the reconciler both call pgw_render_cluster(), so they cannot drift.
 *
 * Pure means: no I/O and no clock. Randomness (generated passwords) comes from
 * ctx->random_bytes, so tests can make it deterministic; the controller only
 * creates a Secret that does not exist yet, so passwords are never rotated by
 * accident.
 */
#ifndef PGW_SPECS_RENDER_H
#define PGW_SPECS_RENDER_H

#include <stddef.h>
#include <jansson.h>

struct pgw_config;

struct pgw_render_ctx {
    const struct pgw_config *config;
    /* Fills buf with random bytes. NULL: OpenSSL's RAND_bytes. */
    void (*random_bytes)(unsigned char *buf, size_t len);
    /* Certificate Secrets without their data, for the controller to issue only when due (render_certs.h). */
    int defer_certificates;
};

/* All children, in apply order (RBAC, Secrets, ConfigMaps, repository PVC, Services, PDB, StatefulSet,
 * backup CronJobs). The stanza-create Job is not among them: it runs once the cluster is Running. Caller decrefs. */
json_t *pgw_render_cluster(const json_t *cluster, const struct pgw_render_ctx *ctx);

/* Individual renderers (each returns a new object the caller decrefs). */
json_t *pgw_render_statefulset(const json_t *cluster, const struct pgw_render_ctx *ctx);
json_t *pgw_render_patroni_config(const json_t *cluster, const struct pgw_render_ctx *ctx);
/* The PostgreSQL parameters Patroni keeps in its DCS (bootstrap.dcs, then the `<cluster>-config` annotation):
 * spec.postgres.parameters plus the HA settings pgwarden adds when unset. */
json_t *pgw_render_patroni_dcs_parameters(const json_t *cluster);
/* pg_hba.conf's lines (Patroni's postgresql.pg_hba, kept in its dynamic configuration): local socket and
 * replication rules, then spec.postgres.pgHba, then TLS-only password access for everyone else. */
json_t *pgw_render_pg_hba(const json_t *cluster);
/* Appends the five Services and the PodDisruptionBudget to `out`. */
void pgw_render_services(const json_t *cluster, json_t *out);
/* Appends ServiceAccount, Role and RoleBinding `<cluster>-instance` to `out`. */
void pgw_render_rbac(const json_t *cluster, json_t *out);
/* Appends the generated password Secrets to `out` (with one per declared role whose password pgwarden generates). */
void pgw_render_secrets(const json_t *cluster, const struct pgw_render_ctx *ctx, json_t *out);
/* The stringData of a credentials Secret (-app's, a declared role's): username, a new password, dbname, host,
 * port, uri and jdbc-uri (through PgBouncer when the pooler is enabled). Caller decrefs. */
json_t *pgw_render_credentials(const json_t *cluster, const char *user, const char *db, const struct pgw_render_ctx *ctx);
/* Secret <cluster>-<role> (specs/roles.h) with a generated password for a present declared role with login
 * and no passwordSecret, else NULL. Its uri names the first declared database the role owns, else the
 * bootstrap database. Caller decrefs. */
json_t *pgw_render_role_secret(const json_t *cluster, const json_t *role, const struct pgw_render_ctx *ctx);
/* Secret <cluster>-pgbackrest-tls (new object), or NULL without spec.backup.repository: a CA of its
 * own, the server pair of the pods' `pgbackrest server` (tls.crt/tls.key, SANs *.<cluster>-pods...)
 * and the backup Jobs' client pair (client.crt/client.key, CN PGW_PGBACKREST_CLIENT_CN). Issued
 * fresh on every call: like every generated Secret it is created once and never overwritten. */
json_t *pgw_render_pgbackrest_tls_secret(const json_t *cluster);
/* Appends the ConfigMaps (patroni, pgbouncer, pgbackrest, exporter) to `out`. */
void pgw_render_configmaps(const json_t *cluster, const struct pgw_render_ctx *ctx, json_t *out);

/* Wraps objects in a `v1 List` (steals `items`). */
json_t *pgw_render_list(json_t *items);

#endif
