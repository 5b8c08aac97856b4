/*
 * `pgwarden admit -f FILE [--old FILE] [--operation CREATE|UPDATE|DELETE] [-o yaml|json]`
 *
 * Offline admission for CI: every document goes through the same
 * pgw_admission_handle() as the HTTPS server, first on the mutate route of its
 * kind, then (with the patch applied by common/jsonpatch_apply.c) on the
 * validate route. What this prints is therefore what kube-apiserver would store
 * or refuse. Documents of other kinds are passed through unchanged.
 *
 * On UPDATE and DELETE the old object is defaulted first, as the stored copy
 * of an admitted object always is.
 *
 * Exit: 0 all allowed, 1 any denied, 2 usage or I/O error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/input.h"
#include "cli/options.h"
#include "common/base64.h"
#include "common/config.h"
#include "common/json_pack.h"
#include "common/jsonpatch_apply.h"
#include "common/xalloc.h"
#include "common/yaml.h"
#include "common/yaml_emit.h"
#include "webhook/admission.h"

struct st_admit_t {
    const struct pgw_config *cfg;
    time_t now;
    unsigned seq;
    int denied;
};

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* The route of `prefix` ("/mutate/" or "/validate/") serving this document's kind, or NULL. */
static const pgw_admission_route_t *route_for(const json_t *doc, const char *prefix)
{
    const char *kind = str(doc, "kind"), *api_version = str(doc, "apiVersion");
    const char *slash = strchr(api_version, '/');
    size_t group_len = slash ? (size_t)(slash - api_version) : 0;
    for (const pgw_admission_route_t *r = pgw_admission_routes; r->path != NULL; ++r)
        if (strncmp(r->path, prefix, strlen(prefix)) == 0 && r->guard->group[0] != '\0' && strcmp(r->guard->kind, kind) == 0 &&
            strlen(r->guard->group) == group_len && strncmp(r->guard->group, api_version, group_len) == 0)
            return r;
    return NULL;
}

/*
 * Runs one AdmissionReview through the pipeline. Returns the response object
 * (caller decrefs), or NULL when the pipeline answered 400 (message printed).
 */
static json_t *run_review(struct st_admit_t *a, const pgw_admission_route_t *route, const char *operation, const json_t *object,
                          const json_t *old_object)
{
    const json_t *subject = object ? object : old_object;
    json_t *meta = json_object_get(subject, "metadata");
    const char *ns = str(meta, "namespace");
    const char *api_version = str(subject, "apiVersion");
    const char *slash = strchr(api_version, '/');
    char *uid = pgw_asprintf("pgwarden-admit-%u", ++a->seq);
    json_t *request = pgw_json_pack("{s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s},s:b}", "uid", uid, "kind", "group",
                                    route->guard->group, "version", slash ? slash + 1 : "v1", "kind", route->guard->kind,
                                    "resource", "group", route->guard->group, "version", slash ? slash + 1 : "v1", "resource",
                                    route->resource, "name", str(meta, "name"), "namespace", ns[0] ? ns : "default", "operation",
                                    operation, "userInfo", "username", "pgwarden-admit", "dryRun", 1);
    free(uid);
    if (object != NULL)
        json_object_set(request, "object", (json_t *)object);
    if (old_object != NULL)
        json_object_set(request, "oldObject", (json_t *)old_object);
    json_t *review =
        pgw_json_pack("{s:s,s:s,s:o}", "apiVersion", "admission.k8s.io/v1", "kind", "AdmissionReview", "request", request);
    char *body = json_dumps(review, JSON_COMPACT);
    json_decref(review);
    struct pgw_admission_outcome out;
    pgw_admission_handle(route, body, strlen(body), a->cfg, a->now, &out);
    free(body);
    json_t *response = NULL;
    json_t *doc = json_loadb(out.body, out.body_len, 0, NULL);
    if (out.http_status == 200 && doc != NULL)
        response = json_incref(json_object_get(doc, "response"));
    else
        fprintf(stderr, "pgwarden admit: %s: %.*s\n", route->path, (int)out.body_len, out.body);
    json_decref(doc);
    free(out.body);
    return response;
}

static void print_warnings(const json_t *response)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(response, "warnings"), i, w) fprintf(stderr, "Warning: %s\n", json_string_value(w));
}

