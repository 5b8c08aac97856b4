/*
 * The next step of a rolling update (see rollout.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/object.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/rollout.h"
#include "specs/operations.h"
#include "specs/pod_layout.h"

#define REVISION_LABEL "controller-revision-hash"

/* One pod of the cluster as the decision sees it. */
struct instance {
    const json_t *pod;
    const char *name;
    long long ordinal;
    int ready, terminating, primary, stale, streaming;
    const char *why;       /* why it is stale */
    long long lsn;         /* Patroni's last known WAL position of the member; -1: unknown */
    long long timeline;    /* the member's timeline; -1: unknown */
    int reports_primary;   /* the member's own data says it runs as the primary */
    long long unready_for; /* seconds since the pod's Ready condition turned False; -1: unknown */
};

json_t *pgw_rollout_member(const json_t *pod)
{
    const json_t *ann = json_object_get(pgw_obj_meta(pod), "annotations");
    const char *status = json_string_value(json_object_get(ann, PGW_PATRONI_STATUS_ANNOTATION));
    json_t *member = status != NULL ? json_loads(status, 0, NULL) : NULL;
    if (member != NULL && !json_is_object(member)) {
        json_decref(member);
        member = NULL;
    }
    return member;
}

int pgw_rollout_pod_stale(const json_t *pod, const char *update_revision, const char *expected_injected, const char **why)
{
    const json_t *meta = pgw_obj_meta(pod);
    const char *revision = json_string_value(json_object_get(json_object_get(meta, "labels"), REVISION_LABEL));
    if (update_revision != NULL && revision != NULL && strcmp(revision, update_revision) != 0) {
        *why = "its pod template changed";
        return 1;
    }
    const char *stamp = json_string_value(json_object_get(json_object_get(meta, "annotations"), PGW_POD_ANNOTATION_INJECTED));
    if (expected_injected != NULL && (stamp == NULL || strcmp(stamp, expected_injected) != 0)) {
        *why = "its sidecars are not the current ones";
        return 1;
    }
    json_t *member = pgw_rollout_member(pod);
    int pending = json_is_true(json_object_get(member, "pending_restart"));
    json_decref(member);
    if (pending) {
        *why = "a parameter waits for a restart";
        return 1;
    }
    *why = NULL;
    return 0;
}

static long long member_lsn(const json_t *member)
{
    const json_t *v = json_object_get(member, "replay_lsn");
    if (!json_is_integer(v))
        v = json_object_get(member, "xlog_location");
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* How long the pod's Ready condition has been False, or -1 when that is unknown. */
static long long unready_seconds(const json_t *pod, long long now)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        time_t since;
        const char *why;
        if (type != NULL && strcmp(type, "Ready") == 0 &&
            pgw_rfc3339_parse(json_string_value(json_object_get(c, "lastTransitionTime")), &since, &why) == 0)
            return now - (long long)since;
    }
    return -1;
}

/* The instances among the pods, in ordinal order; returns how many (at most cap). */
static size_t collect(const struct pgw_rollout_input *in, struct instance *out, size_t cap)
{
    size_t n = 0, i;
    json_t *pod;
    json_array_foreach(in->pods, i, pod)
    {
        const char *name = pgw_obj_meta_str(pod, "name");
        long long ordinal = pgw_instance_ordinal(in->cluster, name);
        if (ordinal < 0 || n == cap)
            continue;
        struct instance *x = &out[n++];
        memset(x, 0, sizeof(*x));
        x->pod = pod;
        x->name = name;
        x->ordinal = ordinal;
        x->terminating = json_object_get(pgw_obj_meta(pod), "deletionTimestamp") != NULL;
        x->ready = pgw_pod_is_ready(pod);
        x->primary = in->primary != NULL && strcmp(in->primary, name) == 0;
        x->stale = pgw_rollout_pod_stale(pod, in->update_revision, in->expected_injected, &x->why);
        json_t *member = pgw_rollout_member(pod);
        const char *state = json_string_value(json_object_get(member, "state"));
        const char *repl = json_string_value(json_object_get(member, "replication_state"));
        x->streaming = state != NULL && strcmp(state, "running") == 0 && (repl == NULL || strcmp(repl, "streaming") == 0);
        x->lsn = member_lsn(member);
        const json_t *timeline = json_object_get(member, "timeline");
        x->timeline = json_is_integer(timeline) ? (long long)json_integer_value(timeline) : -1;
        const char *role = json_string_value(json_object_get(member, "role"));
        x->reports_primary = role != NULL && (strcmp(role, "primary") == 0 || strcmp(role, "master") == 0);
        x->unready_for = x->ready ? 0 : unready_seconds(pod, in->now);
        json_decref(member);
    }
    /* insertion sort by ordinal: at most 16 instances */
    for (size_t a = 1; a < n; ++a) {
        struct instance t = out[a];
        size_t b = a;
        for (; b > 0 && out[b - 1].ordinal > t.ordinal; --b)
            out[b] = out[b - 1];
        out[b] = t;
    }
    return n;
}

