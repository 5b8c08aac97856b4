/*
 * The decisions of an in-place major upgrade (docs/upgrades.md), pure: what
 * the reconciler saw goes in, the next step and the one action to take come
 * out, so every transition is a row in test/unit/test_upgrade.c.
 *
 * The step lives in the MajorUpgrade condition's reason (specs/render_upgrade.h)
 * and the data's major in status.runningPostgresVersion; both survive an
 * operator restart. The StatefulSet always renders the running major, and no
 * instance while the data is being upgraded (pgw_upgrade_replicas).
 *
 *   (none) → Waiting → Checking → Stopping → Upgrading → Starting → Analyzing → Succeeded
 * Before Upgrading nothing is touched: a refusal (Refused, CheckFailed), or
 * spec.postgresVersion set back to the running major (Cancelled), leaves the
 * old major running. Upgrading ends in Starting (the data is the new major),
 * Failed (pg_upgrade stopped before its link step: the old major starts again)
 * or FailedLinked (after it: the cluster stays stopped; restore a backup).
 */
#ifndef PGW_CONTROLLER_DECIDE_UPGRADE_H
#define PGW_CONTROLLER_DECIDE_UPGRADE_H

#include <jansson.h>

#include "controller/decide/backup_decide.h"

enum pgw_upgrade_action {
    PGW_UPGRADE_NOTHING,
    PGW_UPGRADE_CREATE_CHECK,   /* create the check Job */
    PGW_UPGRADE_CREATE_UPGRADE, /* create the pg_upgrade Job on the primary's claim */
    PGW_UPGRADE_FINISH,         /* the data is upgraded: Patroni's DCS, replicas' claims, runningPostgresVersion */
    PGW_UPGRADE_CREATE_STANZA,  /* create the pgbackrest stanza-upgrade Job */
    PGW_UPGRADE_CREATE_ANALYZE, /* create the ANALYZE Job */
    PGW_UPGRADE_CLEANUP         /* delete the upgrade's Jobs */
};

struct pgw_upgrade_facts {
    long long target;    /* spec.postgresVersion */
    long long running;   /* the data's major (pgw_upgrade_running_major) */
    const char *step;    /* the MajorUpgrade condition's reason, NULL: none */
    const char *message; /* and its message */
    const char *phase;   /* the phase computed for this reconcile */
    long long instances; /* spec.instances */
    long long ready;     /* ready instances */
    const char *primary; /* status.primary (this reconcile's, else the last one written) */
    int wal_volume;      /* spec.storage.walSize is set */
    int repository;      /* spec.backup.repository is set: the stanza is upgraded too */
    int restoring;       /* bootstrapped from a backup and never Running yet */
    long long pods;      /* database pods that still exist */
    /* The upgrade's Jobs (a Job made for another target major counts as absent). */
    enum pgw_job_state check_job, upgrade_job, analyze_job, stanza_job;
    const char *check_message, *upgrade_message, *analyze_message, *stanza_message; /* termination messages, or NULL */
};

struct pgw_upgrade_decision {
    const char *step;             /* the new MajorUpgrade reason; NULL: no condition */
    const char *condition_status; /* "True" while under way, else "False" */
    enum pgw_upgrade_action action;
    char message[1024];         /* the condition's message */
    int warning;                /* an Event of type Warning (a refusal or a failure) */
    char system_identifier[32]; /* with PGW_UPGRADE_FINISH: the upgraded data's */
    long long running;          /* runningPostgresVersion to record */
    const char *phase;          /* a phase that overrides the computed one, or NULL */
};

void pgw_upgrade_decide(const struct pgw_upgrade_facts *f, struct pgw_upgrade_decision *d);

/* How many instances the StatefulSet runs at `step` (the MajorUpgrade reason): 0 while the data is being upgraded. */
long long pgw_upgrade_replicas(const char *step, long long instances);

/*
 * The major of the data directories: status.runningPostgresVersion when set
 * (status_running > 0); else the major whose configured image the live
 * StatefulSet's postgres container runs (images[i] is the image of major
 * min_major + i, NULL when none), or the leading number of that image's tag
 * ("15", "15.4-bookworm"); else, with no StatefulSet yet, the target (a new
 * cluster starts at its spec's major). 0 when not known.
 */
long long pgw_upgrade_running_major(long long status_running, const char *sts_image, const char *const *images, int min_major,
                                    int count, long long target);

/*
 * The pg_upgrade Job's termination message (specs/render_upgrade.h): 0 when it
 * parses, with *linked, the system identifier (sysid, size sn; "" when none)
 * and its message (text, size tn) filled; -1 otherwise.
 */
int pgw_upgrade_parse_result(const char *message, int *linked, char *sysid, size_t sn, char *text, size_t tn);

#endif