/* kubectl's rendering of an Invalid status: a header, then one "* cause" per line. */
static void print_denial(const json_t *subject, const json_t *response)
{
    json_t *status = json_object_get(response, "status");
    json_t *causes = json_object_get(json_object_get(status, "details"), "causes");
    if (json_array_size(causes) == 0) {
        fprintf(stderr, "Error: %s %s\n", str(status, "reason"), str(status, "message"));
        return;
    }
    fprintf(stderr, "The %s \"%s\" is invalid:\n", str(subject, "kind"), str(json_object_get(subject, "metadata"), "name"));
    size_t i;
    json_t *c;
    json_array_foreach(causes, i, c) fprintf(stderr, "* %s: %s\n", str(c, "field"), str(c, "message"));
}

/* Mutate route: returns the defaulted copy (caller decrefs) or NULL when denied/failed. */
static json_t *default_object(struct st_admit_t *a, const json_t *doc, const char *operation, const json_t *old, int report)
{
    const pgw_admission_route_t *route = route_for(doc, "/mutate/");
    if (route == NULL)
        return json_deep_copy(doc);
    json_t *response = run_review(a, route, operation, doc, old);
    if (response == NULL)
        return NULL;
    if (report)
        print_warnings(response);
    json_t *result = NULL;
    if (!json_is_true(json_object_get(response, "allowed"))) {
        if (report)
            print_denial(doc, response);
    } else if (json_object_get(response, "patch") == NULL) {
        result = json_deep_copy(doc);
    } else {
        size_t decoded = 0;
        char *raw = pgw_base64_decode(str(response, "patch"), &decoded);
        json_t *patch = raw == NULL ? NULL : json_loadb(raw, decoded, 0, NULL);
        char *err = NULL;
        result = patch ? pgw_jsonpatch_apply(doc, patch, &err) : NULL;
        if (result == NULL)
            fprintf(stderr, "pgwarden admit: cannot apply the mutating patch: %s\n", err ? err : "undecodable patch");
        free(err);
        json_decref(patch);
        free(raw);
    }
    json_decref(response);
    return result;
}

/* Finds the old document for `doc`: same kind, namespace and name; or the only one. Borrowed. */
static json_t *find_old(const json_t *olds, const json_t *doc, size_t new_count)
{
    const json_t *meta = json_object_get(doc, "metadata");
    size_t i;
    json_t *old;
    json_array_foreach(olds, i, old)
    {
        const json_t *om = json_object_get(old, "metadata");
        if (strcmp(str(old, "kind"), str(doc, "kind")) == 0 && strcmp(str(om, "name"), str(meta, "name")) == 0 &&
            strcmp(str(om, "namespace"), str(meta, "namespace")) == 0)
            return old;
    }
    return json_array_size(olds) == 1 && new_count == 1 ? json_array_get(olds, 0) : NULL;
}

/* Admits one document. Returns the object to print (caller decrefs), or NULL. Sets a->denied. */
static json_t *admit_one(struct st_admit_t *a, const json_t *doc, const char *operation, const json_t *old_raw)
{
    if (!json_is_object(doc) || route_for(doc, "/validate/") == NULL) {
        const char *kind = json_is_object(doc) ? str(doc, "kind") : "";
        fprintf(stderr, "Warning: %s%s%s is not a pgwarden kind: passed through unchanged\n", kind[0] ? kind : "document",
                json_is_object(doc) && str(json_object_get(doc, "metadata"), "name")[0] ? " " : "",
                json_is_object(doc) ? str(json_object_get(doc, "metadata"), "name") : "");
        return json_incref((json_t *)doc);
    }
    /* The stored copy of an admitted object was defaulted at its own CREATE. */
    json_t *old = NULL;
    if (old_raw != NULL) {
        old = default_object(a, old_raw, "CREATE", NULL, 0);
        if (old == NULL)
            old = json_deep_copy(old_raw);
    }
    const pgw_admission_route_t *validate = route_for(doc, "/validate/");
    json_t *result = NULL;
    if (strcmp(operation, "DELETE") == 0) {
        json_t *subject = old ? json_incref(old) : default_object(a, doc, "CREATE", NULL, 0);
        if (subject == NULL)
            subject = json_deep_copy(doc);
        json_t *response = run_review(a, validate, "DELETE", NULL, subject);
        if (response == NULL || !json_is_true(json_object_get(response, "allowed")))
            a->denied = 1;
        if (response != NULL) {
            print_warnings(response);
            if (!json_is_true(json_object_get(response, "allowed")))
                print_denial(subject, response);
        }
        json_decref(response);
        json_decref(subject);
        json_decref(old);
        return NULL;
    }
    json_t *defaulted = default_object(a, doc, operation, old, 1);
    if (defaulted == NULL) {
        a->denied = 1;
        json_decref(old);
        return NULL;
    }
    json_t *response = run_review(a, validate, operation, defaulted, old);
    if (response != NULL && json_is_true(json_object_get(response, "allowed"))) {
        print_warnings(response);
        result = json_incref(defaulted);
    } else {
        a->denied = 1;
        if (response != NULL) {
            print_warnings(response);
            print_denial(defaulted, response);
        }
    }
    json_decref(response);
    json_decref(defaulted);
    json_decref(old);
    return result;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: pgwarden admit -f FILE [--old FILE] [--operation CREATE|UPDATE|DELETE] [-o yaml|json]\n"
                "                      [--config FILE]\n\n"
                "Validates and defaults PostgresCluster, PostgresBackup and PostgresRestore manifests offline,\n"
                "through the webhook's own admission pipeline. FILE is YAML or JSON, one or more documents;\n"
                "\"-\" reads stdin. --old gives the stored objects for an UPDATE (matched by kind, namespace and\n"
                "name); with DELETE, the object being deleted is --old when given, else -f.\n\n"
                "Prints the defaulted objects on stdout, warnings and field errors on stderr.\n"
                "Exit status: 0 all allowed, 1 any denied, 2 usage or I/O error.\n");
}