static int in_list(const json_t *list, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return 1;
    }
    return 0;
}

/* Why `x` cannot take over from `primary` now, or NULL when it can. */
static const char *cannot_take_over(const struct pgw_rollout_input *in, const struct instance *x, const struct instance *primary)
{
    if (x->primary)
        return "it is the primary";
    if (x->terminating || !x->ready)
        return "it is not ready";
    if (x->ordinal >= in->instances)
        return "a scale-down removes it";
    if (!x->streaming)
        return "it is not streaming from the primary";
    if (json_array_size(in->sync_standbys) > 0 && !in_list(in->sync_standbys, x->name))
        return "it is not a synchronous standby";
    /* Member data is refreshed once a Patroni loop: right after a change of primary it may still
     * describe the old topology, and a replica still following the old primary would take over
     * without the new primary's last commits (found on the test bed: two switchovers in a row lost
     * rows). So the primary must report itself as such, and the replica be on its timeline. */
    if (primary == NULL || !primary->reports_primary)
        return "the primary has not reported itself as primary yet";
    if (x->timeline < 0 || x->timeline != primary->timeline)
        return "it does not follow the primary's timeline yet";
    if (primary->lsn >= 0 && (x->lsn < 0 || primary->lsn - x->lsn > PGW_ROLLOUT_MAX_LAG_BYTES))
        return "it lags behind the primary";
    return NULL;
}

/* The replica that should take over: able to, then the most up to date, then the lowest ordinal. */
static const struct instance *best_candidate(const struct pgw_rollout_input *in, const struct instance *xs, size_t n,
                                             const struct instance *primary)
{
    const struct instance *best = NULL;
    for (size_t i = 0; i < n; ++i) {
        if (cannot_take_over(in, &xs[i], primary) != NULL)
            continue;
        if (best == NULL || xs[i].lsn > best->lsn)
            best = &xs[i];
    }
    return best;
}

static const struct instance *find(const struct instance *xs, size_t n, const char *name)
{
    for (size_t i = 0; name != NULL && i < n; ++i) {
        if (strcmp(xs[i].name, name) == 0)
            return &xs[i];
    }
    return NULL;
}

static void set_step(struct pgw_rollout_plan *plan, enum pgw_rollout_action action, const char *reason, const char *target,
                     const char *candidate, char *message)
{
    plan->action = action;
    plan->reason = reason;
    plan->target = target != NULL ? pgw_strdup(target) : NULL;
    plan->candidate = candidate != NULL ? pgw_strdup(candidate) : NULL;
    plan->message = message;
}

static void switchover_to(struct pgw_rollout_plan *plan, const struct instance *primary, const struct instance *to, const char *why)
{
    set_step(plan, PGW_ROLLOUT_SWITCHOVER, "Switchover", primary->name, to->name,
             pgw_asprintf("%lld/%lld instances updated; switching over from %s to %s (%s)", plan->updated, plan->total,
                          primary->name, to->name, why));
}

/* A switchover away from `primary` for `why`, or a wait saying why none is possible. */
static void switchover_away(const struct pgw_rollout_input *in, struct pgw_rollout_plan *plan, const struct instance *xs, size_t n,
                            const struct instance *primary, const char *why)
{
    const struct instance *to = best_candidate(in, xs, n, primary);
    if (to != NULL) {
        switchover_to(plan, primary, to, why);
        return;
    }
    /* Why each replica may not: what the user needs to see to unblock it. */
    char why_not[512] = "";
    for (size_t i = 0; i < n; ++i) {
        const char *no = xs[i].primary ? NULL : cannot_take_over(in, &xs[i], primary);
        size_t used = strlen(why_not);
        if (no != NULL && used < sizeof(why_not))
            snprintf(why_not + used, sizeof(why_not) - used, "%s%s: %s", used > 0 ? "; " : "", xs[i].name, no);
    }
    set_step(plan, PGW_ROLLOUT_WAIT, "Blocked", NULL, NULL,
             pgw_asprintf("%lld/%lld instances updated; %s needs a switchover (%s) but no replica may take over (%s)",
                          plan->updated, plan->total, primary->name, why, why_not[0] != '\0' ? why_not : "none left"));
}

