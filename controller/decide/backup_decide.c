/*
 * Backup and restore decisions (the rules are listed in backup_decide.h).
 *
 * Why pure: the gate (one pgBackRest per stanza) must pick the same winner in
 * two controllers or two workers looking at the same objects, and every rule
 * must be a row in a unit test. No I/O and no clock here: callers pass `now`.
 */
#include "controller/decide/backup_decide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/object.h"
#include "common/xalloc.h"
#include "controller/decide/backup_info.h"
#include "specs/pod_layout.h"
#include "specs/render_backup.h"
#include "specs/render_pgbackrest.h"

/* Bytes of pgBackRest's output kept in a Failed message. */
#define FAILURE_DETAIL_MAX 1024

static const char *label_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(pgw_obj_meta(obj), "labels"), key));
}

static const json_t *true_condition(const json_t *job, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(job, "status"), "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t != NULL && s != NULL && strcmp(t, type) == 0 && strcmp(s, "True") == 0)
            return c;
    }
    return NULL;
}

enum pgw_job_state pgw_backup_decide_job_state(const json_t *job, const char **reason, const char **message)
{
    if (reason != NULL)
        *reason = NULL;
    if (message != NULL)
        *message = NULL;
    if (!json_is_object(job))
        return PGW_JOB_ABSENT;
    const json_t *failed = true_condition(job, "Failed");
    if (failed != NULL) {
        if (reason != NULL)
            *reason = json_string_value(json_object_get(failed, "reason"));
        if (message != NULL)
            *message = json_string_value(json_object_get(failed, "message"));
        return PGW_JOB_FAILED;
    }
    if (true_condition(job, "Complete") != NULL)
        return PGW_JOB_SUCCEEDED;
    const json_t *st = json_object_get(job, "status");
    if (json_object_get(st, "startTime") != NULL || json_integer_value(json_object_get(st, "active")) > 0)
        return PGW_JOB_ACTIVE;
    return PGW_JOB_PENDING;
}

const char *pgw_backup_decide_last_scheduled(const json_t *jobs, const char *cluster)
{
    const char *best = NULL;
    size_t i;
    json_t *job;
    json_array_foreach(jobs, i, job)
    {
        const json_t *labels = json_object_get(json_object_get(job, "metadata"), "labels");
        const char *of = json_string_value(json_object_get(labels, PGW_POD_LABEL_CLUSTER));
        if (cluster == NULL || of == NULL || strcmp(of, cluster) != 0 ||
            !json_is_string(json_object_get(labels, PGW_LABEL_SCHEDULE)))
            continue;
        if (pgw_backup_decide_job_state(job, NULL, NULL) != PGW_JOB_SUCCEEDED)
            continue;
        const char *done = json_string_value(json_object_get(json_object_get(job, "status"), "completionTime"));
        if (done != NULL && (best == NULL || strcmp(done, best) > 0)) /* RFC 3339 UTC sorts as text */
            best = done;
    }
    return best;
}

const char *pgw_backup_decide_termination_message(const json_t *pods, const char *container, int succeeded)
{
    const char *best = NULL, *best_time = NULL;
    int best_match = -1;
    size_t i, j;
    json_t *pod, *cs;
    json_array_foreach(pods, i, pod)
    {
        const char *phase = pgw_obj_str_at(pod, "status.phase");
        if (phase == NULL || (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0))
            continue;
        int match = (strcmp(phase, "Succeeded") == 0) == (succeeded != 0);
        json_array_foreach(json_object_get(json_object_get(pod, "status"), "containerStatuses"), j, cs)
        {
            const char *name = json_string_value(json_object_get(cs, "name"));
            const json_t *term = json_object_get(json_object_get(cs, "state"), "terminated");
            const char *msg = json_string_value(json_object_get(term, "message"));
            const char *when = json_string_value(json_object_get(term, "finishedAt"));
            if (name == NULL || strcmp(name, container) != 0 || msg == NULL)
                continue;
            /* A matching phase first, then the newest (RFC 3339 in UTC sorts as text). */
            if (match > best_match || (match == best_match && when != NULL && (best_time == NULL || strcmp(when, best_time) > 0))) {
                best = msg;
                best_time = when;
                best_match = match;
            }
        }
    }
    return best;
}

