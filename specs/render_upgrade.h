/*
 * In-place major upgrades (docs/upgrades.md): the names the webhook and the
 * controller share, and the Jobs that do the work.
 *
 * Raising spec.postgresVersion runs pg_upgrade --link on the primary's data
 * volume. Progress is the MajorUpgrade condition of the cluster's status, its
 * reason one of the PGW_UPGRADE_* steps below; status.runningPostgresVersion is
 * the major of the data directories, which the StatefulSet keeps rendering
 * until the data has been upgraded (a newer postgres refuses an older data
 * directory).
 *
 * The Jobs, each (but the stanza one) with the NEW major's image, which must also carry the old
 * major's binaries in /usr/lib/postgresql/<old>/bin (Debian's layout):
 *  - <cluster>-upgrade-check, while the old cluster runs: both binary sets
 *    are there and of the right majors, no prepared transaction, every
 *    installed extension exists for the new major;
 *  - <cluster>-upgrade, with the database stopped, on the primary's claim:
 *    initdb of the new major beside the old data (same encoding, locale, data
 *    checksums and bootstrap superuser), pg_upgrade --check, pg_upgrade
 *    --link, then the new directory takes the old one's place. Its
 *    termination message is one JSON object: {"linked":bool,
 *    "systemIdentifier":"...","message":"..."}; "linked" tells whether the
 *    old data was touched (pg_upgrade renames global/pg_control to
 *    pg_control.old when linking starts);
 *  - <cluster>-upgrade-stanza, once the new major runs, with a backup
 *    repository: pgbackrest stanza-upgrade (WAL archiving waits for it);
 *  - <cluster>-upgrade-analyze, once the new major runs: vacuumdb
 *    --analyze-in-stages (only the missing statistics from 18 on, which
 *    pg_upgrade carries over).
 * Every Job is idempotent: a re-run after success finds the new major's data
 * directory and reports it again.
 */
#ifndef PGW_SPECS_RENDER_UPGRADE_H
#define PGW_SPECS_RENDER_UPGRADE_H

#include <jansson.h>

#include "specs/render.h"

#define PGW_CONDITION_MAJOR_UPGRADE "MajorUpgrade"

/* The steps: the MajorUpgrade condition's reason. */
#define PGW_UPGRADE_WAITING "Waiting"            /* until the cluster is Running with every instance ready */
#define PGW_UPGRADE_CHECKING "Checking"          /* the check Job runs; the database serves */
#define PGW_UPGRADE_STOPPING "Stopping"          /* StatefulSet at 0, waiting for the pods to go */
#define PGW_UPGRADE_UPGRADING "Upgrading"        /* the pg_upgrade Job runs */
#define PGW_UPGRADE_STARTING "Starting"          /* data upgraded: the new major starts, replicas re-clone */
#define PGW_UPGRADE_ANALYZING "Analyzing"        /* the new major serves; statistics are rebuilt */
#define PGW_UPGRADE_SUCCEEDED "Succeeded"        /* done */
#define PGW_UPGRADE_CANCELLED "Cancelled"        /* spec.postgresVersion went back before the data was touched */
#define PGW_UPGRADE_REFUSED "Refused"            /* a case the upgrade does not handle; nothing touched */
#define PGW_UPGRADE_CHECK_FAILED "CheckFailed"   /* the check Job failed; nothing touched */
#define PGW_UPGRADE_FAILED "Failed"              /* pg_upgrade failed before linking: the old major runs again */
#define PGW_UPGRADE_FAILED_LINKED "FailedLinked" /* failed after the link step: restore from a backup */

#define PGW_SUFFIX_UPGRADE_CHECK "-upgrade-check"
#define PGW_SUFFIX_UPGRADE "-upgrade"
#define PGW_SUFFIX_UPGRADE_ANALYZE "-upgrade-analyze"
#define PGW_SUFFIX_UPGRADE_STANZA "-upgrade-stanza"
#define PGW_CONTAINER_UPGRADE "upgrade"
#define PGW_LABEL_UPGRADE_TO "pgwarden.io/upgrade-to"
#define PGW_LABEL_UPGRADE_FROM "pgwarden.io/upgrade-from" /* read back from the Job (the store trims its template) */
/* Where the old major's programs are in the image (Debian's layout). */
#define PGW_UPGRADE_OLD_BINDIR_FMT "/usr/lib/postgresql/%d/bin"

/*
 * 1 when a cluster whose upgrade is at `reason` (a MajorUpgrade reason, NULL:
 * none) has not had its data touched, so spec.postgresVersion may go back to
 * status.runningPostgresVersion.
 */
int pgw_upgrade_before_link(const char *reason);

/* The three Jobs for `cluster` (defaulted; spec.postgresVersion the target major), new objects. */
json_t *pgw_render_upgrade_check_job(const json_t *cluster, const struct pgw_render_ctx *ctx, int from, const char *primary_ip);
/* `primary`: the pod name whose data claim (pgdata-<primary>) is upgraded. */
json_t *pgw_render_upgrade_job(const json_t *cluster, const struct pgw_render_ctx *ctx, int from, const char *primary);
json_t *pgw_render_upgrade_analyze_job(const json_t *cluster, const struct pgw_render_ctx *ctx, int from, const char *primary_ip);
/* `pgbackrest stanza-upgrade` (the stanza-create Job's twin), or NULL without spec.backup.repository: the
 * repository records the major and system identifier, and archive-push refuses new WAL until it knows them. */
json_t *pgw_render_upgrade_stanza_job(const json_t *cluster, const struct pgw_render_ctx *ctx, int from);

/* The Jobs' /bin/sh scripts (static strings); their parameters come from the environment the Jobs set. */
const char *pgw_render_upgrade_check_script(void);
const char *pgw_render_upgrade_script(void);
const char *pgw_render_upgrade_analyze_script(void);

/* Sets spec.replicas of the StatefulSet among `children` (a rendered list) to `replicas`. */
void pgw_render_upgrade_set_replicas(json_t *children, long long replicas);

#endif