void pgw_rollout_decide(const struct pgw_rollout_input *in, struct pgw_rollout_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    struct instance xs[64];
    size_t n = collect(in, xs, sizeof(xs) / sizeof(xs[0]));
    const struct instance *primary = NULL;
    size_t stale = 0, down = 0;
    for (size_t i = 0; i < n; ++i) {
        if (xs[i].primary)
            primary = &xs[i];
        stale += xs[i].stale != 0;
        down += xs[i].terminating || !xs[i].ready;
    }
    plan->total = (long long)n;
    plan->updated = (long long)(n - stale);

    const struct instance *restart = NULL;
    if (in->restart_request != NULL) {
        restart = find(xs, n, in->restart_request);
        if (restart == NULL || restart->ordinal >= in->instances) {
            plan->restart_invalid = 1;
            restart = NULL;
        }
    }
    const struct instance *wanted = NULL;
    if (in->switchover_request != NULL) {
        if (primary != NULL && strcmp(primary->name, in->switchover_request) == 0)
            plan->switchover_done = 1;
        else
            wanted = find(xs, n, in->switchover_request);
    }
    int scale_down_primary = primary != NULL && primary->ordinal >= in->instances;
    if (scale_down_primary)
        plan->hold_replicas = primary->ordinal + 1;
    plan->in_progress = stale > 0 || restart != NULL || (in->switchover_request != NULL && !plan->switchover_done) ||
                        scale_down_primary || in->failover_pending;
    if (!plan->in_progress) {
        set_step(plan, PGW_ROLLOUT_IDLE, "UpToDate", NULL, NULL,
                 pgw_asprintf("%lld/%lld instances updated", plan->updated, plan->total));
        return;
    }
    if (in->failover_pending) {
        set_step(plan, PGW_ROLLOUT_WAIT, "Switchover", NULL, NULL,
                 pgw_asprintf("%lld/%lld instances updated; waiting for Patroni to carry out the switchover", plan->updated,
                              plan->total));
        return;
    }
    if (primary == NULL) {
        set_step(plan, PGW_ROLLOUT_WAIT, "Waiting", NULL, NULL,
                 pgw_asprintf("%lld/%lld instances updated; waiting for a primary", plan->updated, plan->total));
        return;
    }
    if (in->switchover_request != NULL && !plan->switchover_done) {
        const char *why = wanted == NULL ? "no such pod" : cannot_take_over(in, wanted, primary);
        if (why == NULL) {
            switchover_to(plan, primary, wanted,
                          "requested with "
                          "pgwarden.io/switchover");
            return;
        }
        set_step(plan, PGW_ROLLOUT_WAIT, "Blocked", NULL, NULL,
                 pgw_asprintf("the requested switchover to %s waits: %s", in->switchover_request, why));
        return;
    }
    /* Never more than one instance down: while one is, only a stale replica that is itself down may be
     * replaced (that cannot make things worse, and it is how a bad template is recovered from). */
    long long expected = in->instances > plan->hold_replicas ? in->instances : plan->hold_replicas;
    if (down > 0 || (long long)n < expected) {
        for (size_t i = 0; down == 1 && (long long)n >= expected && i < n; ++i) {
            const struct instance *x = &xs[i];
            if (!x->primary && !x->terminating && !x->ready && x->stale && x->unready_for >= PGW_ROLLOUT_STUCK_SECONDS) {
                set_step(plan, PGW_ROLLOUT_EVICT, "RollingUpdate", x->name, NULL,
                         pgw_asprintf("%lld/%lld instances updated; replacing replica %s, not ready for %lld s (%s)", plan->updated,
                                      plan->total, x->name, x->unready_for, x->why));
                return;
            }
        }
        const struct instance *who = NULL;
        for (size_t i = 0; who == NULL && i < n; ++i) {
            if (xs[i].terminating || !xs[i].ready)
                who = &xs[i];
        }
        if (who == NULL)
            set_step(plan, PGW_ROLLOUT_WAIT, "Waiting", NULL, NULL,
                     pgw_asprintf("%lld/%lld instances updated; waiting for %lld instances to exist", plan->updated, plan->total,
                                  expected));
        else if (!who->terminating && who->unready_for >= PGW_ROLLOUT_STUCK_SECONDS)
            /* No seconds in the text: the Warning Event is raised once per message. */
            set_step(plan, PGW_ROLLOUT_WAIT, "Blocked", NULL, NULL,
                     pgw_asprintf("%lld/%lld instances updated; %s has not been ready for over %d s and the roll waits for "
                                  "it (kubectl describe pod %s); fixing the spec resumes it",
                                  plan->updated, plan->total, who->name, PGW_ROLLOUT_STUCK_SECONDS, who->name));
        else
            set_step(plan, PGW_ROLLOUT_WAIT, "Waiting", NULL, NULL,
                     pgw_asprintf("%lld/%lld instances updated; waiting for %s to be %s", plan->updated, plan->total, who->name,
                                  who->terminating ? "replaced" : "ready"));
        return;
    }
    if (scale_down_primary) {
        switchover_away(in, plan, xs, n, primary, "the scale-down removes it");
        return;
    }
    if (restart != NULL) {
        if (restart->primary) {
            switchover_away(in, plan, xs, n, primary, "a restart of it was requested");
            return;
        }
        plan->restart_done = 1;
        set_step(plan, PGW_ROLLOUT_EVICT, "Restart", restart->name, NULL,
                 pgw_asprintf("restarting %s as requested", restart->name));
        return;
    }
    for (size_t i = n; i-- > 0;) {
        if (!xs[i].primary && xs[i].stale) {
            set_step(plan, PGW_ROLLOUT_EVICT, "RollingUpdate", xs[i].name, NULL,
                     pgw_asprintf("%lld/%lld instances updated; replacing replica %s (%s)", plan->updated, plan->total, xs[i].name,
                                  xs[i].why));
            return;
        }
    }
    /* Only the primary is left. */
    if (n == 1) {
        set_step(plan, PGW_ROLLOUT_EVICT, "RollingUpdate", primary->name, NULL,
                 pgw_asprintf("0/1 instances updated; replacing the single instance %s (%s): it is down until its new pod is "
                              "ready",
                              primary->name, primary->why));
        return;
    }
    if (in->supervised) {
        const struct instance *to = best_candidate(in, xs, n, primary);
        set_step(plan, PGW_ROLLOUT_WAIT, "WaitingForSwitchover", NULL, NULL,
                 pgw_asprintf("%lld/%lld instances updated; the primary %s waits for a switchover (supervised): kubectl annotate "
                              "pgc %s pgwarden.io/switchover=%s",
                              plan->updated, plan->total, primary->name, in->cluster, to != NULL ? to->name : "<replica>"));
        return;
    }
    switchover_away(in, plan, xs, n, primary, primary->why);
}