/* -1 when a was created before b (creationTimestamp, then name), 1 after, 0 same. */
static int queue_order(const json_t *a, const json_t *b)
{
    const char *ta = pgw_obj_meta_str(a, "creationTimestamp"), *tb = pgw_obj_meta_str(b, "creationTimestamp");
    int c = strcmp(ta != NULL ? ta : "", tb != NULL ? tb : "");
    if (c == 0) {
        const char *na = pgw_obj_meta_str(a, "name"), *nb = pgw_obj_meta_str(b, "name");
        c = strcmp(na != NULL ? na : "", nb != NULL ? nb : "");
    }
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

static int is_terminal(const char *phase)
{
    return phase != NULL && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

int pgw_backup_decide_gate(const json_t *backup, const json_t *backups, const json_t *jobs, char **why)
{
    *why = NULL;
    const char *name = pgw_obj_meta_str(backup, "name"), *uid = pgw_obj_meta_str(backup, "uid");
    const char *cluster = pgw_obj_str_at(backup, "spec.cluster");
    if (name == NULL || cluster == NULL)
        return 0; /* the guard refuses such objects before the gate */
    size_t i;
    json_t *j;
    json_array_foreach(jobs, i, j)
    {
        const char *component = label_of(j, "app.kubernetes.io/component");
        const char *of = label_of(j, PGW_LABEL_BACKUP);
        if (component == NULL || strcmp(component, "backup") != 0 || (of != NULL && strcmp(of, name) == 0))
            continue;
        enum pgw_job_state s = pgw_backup_decide_job_state(j, NULL, NULL);
        if (s == PGW_JOB_PENDING || s == PGW_JOB_ACTIVE) {
            *why = pgw_asprintf("waiting for Job %s to finish: one pgBackRest at a time on the stanza of cluster %s",
                                pgw_obj_meta_str(j, "name"), cluster);
            return 1;
        }
    }
    json_t *b;
    json_array_foreach(backups, i, b)
    {
        const char *bname = pgw_obj_meta_str(b, "name"), *buid = pgw_obj_meta_str(b, "uid");
        const char *bcluster = pgw_obj_str_at(b, "spec.cluster");
        if (bname == NULL || bcluster == NULL || strcmp(bcluster, cluster) != 0 || strcmp(bname, name) == 0 ||
            (uid != NULL && buid != NULL && strcmp(uid, buid) == 0))
            continue;
        const char *phase = pgw_obj_str_at(b, "status.phase");
        if (is_terminal(phase) || pgw_obj_meta_str(b, "deletionTimestamp") != NULL)
            continue;
        if (phase != NULL && strcmp(phase, "Running") == 0) {
            *why = pgw_asprintf("waiting for backup %s of cluster %s to finish", bname, cluster);
            return 1;
        }
        if (queue_order(b, backup) < 0) {
            *why = pgw_asprintf("waiting for backup %s of cluster %s, queued before this one", bname, cluster);
            return 1;
        }
    }
    return 0;
}

/* "…" cut of the last `max` bytes of s, on a UTF-8 boundary. */
static const char *tail(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return s;
    const char *p = s + n - max;
    while (((unsigned char)*p & 0xC0) == 0x80)
        ++p;
    return p;
}

static json_t *string_or_null(const char *s)
{
    return s != NULL ? json_string(s) : NULL;
}

json_t *pgw_backup_decide_status(const json_t *old_status, const json_t *job, const char *message, const char *now)
{
    const char *reason = NULL, *jmsg = NULL;
    enum pgw_job_state state = pgw_backup_decide_job_state(job, &reason, &jmsg);
    const char *job_name = pgw_obj_meta_str(job, "name");
    if (job_name == NULL)
        job_name = "(unknown)";
    const char *started = json_string_value(json_object_get(old_status, "startedAt"));
    if (started == NULL)
        started = pgw_obj_str_at(job, "status.startTime");
    if (started == NULL)
        started = now;
    json_t *s = json_object();
    char *text = NULL;
    switch (state) {
    case PGW_JOB_ABSENT:
    case PGW_JOB_PENDING:
    case PGW_JOB_ACTIVE:
        json_object_set_new(s, "phase", json_string("Running"));
        json_object_set_new(s, "startedAt", json_string(started));
        text = pgw_asprintf("Job %s is running pgbackrest backup", job_name);
        break;
    case PGW_JOB_SUCCEEDED: {
        struct pgw_backup_info info;
        char *err = NULL;
        if (message != NULL && pgw_backup_info_parse(message, strlen(message), PGW_PGBACKREST_STANZA, NULL, &info, &err) == 0) {
            json_decref(s);
            s = pgw_backup_info_status(&info);
            json_object_del(s, "type"); /* the spec says it; not a status field */
            json_object_set_new(s, "phase", json_string("Succeeded"));
            text = info.error ? pgw_asprintf("backup %s completed, but pgBackRest found page checksum errors in it", info.label)
                              : pgw_asprintf("backup %s completed", info.label);
            pgw_backup_info_dispose(&info);
        } else {
            const char *done = pgw_obj_str_at(job, "status.completionTime");
            json_object_set_new(s, "phase", json_string("Succeeded"));
            json_object_set_new(s, "startedAt", json_string(started));
            json_object_set_new(s, "completedAt", json_string(done != NULL ? done : now));
            text = pgw_asprintf("Job %s succeeded, but its termination message holds no backup details: %s", job_name,
                                err != NULL ? err : "no message");
        }
        free(err);
        break;
    }
    case PGW_JOB_FAILED: {
        const json_t *failed = true_condition(job, "Failed");
        const char *when = json_string_value(json_object_get(failed, "lastTransitionTime"));
        json_object_set_new(s, "phase", json_string("Failed"));
        json_object_set_new(s, "startedAt", json_string(started));
        json_object_set_new(s, "completedAt", json_string(when != NULL ? when : now));
        char *detail = message != NULL && *message != '\0' ? pgw_asprintf("; pgBackRest: %s", tail(message, FAILURE_DETAIL_MAX))
                                                           : pgw_strdup("");
        text = pgw_asprintf("Job %s failed (%s: %s)%s", job_name, reason != NULL ? reason : "Failed",
                            jmsg != NULL ? jmsg : "no message", detail);
        free(detail);
        break;
    }
    }
    json_t *m = string_or_null(text);
    json_object_set_new(s, "message", m != NULL ? m : json_string("(message not valid UTF-8)"));
    free(text);
    return s;
}

const char *pgw_backup_decide_restore_name(const json_t *restore)
{
    const char *n = json_string_value(json_object_get(json_object_get(json_object_get(restore, "spec"), "newCluster"), "name"));
    return n != NULL ? n : pgw_obj_meta_str(restore, "name");
}

char *pgw_backup_decide_restored_to(const json_t *restore)
{
    const json_t *t = json_object_get(json_object_get(restore, "spec"), "target");
    static const char *const keys[] = {"time", "lsn", "name", NULL};
    for (const char *const *k = keys; *k != NULL; ++k) {
        const char *v = json_string_value(json_object_get(t, *k));
        if (v != NULL)
            return pgw_asprintf("%s %s", *k, v);
    }
    const json_t *xid = json_object_get(t, "xid");
    if (json_is_integer(xid))
        return pgw_asprintf("xid %lld", (long long)json_integer_value(xid));
    if (json_is_true(json_object_get(t, "immediate")))
        return pgw_strdup("immediate (the end of the backup)");
    return pgw_strdup("latest (the end of the archived WAL)");
}

enum pgw_restore_action pgw_backup_decide_restore(const json_t *restore, const json_t *source, const json_t *backup,
                                                  const json_t *existing, char **why)
{
    *why = NULL;
    const json_t *src = json_object_get(json_object_get(restore, "spec"), "source");
    const char *from = json_string_value(json_object_get(src, "cluster"));
    const char *bname = json_string_value(json_object_get(src, "backup"));
    const char *rname = pgw_obj_meta_str(restore, "name");
    const char *name = pgw_backup_decide_restore_name(restore);
    if (from == NULL || rname == NULL || name == NULL) {
        *why = pgw_strdup("spec.source.cluster is required");
        return PGW_RESTORE_FAIL;
    }
    if (existing != NULL) {
        const char *by = label_of(existing, PGW_LABEL_RESTORE);
        if (by != NULL && strcmp(by, rname) == 0) {
            *why = pgw_asprintf("cluster %s was created by this restore", name);
            return PGW_RESTORE_FOLLOW;
        }
        *why = pgw_asprintf("cluster %s already exists and was not created by this restore; the source is never "
                            "overwritten: delete that cluster or this restore",
                            name);
        return PGW_RESTORE_WAIT;
    }
    if (strcmp(name, from) == 0) {
        *why = pgw_strdup("the new cluster's name must differ from the source cluster's");
        return PGW_RESTORE_FAIL;
    }
    if (source == NULL) {
        *why = pgw_asprintf("source cluster %s does not exist", from);
        return PGW_RESTORE_WAIT;
    }
    if (json_object_get(json_object_get(json_object_get(source, "spec"), "backup"), "repository") == NULL) {
        *why = pgw_asprintf("source cluster %s has no backup repository (spec.backup.repository)", from);
        return PGW_RESTORE_WAIT;
    }
    if (bname != NULL) {
        if (backup == NULL) {
            *why = pgw_asprintf("backup %s does not exist", bname);
            return PGW_RESTORE_WAIT;
        }
        const char *of = pgw_obj_str_at(backup, "spec.cluster");
        if (of == NULL || strcmp(of, from) != 0) {
            *why = pgw_asprintf("backup %s is a backup of cluster %s, not of %s", bname, of != NULL ? of : "(none)", from);
            return PGW_RESTORE_FAIL;
        }
        const char *phase = pgw_obj_str_at(backup, "status.phase");
        if (phase != NULL && strcmp(phase, "Failed") == 0) {
            *why = pgw_asprintf("backup %s failed; restore from another one", bname);
            return PGW_RESTORE_FAIL;
        }
        if (phase == NULL || strcmp(phase, "Succeeded") != 0) {
            *why = pgw_asprintf("backup %s has not succeeded yet (phase %s)", bname, phase != NULL ? phase : "none");
            return PGW_RESTORE_WAIT;
        }
    }
    return PGW_RESTORE_CREATE;
}
