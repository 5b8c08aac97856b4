/*
 * The cluster detail (see detail.h): the assembly is pure, so what a user
 * with partial rights sees is tested on JSON; pgw_api_detail reads the parts
 * as the user, one request each (seven in all), and a part the user may not
 * read is left out and named in "forbidden" instead of failing the page.
 */
#include "api/detail.h"
#include "api/handlers.h"

#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/json_pack.h"
#include "common/object.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/primary.h"
#include "controller/decide/summary.h"
#include "controller/kube/kclient.h"
#include "specs/pod_layout.h"

/* The Secret's keys shown, and the names they get in the answer. */
static const struct {
    const char *key, *as;
} connection_keys[] = {
    {"host", "host"},         {"port", "port"}, {"dbname", "database"},  {"username", "user"},
    {"password", "password"}, {"uri", "uri"},   {"jdbc-uri", "jdbcUri"},
};

json_t *pgw_api_detail_connection(const char *secret_name, const json_t *secret, enum pgw_api_secret_state state)
{
    if (state == PGW_API_SECRET_FORBIDDEN)
        return pgw_json_pack("{s:b,s:s}", "forbidden", 1, "secret", secret_name);
    const json_t *data = json_object_get(secret, "data");
    if (state == PGW_API_SECRET_MISSING || !json_is_object(data))
        return pgw_json_pack("{s:b,s:s}", "missing", 1, "secret", secret_name);
    json_t *out = pgw_json_pack("{s:s}", "secret", secret_name);
    for (size_t i = 0; i != sizeof(connection_keys) / sizeof(connection_keys[0]); ++i) {
        const char *encoded = json_string_value(json_object_get(data, connection_keys[i].key));
        size_t len = 0;
        char *plain = encoded != NULL ? pgw_base64_decode(encoded, &len) : NULL;
        if (plain == NULL)
            continue;
        if (strcmp(connection_keys[i].as, "port") == 0 && atoi(plain) > 0)
            json_object_set_new(out, "port", json_integer(atoi(plain)));
        else
            json_object_set_new(out, connection_keys[i].as, json_stringn(plain, len));
        free(plain);
    }
    return out;
}

static const char *event_time(const json_t *e)
{
    const char *t = json_string_value(json_object_get(e, "lastTimestamp"));
    if (t == NULL)
        t = json_string_value(json_object_get(e, "eventTime"));
    if (t == NULL)
        t = pgw_obj_meta_str(e, "creationTimestamp");
    return t != NULL ? t : "";
}

static int event_newest_first(const void *a, const void *b)
{
    /* RFC 3339 in UTC sorts as text; eventTime's microseconds sort after the same second's plain form. */
    return strcmp(event_time(*(const json_t *const *)b), event_time(*(const json_t *const *)a));
}

json_t *pgw_api_detail_events(const json_t *events)
{
    size_t n = json_array_size(events), i;
    const json_t **sorted = pgw_calloc(n + 1, sizeof(*sorted));
    for (i = 0; i != n; ++i)
        sorted[i] = json_array_get(events, i);
    qsort(sorted, n, sizeof(*sorted), event_newest_first);
    json_t *out = json_array();
    for (i = 0; i != n && i != PGW_API_DETAIL_MAX_EVENTS; ++i) {
        const json_t *e = sorted[i];
        const char *kind = pgw_obj_str_at(e, "involvedObject.kind"), *name = pgw_obj_str_at(e, "involvedObject.name");
        char *object = pgw_asprintf("%s/%s", kind != NULL ? kind : "", name != NULL ? name : "");
        json_t *count = json_object_get(e, "count");
        json_t *entry = pgw_json_pack("{s:s?,s:s?,s:s?,s:I,s:s,s:s%}", "type", json_string_value(json_object_get(e, "type")),
                                      "reason", json_string_value(json_object_get(e, "reason")), "message",
                                      json_string_value(json_object_get(e, "message")), "count",
                                      json_is_integer(count) ? json_integer_value(count) : (json_int_t)1, "lastTimestamp",
                                      event_time(e), "object", object, strlen(object));
        free(object);
        json_array_append_new(out, entry);
    }
    free(sorted);
    return out;
}

json_t *pgw_api_detail_window(const json_t *cluster, const json_t *backups, time_t now)
{
    const char *cname = pgw_obj_meta_str(cluster, "name");
    const char *oldest = NULL, *newest = NULL;
    size_t i;
    const json_t *b;
    json_array_foreach(backups, i, b)
    {
        const char *c = pgw_obj_str_at(b, "spec.cluster"), *phase = pgw_obj_str_at(b, "status.phase");
        const char *done = pgw_obj_str_at(b, "status.completedAt");
        if (cname == NULL || c == NULL || strcmp(c, cname) != 0 || phase == NULL || strcmp(phase, "Succeeded") != 0 || done == NULL)
            continue;
        if (oldest == NULL || strcmp(done, oldest) < 0)
            oldest = done;
        if (newest == NULL || strcmp(done, newest) > 0)
            newest = done;
    }
    if (oldest == NULL)
        return json_null();
    const json_t *ready = pgw_cluster_status_condition(json_object_get(cluster, "status"), "BackupReady");
    int archiving = json_is_string(json_object_get(ready, "status")) &&
                    strcmp(json_string_value(json_object_get(ready, "status")), "True") == 0;
    char buf[32];
    return pgw_json_pack("{s:s,s:s,s:b}", "from", oldest, "to", archiving ? pgw_rfc3339_format(now, buf, sizeof(buf)) : newest,
                         "walArchiving", archiving);
}

