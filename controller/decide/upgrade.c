/*
 * The step machine of an in-place major upgrade (see upgrade.h).
 *
 * Safety first: the only transition that touches data is Stopping →
 * Upgrading, taken once every pod is gone and the check Job has passed; any
 * doubt afterwards (a Job that reports nothing readable) is treated as "the
 * data may be linked" and keeps the cluster stopped, because starting the old
 * major on half-upgraded files is the one thing that cannot be undone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/decide/upgrade.h"
#include "specs/render_upgrade.h"

static int is(const char *step, const char *name)
{
    return step != NULL && strcmp(step, name) == 0;
}

static void set(struct pgw_upgrade_decision *d, const char *step, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Moves to `step` with a new message; "True" while the upgrade is under way. */
static void set(struct pgw_upgrade_decision *d, const char *step, const char *fmt, ...)
{
    d->step = step;
    int done = is(step, PGW_UPGRADE_SUCCEEDED) || is(step, PGW_UPGRADE_CANCELLED) || is(step, PGW_UPGRADE_REFUSED) ||
               is(step, PGW_UPGRADE_CHECK_FAILED) || is(step, PGW_UPGRADE_FAILED) || is(step, PGW_UPGRADE_FAILED_LINKED);
    d->condition_status = done ? "False" : "True";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->message, sizeof(d->message), fmt, ap);
    va_end(ap);
}

/* Stays at the current step with its message. */
static void keep(const struct pgw_upgrade_facts *f, struct pgw_upgrade_decision *d)
{
    if (f->step == NULL)
        return;
    set(d, f->step, "%s", f->message != NULL ? f->message : "");
}

static int healthy(const struct pgw_upgrade_facts *f)
{
    return !f->restoring && is(f->phase, "Running") && f->ready >= f->instances && f->primary != NULL;
}

static void wait_for_health(const struct pgw_upgrade_facts *f, struct pgw_upgrade_decision *d)
{
    if (f->restoring)
        set(d, PGW_UPGRADE_WAITING, "waiting for the restore that bootstraps the cluster to finish before upgrading to %lld",
            f->target);
    else
        set(d, PGW_UPGRADE_WAITING,
            "waiting for the cluster to be Running with every instance ready (phase %s, %lld/%lld ready) before upgrading "
            "from %lld to %lld",
            f->phase != NULL ? f->phase : "unknown", f->ready, f->instances, f->running, f->target);
}

/* Upgrading: the pg_upgrade Job decides, whatever the spec says meanwhile. */
static void on_upgrading(const struct pgw_upgrade_facts *f, struct pgw_upgrade_decision *d)
{
    d->phase = "Upgrading";
    int linked = 1;
    char sysid[32] = "", text[768] = "";
    switch (f->upgrade_job) {
    case PGW_JOB_ABSENT:
        if (f->target > f->running) {
            d->action = PGW_UPGRADE_CREATE_UPGRADE; /* the script is idempotent: a re-run reports what it finds */
            keep(f, d);
        } else {
            set(d, PGW_UPGRADE_UPGRADING,
                "the pg_upgrade Job is gone and spec.postgresVersion is %lld: set it back to the upgrade's target to go on",
                f->target);
        }
        return;
    case PGW_JOB_PENDING:
    case PGW_JOB_ACTIVE:
        keep(f, d);
        return;
    case PGW_JOB_SUCCEEDED:
        if (pgw_upgrade_parse_result(f->upgrade_message, &linked, sysid, sizeof(sysid), text, sizeof(text)) == 0 && linked &&
            sysid[0] != '\0') {
            d->action = PGW_UPGRADE_FINISH;
            snprintf(d->system_identifier, sizeof(d->system_identifier), "%s", sysid);
            d->running = f->target > f->running ? f->target : f->running;
            set(d, PGW_UPGRADE_STARTING, "%s; starting PostgreSQL %lld (replicas are cloned again from the primary)", text,
                d->running);
            return;
        }
        d->warning = 1;
        d->phase = "Failed";
        set(d, PGW_UPGRADE_FAILED_LINKED,
            "the pg_upgrade Job ended without reporting the upgraded data's system identifier (%s); the cluster stays "
            "stopped: inspect the volume of %s, or restore a backup into a new cluster",
            f->upgrade_message != NULL ? f->upgrade_message : "no message", f->primary != NULL ? f->primary : "the primary");
        return;
    case PGW_JOB_FAILED:
        d->warning = 1;
        if (pgw_upgrade_parse_result(f->upgrade_message, &linked, sysid, sizeof(sysid), text, sizeof(text)) == 0 && !linked) {
            d->phase = NULL;
            set(d, PGW_UPGRADE_FAILED,
                "pg_upgrade failed before its link step, the data of PostgreSQL %lld is unchanged and starts again: %s; fix "
                "the cause, set spec.postgresVersion back to %lld, then raise it again",
                f->running, text, f->running);
        } else {
            d->phase = "Failed";
            set(d, PGW_UPGRADE_FAILED_LINKED,
                "pg_upgrade failed after its link step (%s); the cluster stays stopped: restore a backup (PostgresRestore) "
                "into a new cluster",
                linked && text[0] != '\0' ? text : (f->upgrade_message != NULL ? f->upgrade_message : "no message"));
        }
        return;
    }
}