void pgw_rollout_plan_dispose(struct pgw_rollout_plan *plan)
{
    free(plan->target);
    free(plan->candidate);
    free(plan->message);
    memset(plan, 0, sizeof(*plan));
}

/* Adds `name` to the entry of `parameter` in `by_param`, creating it with the old and new values. */
static void add_pending(json_t *by_param, const char *parameter, const json_t *change, const char *name)
{
    json_t *entry = json_object_get(by_param, parameter);
    if (entry == NULL) {
        entry = json_object();
        json_object_set_new(entry, "parameter", json_string(parameter));
        const char *old = json_string_value(json_object_get(change, "old_value"));
        const char *now = json_string_value(json_object_get(change, "new_value"));
        if (old != NULL)
            json_object_set_new(entry, "oldValue", json_string(old));
        if (now != NULL)
            json_object_set_new(entry, "newValue", json_string(now));
        json_object_set_new(entry, "instances", json_array());
        json_object_set_new(by_param, parameter, entry);
    }
    json_array_append_new(json_object_get(entry, "instances"), json_string(name));
}

static int by_parameter(const void *a, const void *b)
{
    const char *pa = json_string_value(json_object_get(*(json_t *const *)a, "parameter"));
    const char *pb = json_string_value(json_object_get(*(json_t *const *)b, "parameter"));
    return strcmp(pa, pb);
}

json_t *pgw_rollout_pending_restart(const json_t *pods)
{
    json_t *by_param = json_object();
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod)
    {
        json_t *member = pgw_rollout_member(pod);
        const char *name = pgw_obj_meta_str(pod, "name");
        const char *parameter;
        json_t *change;
        if (name != NULL && json_is_true(json_object_get(member, "pending_restart")))
            json_object_foreach(json_object_get(member, "pending_restart_reason"), parameter, change)
                add_pending(by_param, parameter, change, name);
        json_decref(member);
    }
    size_t count = json_object_size(by_param), k = 0;
    json_t **entries = pgw_calloc(count > 0 ? count : 1, sizeof(*entries));
    const char *key;
    json_t *entry;
    json_object_foreach(by_param, key, entry) entries[k++] = entry;
    qsort(entries, count, sizeof(*entries), by_parameter);
    json_t *out = json_array();
    for (k = 0; k < count; ++k)
        json_array_append(out, entries[k]);
    free(entries);
    json_decref(by_param);
    return out;
}