json_t *pgw_api_detail_assemble(const struct pgw_api_detail_input *in)
{
    json_t *empty = json_array();
    const json_t *pods = in->pods != NULL ? in->pods : empty, *services = in->services != NULL ? in->services : empty;
    const json_t *backups = in->backups != NULL ? in->backups : empty;
    const char *name = pgw_obj_meta_str(in->cluster, "name");
    char *secret_name = pgw_obj_child_name(name != NULL ? name : "", PGW_SUFFIX_APP);
    json_t *out = json_object();
    json_object_set(out, "cluster", (json_t *)in->cluster);
    json_object_set_new(out, "summary", pgw_cluster_summary(in->cluster, in->leader, pods, services, backups));
    json_object_set_new(out, "connection", pgw_api_detail_connection(secret_name, in->secret, in->secret_state));
    json_object_set_new(out, "recoverableWindow", pgw_api_detail_window(in->cluster, backups, in->now));
    json_object_set_new(out, "events", pgw_api_detail_events(in->events));
    json_object_set_new(out, "forbidden", in->forbidden != NULL ? json_deep_copy(in->forbidden) : json_array());
    free(secret_name);
    json_decref(empty);
    return out;
}

/* ---- reading the parts, as the user -------------------------------------------------- */

/* GET path as the user. The items (or the object when `object`) on success (new reference); NULL otherwise, with
 * `what` added to forbidden on a 403. */
static json_t *read_as(const struct pgw_api_call *c, const char *path, int object, const char *what, json_t *forbidden,
                       long *status)
{
    struct pgw_kresult r;
    pgw_kclient_request_as(c->client, c->as, "GET", path, NULL, NULL, &r);
    json_t *out = NULL;
    if (r.outcome == PGW_K_OK)
        out = json_incref(object ? r.body : json_object_get(r.body, "items"));
    else if (r.http_status == 403)
        json_array_append_new(forbidden, json_string(what));
    if (status != NULL)
        *status = r.http_status;
    pgw_kresult_dispose(&r);
    return out;
}

void pgw_api_detail(const struct pgw_api_call *c, struct pgw_api_response *out)
{
    struct pgw_kresult r;
    char *path = pgw_kclient_path(pgw_resource_find("PostgresCluster"), c->ns, c->name, NULL);
    pgw_kclient_request_as(c->client, c->as, "GET", path, NULL, NULL, &r);
    free(path);
    if (r.outcome != PGW_K_OK) {
        pgw_api_response_kresult(out, &r);
        pgw_kresult_dispose(&r);
        return;
    }
    json_t *forbidden = json_array();
    char *selector = pgw_asprintf("%s=%s", PGW_POD_LABEL_CLUSTER, c->name);
    char *escaped = pgw_kclient_escape(selector);
    char *field = pgw_asprintf("involvedObject.name=%s", c->name);
    char *field_escaped = pgw_kclient_escape(field);
    char *secret_name = pgw_obj_child_name(c->name, PGW_SUFFIX_APP);

    char *pods_path = pgw_asprintf("/api/v1/namespaces/%s/pods?labelSelector=%s", c->ns, escaped);
    char *services_path = pgw_asprintf("/api/v1/namespaces/%s/services?labelSelector=%s", c->ns, escaped);
    char *backups_path = pgw_kclient_path(pgw_resource_find("PostgresBackup"), c->ns, NULL, NULL);
    char *endpoints_path = pgw_asprintf("/api/v1/namespaces/%s/endpoints/%s", c->ns, c->name);
    char *events_path = pgw_asprintf("/api/v1/namespaces/%s/events?fieldSelector=%s", c->ns, field_escaped);
    char *secret_path = pgw_asprintf("/api/v1/namespaces/%s/secrets/%s", c->ns, secret_name);

    json_t *pods = read_as(c, pods_path, 0, "pods", forbidden, NULL);
    json_t *services = read_as(c, services_path, 0, "services", forbidden, NULL);
    json_t *backups = read_as(c, backups_path, 0, "postgresbackups", forbidden, NULL);
    json_t *endpoints = read_as(c, endpoints_path, 1, "endpoints", forbidden, NULL);
    json_t *events = read_as(c, events_path, 0, "events", forbidden, NULL);
    long secret_status = 0;
    json_t *secret = read_as(c, secret_path, 1, "secrets", forbidden, &secret_status);

    const char *leader =
        json_string_value(json_object_get(json_object_get(pgw_obj_meta(endpoints), "annotations"), PGW_PATRONI_LEADER_ANNOTATION));
    struct pgw_api_detail_input in = {
        .cluster = r.body,
        .leader = leader != NULL && leader[0] != '\0' ? leader : NULL,
        .pods = pods,
        .services = services,
        .backups = backups,
        .events = events,
        .secret = secret,
        .secret_state = secret != NULL         ? PGW_API_SECRET_READ
                        : secret_status == 403 ? PGW_API_SECRET_FORBIDDEN
                                               : PGW_API_SECRET_MISSING,
        .forbidden = forbidden,
        .now = c->now,
    };
    pgw_api_response_json(out, 200, pgw_api_detail_assemble(&in));

    json_decref(secret);
    json_decref(events);
    json_decref(endpoints);
    json_decref(backups);
    json_decref(services);
    json_decref(pods);
    free(secret_path);
    free(events_path);
    free(endpoints_path);
    free(backups_path);
    free(services_path);
    free(pods_path);
    free(secret_name);
    free(field_escaped);
    free(field);
    free(escaped);
    free(selector);
    json_decref(forbidden);
    pgw_kresult_dispose(&r);
}