static int finished(enum pgw_job_state s)
{
    return s == PGW_JOB_SUCCEEDED || s == PGW_JOB_FAILED;
}

/* Analyzing: the stanza-upgrade Job (with a repository), then the ANALYZE Job; done when both have ended. */
static void on_analyzing(const struct pgw_upgrade_facts *f, struct pgw_upgrade_decision *d)
{
    if (f->repository && f->stanza_job == PGW_JOB_ABSENT) {
        d->action = PGW_UPGRADE_CREATE_STANZA;
        keep(f, d);
        return;
    }
    if (f->analyze_job == PGW_JOB_ABSENT) {
        d->action = PGW_UPGRADE_CREATE_ANALYZE;
        keep(f, d);
        return;
    }
    if (!finished(f->analyze_job) || (f->repository && !finished(f->stanza_job))) {
        keep(f, d);
        return;
    }
    d->action = PGW_UPGRADE_CLEANUP;
    char stanza[384] = "", stats[384];
    if (f->repository && f->stanza_job == PGW_JOB_SUCCEEDED)
        snprintf(stanza, sizeof(stanza), "; the pgBackRest stanza was upgraded");
    else if (f->repository)
        snprintf(stanza, sizeof(stanza),
                 "; pgbackrest stanza-upgrade failed (%.200s): WAL archiving and backups fail until it succeeds, run it",
                 f->stanza_message != NULL ? f->stanza_message : "no message");
    if (f->analyze_job == PGW_JOB_SUCCEEDED)
        snprintf(stats, sizeof(stats), "; statistics rebuilt");
    else
        snprintf(stats, sizeof(stats), "; rebuilding the statistics failed (%.200s): run vacuumdb --all --analyze-in-stages",
                 f->analyze_message != NULL ? f->analyze_message : "no message");
    d->warning = f->analyze_job == PGW_JOB_FAILED || (f->repository && f->stanza_job == PGW_JOB_FAILED);
    set(d, PGW_UPGRADE_SUCCEEDED, "upgraded to PostgreSQL %lld%s%s", f->running, stanza, stats);
}

