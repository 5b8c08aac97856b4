/*
 * AdmissionReview v1 decode → route → encode.
 *
 * Invariants:
 *  - A review we cannot decode (no uid to echo) gets HTTP 400 and a metav1.Status.
 *  - Everything else gets HTTP 200 with the uid echoed; a denial carries
 *    status{code, reason, message, details.causes} like a Kubernetes Invalid error.
 *  - Validating routes never return a patch; mutating routes return one only
 *    when the object changed.
 */
#include "webhook/admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/config.h"
#include "common/json_arena.h"
#include "common/json_pack.h"
#include "common/json_read.h"
#include "common/json_write.h"
#include "common/jsonpatch.h"
#include "common/xalloc.h"

static char *dump(const json_t *v, size_t *len)
{
    return pgw_json_write(v, len);
}

char *pgw_admission_status_body(int code, const char *reason, const char *message, size_t *len)
{
    json_t *st = pgw_json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1", "metadata", "status",
                               "Failure", "message", message, "reason", reason, "code", code);
    char *s = dump(st, len);
    json_decref(st);
    return s;
}

static void bad_request(struct pgw_admission_outcome *out, const char *message)
{
    out->http_status = 400;
    out->allowed = 0;
    out->body = pgw_admission_status_body(400, "BadRequest", message, &out->body_len);
}