int pgw_cmd_admit(int argc, char **argv)
{
    static const struct option longopts[] = {{"filename", required_argument, NULL, 'f'},
                                             {"old", required_argument, NULL, 'O'},
                                             {"operation", required_argument, NULL, 'p'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *file = NULL, *old_file = NULL, *operation = NULL, *output = "yaml", *config_file = NULL;
    int c;
    optind = 1;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "f:o:c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            file = optarg;
            break;
        case 'O':
            old_file = optarg;
            break;
        case 'p':
            operation = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'c':
            config_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pgwarden admit: unexpected argument \"%s\" (see -h)\n", argv[optind]);
        return 2;
    }
    if (file == NULL) {
        fprintf(stderr, "pgwarden admit: -f FILE is required (see -h)\n");
        return 2;
    }
    if (strcmp(output, "yaml") != 0 && strcmp(output, "json") != 0) {
        fprintf(stderr, "pgwarden admit: -o must be yaml or json\n");
        return 2;
    }
    if (operation == NULL)
        operation = old_file ? "UPDATE" : "CREATE";
    if (strcmp(operation, "CREATE") != 0 && strcmp(operation, "UPDATE") != 0 && strcmp(operation, "DELETE") != 0) {
        fprintf(stderr, "pgwarden admit: --operation must be CREATE, UPDATE or DELETE\n");
        return 2;
    }
    if (strcmp(operation, "UPDATE") == 0 && old_file == NULL) {
        fprintf(stderr, "pgwarden admit: UPDATE needs --old FILE\n");
        return 2;
    }
    if (old_file != NULL && strcmp(old_file, "-") == 0 && strcmp(file, "-") == 0) {
        fprintf(stderr, "pgwarden admit: -f and --old cannot both read stdin\n");
        return 2;
    }
    struct pgw_config cfg;
    if (pgw_cli_load_config(&cfg, config_file) != 0)
        return 2;
    int rc = 2;
    json_t *docs = pgw_cli_load_documents("admit", file),
           *olds = old_file ? pgw_cli_load_documents("admit", old_file) : json_array();
    json_t *printed = json_array();
    if (docs == NULL || olds == NULL)
        goto done;
    struct st_admit_t a = {.cfg = &cfg, .now = time(NULL)};
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        json_t *old = old_file ? find_old(olds, doc, json_array_size(docs)) : NULL;
        if (old_file != NULL && old == NULL && route_for(doc, "/validate/") != NULL) {
            fprintf(stderr, "pgwarden admit: no old object in %s for %s \"%s\"\n", old_file, str(doc, "kind"),
                    str(json_object_get(doc, "metadata"), "name"));
            goto done;
        }
        json_t *result = admit_one(&a, doc, operation, old);
        if (result != NULL)
            json_array_append_new(printed, result);
    }
    if (strcmp(output, "json") == 0) {
        json_t *out = json_array_size(printed) == 1
                          ? json_incref(json_array_get(printed, 0))
                          : pgw_json_pack("{s:s,s:s,s:O,s:{}}", "apiVersion", "v1", "kind", "List", "items", printed, "metadata");
        if (json_array_size(printed) != 0) {
            char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            puts(s);
            free(s);
        }
        json_decref(out);
    } else {
        json_array_foreach(printed, i, doc)
        {
            if (json_array_size(printed) > 1)
                fputs("---\n", stdout);
            pgw_yaml_emit(stdout, doc);
        }
    }
    rc = a.denied ? 1 : 0;
done:
    fflush(stdout);
    json_decref(docs);
    json_decref(olds);
    json_decref(printed);
    pgw_config_dispose(&cfg);
    return rc;
}