/* The target is above the data's major, at a step before the data is touched. */
static void on_raise(const struct pgw_upgrade_facts *f, struct pgw_upgrade_decision *d)
{
    const char *s = f->step;
    if (is(s, PGW_UPGRADE_CHECK_FAILED) || is(s, PGW_UPGRADE_REFUSED) || is(s, PGW_UPGRADE_FAILED)) {
        keep(f, d); /* until spec.postgresVersion goes back (Cancelled), then up again */
        return;
    }
    if (is(s, PGW_UPGRADE_STOPPING)) {
        d->phase = "Upgrading";
        if (f->pods > 0) {
            set(d, PGW_UPGRADE_STOPPING, "stopping the database for the upgrade from %lld to %lld: %lld pod(s) left", f->running,
                f->target, f->pods);
        } else if (f->primary == NULL) {
            d->warning = 1;
            d->phase = NULL;
            set(d, PGW_UPGRADE_FAILED,
                "the primary whose data to upgrade is not known; nothing was changed and PostgreSQL %lld starts again", f->running);
        } else {
            d->action = PGW_UPGRADE_CREATE_UPGRADE;
            set(d, PGW_UPGRADE_UPGRADING, "running pg_upgrade --link from %lld to %lld on the data of %s", f->running, f->target,
                f->primary);
        }
        return;
    }
    if (is(s, PGW_UPGRADE_CHECKING)) {
        switch (f->check_job) {
        case PGW_JOB_ABSENT:
            d->action = PGW_UPGRADE_CREATE_CHECK;
            keep(f, d);
            return;
        case PGW_JOB_PENDING:
        case PGW_JOB_ACTIVE:
            keep(f, d);
            return;
        case PGW_JOB_FAILED:
            d->warning = 1;
            set(d, PGW_UPGRADE_CHECK_FAILED,
                "the pre-upgrade check failed: %s; nothing was changed; fix the cause, set spec.postgresVersion back to %lld, "
                "then raise it again",
                f->check_message != NULL ? f->check_message : "no message", f->running);
            return;
        case PGW_JOB_SUCCEEDED:
            if (!healthy(f)) {
                wait_for_health(f, d);
                return;
            }
            d->phase = "Upgrading";
            set(d, PGW_UPGRADE_STOPPING, "stopping every instance; the data of %s will be upgraded from %lld to %lld", f->primary,
                f->running, f->target);
            return;
        }
    }
    /* None, Succeeded, Cancelled (an earlier upgrade) or Waiting: a new upgrade. */
    if (f->wal_volume) {
        d->warning = 1;
        set(d, PGW_UPGRADE_REFUSED,
            "in-place major upgrades do not handle a separate WAL volume (spec.storage.walSize) yet; nothing was changed: "
            "set spec.postgresVersion back to %lld and restore a backup into a new cluster of PostgreSQL %lld",
            f->running, f->target);
        return;
    }
    if (!healthy(f)) {
        wait_for_health(f, d);
        return;
    }
    d->action = PGW_UPGRADE_CREATE_CHECK;
    set(d, PGW_UPGRADE_CHECKING, "checking that %s can be upgraded from PostgreSQL %lld to %lld", f->primary, f->running,
        f->target);
}

