/*
 * The summary of a cluster (what `kubectl pgwarden status -o json` prints and
 * the API's detail carries): one shape, one implementation. Pure, so it is
 * tested from JSON fixtures.
 *
 * Where each figure comes from:
 *   - phase, versions, conditions, lastBackup: the PostgresCluster's status;
 *   - role, state, timeline, WAL positions: Patroni's member data, the
 *     `status` annotation each pod's Patroni writes every loop (loop_wait), so
 *     the lag shown is as old as that (a few seconds), and in bytes of WAL:
 *     the primary's position minus what the replica replayed;
 *   - readiness, node, IP: the pod;
 *   - services: the cluster's Services (Patroni's config Service left out);
 *   - backups: the namespace's PostgresBackups naming the cluster, newest first.
 */
#include "controller/decide/summary.h"

#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/object.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/primary.h"
#include "controller/decide/rollout.h"
#include "specs/operations.h"
#include "specs/pod_layout.h"

#define MAX_BACKUPS_SHOWN 5

static long long int_or(const json_t *v, long long otherwise)
{
    return json_is_integer(v) ? (long long)json_integer_value(v) : otherwise;
}

/* The WAL position a member has: replayed for a replica, written for a primary. -1: unknown. */
static long long member_lsn(const json_t *member, int replica)
{
    long long lsn = replica ? int_or(json_object_get(member, "replay_lsn"), -1) : -1;
    return lsn >= 0 ? lsn : int_or(json_object_get(member, "xlog_location"), -1);
}

static int by_name(const void *a, const void *b)
{
    const char *x = pgw_obj_meta_str(*(const json_t *const *)a, "name"), *y = pgw_obj_meta_str(*(const json_t *const *)b, "name");
    return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}

static json_t *instance_entry(const json_t *pod, const char *primary, long long primary_lsn)
{
    const char *name = pgw_obj_meta_str(pod, "name");
    json_t *member = pgw_rollout_member(pod);
    const char *role = json_string_value(json_object_get(member, "role"));
    if (role == NULL)
        role = json_string_value(json_object_get(json_object_get(pgw_obj_meta(pod), "labels"), PGW_POD_LABEL_ROLE));
    int is_primary = primary != NULL && name != NULL && strcmp(name, primary) == 0;
    if (is_primary && (role == NULL || strcmp(role, "master") == 0))
        role = "primary";
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(name != NULL ? name : ""));
    json_object_set_new(e, "role", json_string(role != NULL ? role : "unknown"));
    json_object_set_new(e, "ready", json_boolean(pgw_pod_is_ready(pod)));
    if (json_object_get(pgw_obj_meta(pod), "deletionTimestamp") != NULL)
        json_object_set_new(e, "terminating", json_true());
    const char *state = json_string_value(json_object_get(member, "state"));
    const char *repl = json_string_value(json_object_get(member, "replication_state"));
    json_object_set_new(e, "state", json_string(repl != NULL ? repl : state != NULL ? state : "unknown"));
    long long timeline = int_or(json_object_get(member, "timeline"), -1);
    json_object_set_new(e, "timeline", timeline >= 0 ? json_integer(timeline) : json_null());
    long long lsn = member_lsn(member, !is_primary);
    json_object_set_new(e, "lagBytes",
                        is_primary                     ? json_integer(0)
                        : lsn >= 0 && primary_lsn >= 0 ? json_integer(primary_lsn > lsn ? primary_lsn - lsn : 0)
                                                       : json_null());
    if (json_object_get(member, "pending_restart") != NULL)
        json_object_set_new(e, "pendingRestart", json_boolean(json_is_true(json_object_get(member, "pending_restart"))));
    const char *node = pgw_obj_str_at(pod, "spec.nodeName"), *ip = pgw_obj_str_at(pod, "status.podIP");
    json_object_set_new(e, "node", json_string(node != NULL ? node : ""));
    json_object_set_new(e, "ip", json_string(ip != NULL ? ip : ""));
    long long restarts = 0;
    size_t i;
    json_t *cs;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "containerStatuses"), i, cs) restarts +=
        int_or(json_object_get(cs, "restartCount"), 0);
    json_object_set_new(e, "restarts", json_integer(restarts));
    json_decref(member);
    return e;
}