static const char *string_member(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

/* "pgwarden.io/v1" → "pgwarden.io"; "v1" → "". Writes into buf. */
static const char *group_of(const char *api_version, char *buf, size_t bufsize)
{
    const char *slash = strchr(api_version, '/');
    if (slash == NULL)
        return "";
    size_t n = (size_t)(slash - api_version);
    if (n >= bufsize)
        n = bufsize - 1;
    memcpy(buf, api_version, n);
    buf[n] = '\0';
    return buf;
}

static const char *static_operation(const char *op)
{
    static const char *const ops[] = {"CREATE", "UPDATE", "DELETE", "CONNECT"};
    for (size_t i = 0; i != 4; ++i)
        if (strcmp(op, ops[i]) == 0)
            return ops[i];
    return NULL;
}

/* Truncates to at most PGW_MAX_WARNING_LEN bytes without splitting a UTF-8 sequence. */
static json_t *warning_string(const char *w)
{
    size_t n = strlen(w);
    if (n <= PGW_MAX_WARNING_LEN)
        return json_string(w);
    n = PGW_MAX_WARNING_LEN;
    while (n > 0 && ((unsigned char)w[n] & 0xC0) == 0x80)
        --n;
    return json_stringn(w, n);
}

/* The Kubernetes Invalid status for a denial. */
static json_t *invalid_status(const pgw_admission_route_t *route, const char *name, const struct pgw_errors *errs)
{
    json_t *causes = json_array();
    /* As field.ErrorList.ToAggregate(): the message lists each distinct error once, in [] when several. */
    char **lines = pgw_calloc(errs->count, sizeof(*lines));
    size_t unique = 0;
    for (size_t i = 0; i != errs->count; ++i) {
        const struct pgw_field_error *e = &errs->items[i];
        char *body = pgw_field_error_body(e);
        json_array_append_new(
            causes, pgw_json_pack("{s:s,s:s,s:s}", "reason", pgw_error_type_reason(e->type), "message", body, "field", e->path));
        char *line = pgw_asprintf("%s: %s", e->path, body);
        free(body);
        size_t k = 0;
        while (k != unique && strcmp(lines[k], line) != 0)
            ++k;
        if (k == unique)
            lines[unique++] = line;
        else
            free(line);
    }
    char *joined = NULL;
    size_t joined_len = 0;
    FILE *fp = open_memstream(&joined, &joined_len);
    if (unique > 1)
        fputc('[', fp);
    for (size_t k = 0; k != unique; ++k) {
        fprintf(fp, "%s%s", k ? ", " : "", lines[k]);
        free(lines[k]);
    }
    if (unique > 1)
        fputc(']', fp);
    fclose(fp);
    free(lines);

    char *qualified =
        route->guard->group[0] ? pgw_asprintf("%s.%s", route->guard->kind, route->guard->group) : pgw_strdup(route->guard->kind);
    json_t *name_json = json_string(name);
    char *quoted = pgw_json_dumps(name_json, JSON_ENCODE_ANY);
    json_decref(name_json);
    char *message = pgw_asprintf("%s %s is invalid: %s", qualified, quoted ? quoted : "\"\"", joined);
    json_t *status = pgw_json_pack("{s:{},s:s,s:s,s:s,s:{s:s,s:s,s:s,s:o},s:i}", "metadata", "status", "Failure", "message",
                                   message, "reason", "Invalid", "details", "name", name, "group", route->guard->group, "kind",
                                   route->guard->kind, "causes", causes, "code", 422);
    free(qualified);
    free(quoted);
    free(message);
    free(joined);
    return status;
}

static void respond(struct pgw_admission_outcome *out, const json_t *review, json_t *response)
{
    json_t *doc = pgw_json_pack("{s:s,s:s,s:o}", "apiVersion", string_member(review, "apiVersion"), "kind", "AdmissionReview",
                                "response", response);
    out->http_status = 200;
    out->body = dump(doc, &out->body_len);
    json_decref(doc);
}

static void deny(struct pgw_admission_outcome *out, const json_t *review, const char *uid, int code, const char *reason,
                 const char *message)
{
    json_t *response = pgw_json_pack("{s:s,s:b,s:{s:{},s:s,s:s,s:s,s:i}}", "uid", uid, "allowed", 0, "status", "metadata", "status",
                                     "Failure", "message", message, "reason", reason, "code", code);
    out->allowed = 0;
    respond(out, review, response);
}

static void handle(const pgw_admission_route_t *route, const char *body, size_t len, const struct pgw_config *cfg, time_t now,
                   struct pgw_admission_outcome *out)
{
    memset(out, 0, sizeof(*out));
    out->operation = "";
    if (len == 0) {
        bad_request(out, "empty request body: expected an admission.k8s.io/v1 AdmissionReview");
        return;
    }
    json_error_t jerr;
    json_t *review = pgw_json_read(body, len, &jerr); /* json_loadb(REJECT_DUPLICATES | DECODE_ANY), faster */
    if (review == NULL) {
        char *msg = pgw_asprintf("malformed JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        bad_request(out, msg);
        free(msg);
        return;
    }
    if (!json_is_object(review)) {
        bad_request(out, "request body must be a JSON object (an AdmissionReview)");
        goto done;
    }
    if (strcmp(string_member(review, "apiVersion"), "admission.k8s.io/v1") != 0 ||
        strcmp(string_member(review, "kind"), "AdmissionReview") != 0) {
        bad_request(out, "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview");
        goto done;
    }
    json_t *request = json_object_get(review, "request");
    if (!json_is_object(request)) {
        bad_request(out, "AdmissionReview has no request");
        goto done;
    }
    const char *uid = string_member(request, "uid");
    if (uid[0] == '\0') {
        bad_request(out, "AdmissionReview request has no uid");
        goto done;
    }
    snprintf(out->uid, sizeof(out->uid), "%s", uid);

    /* From here on the review is answerable: HTTP 200 with the uid echoed. */
    const char *operation = static_operation(string_member(request, "operation"));
    if (operation == NULL) {
        deny(out, review, uid, 400, "BadRequest", "request.operation must be CREATE, UPDATE, DELETE or CONNECT");
        goto done;
    }
    out->operation = operation;
    json_t *kind = json_object_get(request, "kind");
    if (strcmp(string_member(kind, "kind"), route->guard->kind) != 0 ||
        strcmp(string_member(kind, "group"), route->guard->group) != 0) {
        char *msg = pgw_asprintf("%s serves %s%s%s objects, not %s%s%s", route->path, route->guard->kind,
                                 route->guard->group[0] ? "." : "", route->guard->group, string_member(kind, "kind"),
                                 string_member(kind, "group")[0] ? "." : "", string_member(kind, "group"));
        deny(out, review, uid, 400, "BadRequest", msg);
        free(msg);
        goto done;
    }

    int deleting = strcmp(operation, "DELETE") == 0;
    json_t *object = json_object_get(request, "object");
    json_t *old_object = json_object_get(request, "oldObject");
    json_t *subject = deleting ? old_object : object;
    if (!json_is_object(subject) || (strcmp(operation, "UPDATE") == 0 && !json_is_object(old_object))) {
        char *msg = pgw_asprintf("request.%s must be a %s object", deleting ? "oldObject" : "object", route->guard->kind);
        deny(out, review, uid, 400, "BadRequest", msg);
        free(msg);
        goto done;
    }
    char groupbuf[256];
    const char *object_kind = string_member(subject, "kind");
    const char *object_group = group_of(string_member(subject, "apiVersion"), groupbuf, sizeof(groupbuf));
    if ((object_kind[0] && strcmp(object_kind, route->guard->kind) != 0) ||
        (json_object_get(subject, "apiVersion") && strcmp(object_group, route->guard->group) != 0)) {
        char *msg = pgw_asprintf("object is a %s (%s), but %s serves %s", object_kind, string_member(subject, "apiVersion"),
                                 route->path, route->guard->kind);
        deny(out, review, uid, 400, "BadRequest", msg);
        free(msg);
        goto done;
    }

    const char *name = string_member(request, "name");
    if (name[0] == '\0')
        name = string_member(json_object_get(subject, "metadata"), "name");
    struct pgw_request_ctx ctx = {
        .operation = operation,
        .namespace = string_member(request, "namespace"),
        .name = name,
        .dry_run = json_is_true(json_object_get(request, "dryRun")),
        .now = now,
        .config = cfg,
    };
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    json_t *patch = NULL;
    if (route->step == PGW_ROUTE_DEFAULT) {
        if (!deleting && strcmp(operation, "CONNECT") != 0) {
            json_t *edited = pgw_guard_copy(route->guard, object);
            route->guard->defaulter(edited, &ctx, &errs);
            if (errs.count == 0)
                patch = pgw_jsonpatch_diff(object, edited);
            json_decref(edited);
        }
    } else {
        const json_t *old = deleting ? old_object : (strcmp(operation, "UPDATE") == 0 ? old_object : NULL);
        route->guard->validator(deleting ? NULL : object, old, &ctx, &errs);
        if (route->guard->request_validator != NULL)
            route->guard->request_validator(deleting ? NULL : object, old, &ctx, &errs);
    }

    json_t *response = pgw_json_pack("{s:s,s:b}", "uid", uid, "allowed", errs.count == 0);
    if (errs.count != 0)
        json_object_set_new(response, "status", invalid_status(route, name, &errs));
    if (patch != NULL && json_array_size(patch) != 0) {
        size_t plen;
        char *ptext = dump(patch, &plen);
        json_object_set_new(response, "patchType", json_string("JSONPatch"));
        char *b64 = pgw_base64_encode(ptext, plen);
        /* base64 is ASCII: skip jansson's UTF-8 scan of a string as long as the patch */
        json_object_set_new(response, "patch", json_stringn_nocheck(b64, pgw_base64_encoded_len(plen)));
        free(b64);
        free(ptext);
    }
    if (errs.warning_count != 0) {
        json_t *warnings = json_array();
        for (size_t i = 0; i != errs.warning_count; ++i)
            json_array_append_new(warnings, warning_string(errs.warnings[i]));
        json_object_set_new(response, "warnings", warnings);
    }
    out->allowed = errs.count == 0;
    respond(out, review, response);
    json_decref(patch);
    pgw_errors_dispose(&errs);
done:
    json_decref(review);
}

/* Every jansson value of a review lives in this thread's arena; only the malloc'd body leaves. */
void pgw_admission_handle(const pgw_admission_route_t *route, const char *body, size_t len, const struct pgw_config *cfg,
                          time_t now, struct pgw_admission_outcome *out)
{
    pgw_json_arena_begin();
    handle(route, body, len, cfg, now, out);
    pgw_json_arena_end();
}
