/*
 * Day-2 actions on a cluster through the API (see handlers.h): the same
 * objects the kubectl plugin makes (specs/actions.h), sent as the user. A
 * backup or restore is a new object (201 with it); a switchover or restart
 * is an annotation on the cluster (200 with the patched cluster), which the
 * webhook checks (an instance that exists, not the primary...) and the
 * controller carries out.
 */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"
#include "specs/actions.h"
#include "specs/operations.h"

/* The string member `key` of the body, or NULL; *bad set when present but not a string. */
static const char *body_string(const json_t *body, const char *key, int *bad)
{
    const json_t *v = json_object_get(body, key);
    if (v != NULL && !json_is_string(v))
        *bad = 1;
    return json_string_value(v);
}

/* 0 when the cluster is there for the user, else the answer (404, 403...) is in out. */
static int cluster_readable(const struct pgw_api_call *c, struct pgw_api_response *out)
{
    char *path = pgw_kclient_path(pgw_resource_find("PostgresCluster"), c->ns, c->name, NULL);
    struct pgw_kresult r;
    pgw_kclient_request_as(c->client, c->as, "GET", path, NULL, NULL, &r);
    int rc = r.outcome == PGW_K_OK ? 0 : -1;
    if (rc != 0)
        pgw_api_response_kresult(out, &r);
    pgw_kresult_dispose(&r);
    free(path);
    return rc;
}

static void backup(const struct pgw_api_call *c, const json_t *body, struct pgw_api_response *out)
{
    int bad = 0;
    const char *type = body_string(body, "type", &bad);
    if (type == NULL && !bad)
        type = "full";
    if (bad || !pgw_action_backup_type_ok(type)) {
        pgw_api_response_status(out, 400, "type must be full, diff or incr");
        return;
    }
    if (cluster_readable(c, out) != 0)
        return;
    json_t *obj = pgw_action_backup(c->ns, c->name, type, NULL, c->now);
    char *path = pgw_kclient_path(pgw_resource_find("PostgresBackup"), c->ns, NULL, NULL);
    pgw_api_send_as(c, "POST", path, "application/json", obj, out);
    free(path);
    json_decref(obj);
}

static void restore(const struct pgw_api_call *c, const json_t *body, struct pgw_api_response *out)
{
    int bad = 0;
    struct pgw_restore_request req = {
        .cluster = c->name,
        .into = body_string(body, "name", &bad),
        .time = body_string(body, "time", &bad),
        .lsn = body_string(body, "lsn", &bad),
        .backup = body_string(body, "backup", &bad),
    };
    const json_t *immediate = json_object_get(body, "immediate"), *instances = json_object_get(body, "instances");
    if (immediate != NULL && !json_is_boolean(immediate))
        bad = 1;
    req.immediate = json_is_true(immediate);
    if (instances != NULL) {
        if (!json_is_integer(instances))
            bad = 1;
        req.has_instances = 1;
        req.instances = json_integer_value(instances);
    }
    if (bad || req.into == NULL) {
        pgw_api_response_status(out, 400,
                                "the body is {\"name\": NEW CLUSTER, and at most one of \"time\": RFC 3339, \"lsn\": LSN, "
                                "\"immediate\": true; optional \"backup\": NAME, \"instances\": N}");
        return;
    }
    const char *why;
    json_t *obj = pgw_action_restore(c->ns, &req, &why);
    if (obj == NULL) {
        pgw_api_response_status(out, 400, why);
        return;
    }
    char *path = pgw_kclient_path(pgw_resource_find("PostgresRestore"), c->ns, NULL, NULL);
    pgw_api_send_as(c, "POST", path, "application/json", obj, out);
    free(path);
    json_decref(obj);
}

static void annotate(const struct pgw_api_call *c, const char *annotation, const char *value, struct pgw_api_response *out)
{
    json_t *patch = pgw_action_annotation_patch(annotation, value);
    char *path = pgw_kclient_path(pgw_resource_find("PostgresCluster"), c->ns, c->name, NULL);
    pgw_api_send_as(c, "PATCH", path, "application/merge-patch+json", patch, out);
    free(path);
    json_decref(patch);
}

void pgw_api_action(const struct pgw_api_call *c, enum pgw_api_route_id id, struct pgw_api_response *out)
{
    json_t *body = pgw_api_read_json(c->body, c->body_len, 1, out);
    if (body == NULL)
        return;
    int bad = 0;
    const char *instance = body_string(body, "instance", &bad);
    switch (id) {
    case PGW_API_BACKUP:
        backup(c, body, out);
        break;
    case PGW_API_RESTORE:
        restore(c, body, out);
        break;
    case PGW_API_SWITCHOVER:
        if (bad || instance == NULL || instance[0] == '\0')
            pgw_api_response_status(out, 400, "the body is {\"instance\": the replica to promote, e.g. \"main-1\"}");
        else
            annotate(c, PGW_ANNOTATION_SWITCHOVER, instance, out);
        break;
    case PGW_API_RESTART:
        if (bad || (instance != NULL && instance[0] == '\0'))
            pgw_api_response_status(out, 400, "the body is {\"instance\": \"main-1\" or \"all\"} (default all)");
        else
            annotate(c, PGW_ANNOTATION_RESTART, instance != NULL ? instance : PGW_RESTART_ALL, out);
        break;
    default:
        pgw_api_response_status(out, 404, "no such action");
        break;
    }
    json_decref(body);
}