static json_t *instances(const json_t *cluster, const json_t *pods, const char *primary)
{
    const char *cname = pgw_obj_meta_str(cluster, "name");
    size_t n = 0, i;
    json_t *pod;
    const json_t **sorted = pgw_calloc(json_array_size(pods) + 1, sizeof(*sorted));
    long long primary_lsn = -1;
    json_array_foreach(pods, i, pod)
    {
        const char *name = pgw_obj_meta_str(pod, "name");
        if (cname == NULL || name == NULL || pgw_instance_ordinal(cname, name) < 0)
            continue; /* a backup Job's pod carries the cluster label too */
        sorted[n++] = pod;
        if (primary != NULL && strcmp(name, primary) == 0) {
            json_t *member = pgw_rollout_member(pod);
            primary_lsn = member_lsn(member, 0);
            json_decref(member);
        }
    }
    qsort(sorted, n, sizeof(*sorted), by_name);
    json_t *out = json_array();
    for (i = 0; i != n; ++i)
        json_array_append_new(out, instance_entry(sorted[i], primary, primary_lsn));
    free(sorted);
    return out;
}

/* The Services users connect to, in the order shown: what each is for, by its name's suffix. */
static const struct {
    const char *suffix, *role;
} service_roles[] = {
    {"", "read-write"},
    {PGW_SUFFIX_READ_ONLY, "read-only"},
    {PGW_SUFFIX_READ, "any"},
    {PGW_SUFFIX_PODS, "instances"},
};
#define SERVICE_ROLES (sizeof(service_roles) / sizeof(service_roles[0]))

/* The index in service_roles of a Service of the cluster, or SERVICE_ROLES (not shown: Patroni's config Service). */
static size_t service_role(const char *cluster, const char *name)
{
    size_t n = strlen(cluster), i = 0;
    if (strncmp(name, cluster, n) != 0)
        return SERVICE_ROLES;
    while (i != SERVICE_ROLES && strcmp(name + n, service_roles[i].suffix) != 0)
        ++i;
    return i;
}

/* Appends the Services of `list` whose role is service_roles[want]. */
static void append_services(json_t *out, const json_t *list, const char *cname, const char *ns, size_t want)
{
    json_t *svc;
    size_t i;
    json_array_foreach(list, i, svc)
    {
        const char *name = pgw_obj_meta_str(svc, "name");
        if (cname == NULL || name == NULL || service_role(cname, name) != want)
            continue;
        json_t *ports = json_array(), *port;
        size_t j;
        json_array_foreach(pgw_obj_at(svc, "spec.ports"), j, port)
        {
            json_t *entry = json_object();
            json_object_set(entry, "name", json_object_get(port, "name"));
            json_object_set(entry, "port", json_object_get(port, "port"));
            json_array_append_new(ports, entry);
        }
        char *host = pgw_asprintf("%s.%s.svc", name, ns != NULL ? ns : "default");
        json_array_append_new(out, pgw_json_pack("{s:s,s:s,s:s%,s:o}", "name", name, "role", service_roles[want].role, "host", host,
                                                 strlen(host), "ports", ports));
        free(host);
    }
}

static json_t *services(const json_t *cluster, const json_t *list)
{
    const char *cname = pgw_obj_meta_str(cluster, "name"), *ns = pgw_obj_meta_str(cluster, "namespace");
    json_t *out = json_array();
    for (size_t want = 0; want != SERVICE_ROLES; ++want)
        append_services(out, list, cname, ns, want);
    return out;
}

static int newest_first(const void *a, const void *b)
{
    const char *x = pgw_obj_meta_str(*(const json_t *const *)a, "creationTimestamp");
    const char *y = pgw_obj_meta_str(*(const json_t *const *)b, "creationTimestamp");
    int c = strcmp(y != NULL ? y : "", x != NULL ? x : ""); /* RFC 3339 UTC sorts as text */
    if (c != 0)
        return c;
    const char *m = pgw_obj_meta_str(*(const json_t *const *)a, "name"), *n = pgw_obj_meta_str(*(const json_t *const *)b, "name");
    return strcmp(n != NULL ? n : "", m != NULL ? m : "");
}

static void copy_str(json_t *to, const char *key, const json_t *obj, const char *path)
{
    const char *s = pgw_obj_str_at(obj, path);
    if (s != NULL)
        json_object_set_new(to, key, json_string(s));
}