void pgw_upgrade_decide(const struct pgw_upgrade_facts *f, struct pgw_upgrade_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->action = PGW_UPGRADE_NOTHING;
    d->running = f->running;
    if (f->running <= 0) {
        keep(f, d);
        return;
    }
    const char *s = f->step;
    if (is(s, PGW_UPGRADE_UPGRADING)) {
        on_upgrading(f, d);
        return;
    }
    if (is(s, PGW_UPGRADE_FAILED_LINKED)) {
        d->phase = "Failed";
        keep(f, d);
        return;
    }
    if (is(s, PGW_UPGRADE_STARTING)) {
        if (is(f->phase, "Running") && f->ready >= f->instances && f->primary != NULL) {
            d->action = f->repository ? PGW_UPGRADE_CREATE_STANZA : PGW_UPGRADE_CREATE_ANALYZE;
            set(d, PGW_UPGRADE_ANALYZING,
                "PostgreSQL %lld runs; %srebuilding the planner statistics (vacuumdb --analyze-in-stages)", f->running,
                f->repository ? "upgrading the pgBackRest stanza, " : "");
        } else {
            d->phase = "Upgrading";
            set(d, PGW_UPGRADE_STARTING, "starting PostgreSQL %lld on the upgraded data: %lld/%lld instance(s) ready", f->running,
                f->ready, f->instances);
        }
        return;
    }
    if (is(s, PGW_UPGRADE_ANALYZING)) {
        on_analyzing(f, d);
        return;
    }
    if (f->target == f->running) {
        if (s != NULL && pgw_upgrade_before_link(s) && !is(s, PGW_UPGRADE_CANCELLED)) {
            d->action = PGW_UPGRADE_CLEANUP;
            set(d, PGW_UPGRADE_CANCELLED,
                "spec.postgresVersion is back at %lld before the data was touched: PostgreSQL %lld runs on", f->running,
                f->running);
        } else {
            keep(f, d);
        }
        return;
    }
    if (f->target < f->running) {
        d->warning = !is(s, PGW_UPGRADE_REFUSED);
        set(d, PGW_UPGRADE_REFUSED,
            "spec.postgresVersion %lld is below the data's major %lld (a downgrade is not possible): set it to %lld", f->target,
            f->running, f->running);
        return;
    }
    on_raise(f, d);
}

long long pgw_upgrade_replicas(const char *step, long long instances)
{
    if (is(step, PGW_UPGRADE_STOPPING) || is(step, PGW_UPGRADE_UPGRADING) || is(step, PGW_UPGRADE_FAILED_LINKED))
        return 0;
    return instances;
}

/* The leading number of an image's tag ("repo:15.4-x" → 15), 0 when none. */
static long long tag_major(const char *image)
{
    const char *at = strchr(image, '@');
    size_t len = at != NULL ? (size_t)(at - image) : strlen(image);
    const char *colon = NULL, *slash = NULL;
    for (size_t i = 0; i < len; ++i) {
        if (image[i] == ':')
            colon = image + i;
        else if (image[i] == '/')
            slash = image + i;
    }
    if (colon == NULL || (slash != NULL && slash > colon)) /* a registry port, not a tag */
        return 0;
    long long m = 0;
    for (const char *p = colon + 1; p < image + len && *p >= '0' && *p <= '9' && m < 1000; ++p)
        m = m * 10 + (*p - '0');
    return m;
}

long long pgw_upgrade_running_major(long long status_running, const char *sts_image, const char *const *images, int min_major,
                                    int count, long long target)
{
    if (status_running > 0)
        return status_running;
    if (sts_image == NULL)
        return target;
    for (int i = 0; i < count; ++i) {
        if (images[i] != NULL && strcmp(images[i], sts_image) == 0)
            return min_major + i;
    }
    return tag_major(sts_image);
}

int pgw_upgrade_parse_result(const char *message, int *linked, char *sysid, size_t sn, char *text, size_t tn)
{
    if (sn > 0)
        sysid[0] = '\0';
    if (tn > 0)
        text[0] = '\0';
    if (message == NULL)
        return -1;
    json_t *j = json_loads(message, JSON_REJECT_DUPLICATES, NULL);
    json_t *l = json_object_get(j, "linked");
    if (!json_is_boolean(l)) {
        json_decref(j);
        return -1;
    }
    *linked = json_is_true(l);
    const char *id = json_string_value(json_object_get(j, "systemIdentifier"));
    int ok = 1;
    if (id != NULL) {
        for (const char *p = id; *p != '\0'; ++p)
            ok = ok && *p >= '0' && *p <= '9';
        if (ok && sn > 0)
            snprintf(sysid, sn, "%s", id);
    }
    const char *m = json_string_value(json_object_get(j, "message"));
    if (m != NULL && tn > 0)
        snprintf(text, tn, "%s", m);
    json_decref(j);
    return ok ? 0 : -1;
}