static json_t *backups(const json_t *cluster, const json_t *list)
{
    const char *cname = pgw_obj_meta_str(cluster, "name");
    const json_t **mine = pgw_calloc(json_array_size(list) + 1, sizeof(*mine));
    size_t n = 0, i;
    json_t *b;
    json_array_foreach(list, i, b)
    {
        const char *c = pgw_obj_str_at(b, "spec.cluster");
        if (cname != NULL && c != NULL && strcmp(c, cname) == 0)
            mine[n++] = b;
    }
    qsort(mine, n, sizeof(*mine), newest_first);
    json_t *out = json_array();
    for (i = 0; i != n && i != MAX_BACKUPS_SHOWN; ++i) {
        json_t *e = json_object();
        copy_str(e, "name", mine[i], "metadata.name");
        copy_str(e, "type", mine[i], "spec.type");
        json_object_set_new(
            e, "phase", json_string(pgw_obj_str_at(mine[i], "status.phase") ? pgw_obj_str_at(mine[i], "status.phase") : "Pending"));
        const json_t *size = pgw_obj_at(mine[i], "status.sizeBytes");
        if (json_is_integer(size))
            json_object_set(e, "sizeBytes", (json_t *)size);
        copy_str(e, "startedAt", mine[i], "status.startedAt");
        copy_str(e, "completedAt", mine[i], "status.completedAt");
        copy_str(e, "backupLabel", mine[i], "status.backupLabel");
        copy_str(e, "message", mine[i], "status.message");
        json_array_append_new(out, e);
    }
    free(mine);
    return out;
}

static json_t *conditions(const json_t *cluster)
{
    json_t *out = json_array(), *c;
    size_t i;
    json_array_foreach(pgw_obj_at(cluster, "status.conditions"), i, c)
    {
        json_t *e = json_object();
        copy_str(e, "type", c, "type");
        copy_str(e, "status", c, "status");
        copy_str(e, "reason", c, "reason");
        copy_str(e, "message", c, "message");
        json_array_append_new(out, e);
    }
    return out;
}

json_t *pgw_cluster_summary(const json_t *cluster, const char *leader, const json_t *pods, const json_t *svcs,
                            const json_t *backup_list)
{
    const char *name = pgw_obj_meta_str(cluster, "name"), *ns = pgw_obj_meta_str(cluster, "namespace");
    const char *primary = pgw_primary_pick(leader, pods, pgw_obj_str_at(cluster, "status.primary"));
    json_t *s = json_object();
    json_object_set_new(s, "name", json_string(name != NULL ? name : ""));
    json_object_set_new(s, "namespace", json_string(ns != NULL ? ns : ""));
    const char *phase = pgw_obj_str_at(cluster, "status.phase");
    json_object_set_new(s, "phase", json_string(phase != NULL ? phase : "Pending"));
    const json_t *running = pgw_obj_at(cluster, "status.runningPostgresVersion");
    json_object_set(s, "postgresVersion", (json_t *)(running != NULL ? running : pgw_obj_at(cluster, "spec.postgresVersion")));
    json_object_set_new(s, "desiredInstances", json_integer(int_or(pgw_obj_at(cluster, "spec.instances"), 1)));
    json_object_set_new(s, "readyInstances", json_integer(int_or(pgw_obj_at(cluster, "status.readyInstances"), 0)));
    json_object_set_new(s, "primary", primary != NULL ? json_string(primary) : json_null());
    json_object_set_new(s, "instances", instances(cluster, pods, primary));
    json_object_set_new(s, "services", services(cluster, svcs));
    if (name != NULL) {
        char *host = pgw_asprintf("%s.%s.svc", name, ns != NULL ? ns : "default");
        char *secret = pgw_obj_child_name(name, PGW_SUFFIX_APP);
        const char *db = pgw_obj_str_at(cluster, "spec.bootstrap.initdb.database");
        json_object_set_new(s, "connection",
                            pgw_json_pack("{s:s,s:i,s:s,s:s}", "host", host, "port", PGW_POD_PORT_POSTGRES, "dbname",
                                          db != NULL ? db : "app", "secret", secret));
        free(host);
        free(secret);
    }
    json_object_set_new(s, "backups", backups(cluster, backup_list));
    const json_t *last = pgw_obj_at(cluster, "status.lastBackup");
    if (last != NULL)
        json_object_set(s, "lastBackup", (json_t *)last);
    json_object_set_new(s, "conditions", conditions(cluster));
    return s;
}
