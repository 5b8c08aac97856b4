/*
 * Finding the API server and our credentials (contract in kubeconfig.h).
 *
 * Why our own loader: the binary links no Go client, and the two sources we
 * need (in-cluster service account, a kubeconfig's current context) are small.
 * Plugins (exec, auth-provider) are refused with a clear error rather than
 * silently ignored, so a misconfiguration fails at start, not at first write.
 */
#include "controller/kube/kubeconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/xalloc.h"
#include "common/yaml.h"

#define MAX_KUBECONFIG_BYTES (4u << 20)

void pgw_kubeconfig_dispose(struct pgw_kubeconfig *kc)
{
    free(kc->server);
    free(kc->ca_file);
    free(kc->ca_data);
    free(kc->client_cert_file);
    free(kc->client_key_file);
    free(kc->client_cert_data);
    if (kc->client_key_data != NULL)
        memset(kc->client_key_data, 0, kc->client_key_data_len);
    free(kc->client_key_data);
    if (kc->token != NULL)
        memset(kc->token, 0, strlen(kc->token));
    free(kc->token);
    free(kc->token_file);
    free(kc->namespace_);
    memset(kc, 0, sizeof(*kc));
}

/* Whole file, NUL-terminated (caller frees), or NULL with *err. */
static char *read_file(const char *path, size_t max, size_t *len, char **err)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        *err = pgw_asprintf("%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = pgw_malloc(max + 1);
    size_t n = fread(buf, 1, max + 1, fp);
    int failed = ferror(fp);
    fclose(fp);
    if (failed || n > max) {
        *err = pgw_asprintf("%s: %s", path, failed ? "read error" : "file too large");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

static char *trim_dup(const char *s)
{
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        ++s;
    size_t n = strlen(s);
    while (n != 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
        --n;
    return pgw_strndup(s, n);
}

int pgw_kubeconfig_in_cluster(struct pgw_kubeconfig *kc, const char *sa_dir, char **err)
{
    memset(kc, 0, sizeof(*kc));
    *err = NULL;
    if (sa_dir == NULL)
        sa_dir = PGW_SERVICEACCOUNT_DIR;
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
        *err = pgw_strdup("in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
        return -1;
    }
    kc->server =
        strchr(host, ':') != NULL ? pgw_asprintf("https://[%s]:%s", host, port) : pgw_asprintf("https://%s:%s", host, port);
    kc->token_file = pgw_asprintf("%s/token", sa_dir);
    kc->ca_file = pgw_asprintf("%s/ca.crt", sa_dir);
    struct stat st;
    if (stat(kc->token_file, &st) != 0) {
        *err = pgw_asprintf("in-cluster configuration: service-account token %s: %s", kc->token_file, strerror(errno));
        goto fail;
    }
    if (stat(kc->ca_file, &st) != 0) {
        *err = pgw_asprintf("in-cluster configuration: service-account CA %s: %s", kc->ca_file, strerror(errno));
        goto fail;
    }
    char *ns_path = pgw_asprintf("%s/namespace", sa_dir), *ns_err = NULL;
    char *ns = read_file(ns_path, 4096, NULL, &ns_err);
    free(ns_path);
    free(ns_err);
    if (ns != NULL) {
        kc->namespace_ = trim_dup(ns);
        free(ns);
    }
    if (kc->namespace_ == NULL || kc->namespace_[0] == '\0') {
        free(kc->namespace_);
        kc->namespace_ = pgw_strdup("default");
    }
    return 0;
fail:
    pgw_kubeconfig_dispose(kc);
    return -1;
}

/* The entry of `list` (an array of {name, <field>: {...}}) called `name`; borrowed. */
static json_t *named(json_t *root, const char *list, const char *field, const char *name)
{
    json_t *arr = json_object_get(root, list), *item;
    size_t i;
    json_array_foreach(arr, i, item)
    {
        const char *n = json_string_value(json_object_get(item, "name"));
        if (n != NULL && strcmp(n, name) == 0) {
            json_t *inner = json_object_get(item, field);
            return json_is_object(inner) ? inner : NULL;
        }
    }
    return NULL;
}

static const char *str_field(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static char *resolve(const char *base_dir, const char *path)
{
    if (path[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
        return pgw_strdup(path);
    return pgw_asprintf("%s/%s", base_dir, path);
}

/* Decodes the *-data field `key` of obj into *out. 0 (absent or decoded) or -1 with *err. */
static int data_field(json_t *obj, const char *key, const char *where, char **out, size_t *out_len, char **err)
{
    const char *b64 = str_field(obj, key);
    if (b64 == NULL)
        return 0;
    *out = pgw_base64_decode(b64, out_len);
    if (*out == NULL) {
        *err = pgw_asprintf("kubeconfig: %s.%s is not valid base64", where, key);
        return -1;
    }
    return 0;
}

/* The kubeconfig's first YAML document (a mapping), new reference, or NULL with *err. */
static json_t *load_root(const char *text, size_t len, char **err)
{
    char *yerr = NULL;
    json_t *docs = pgw_yaml_load_all(text, len, &yerr);
    if (docs == NULL) {
        *err = pgw_asprintf("kubeconfig: %s", yerr != NULL ? yerr : "invalid YAML");
        free(yerr);
        return NULL;
    }
    json_t *root = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    if (!json_is_object(root)) {
        json_decref(root);
        *err = pgw_strdup("kubeconfig: not a mapping");
        return NULL;
    }
    return root;
}

/* The configuration of `context` (NULL: current-context) in a parsed kubeconfig; root is borrowed. */
static int from_root(struct pgw_kubeconfig *kc, json_t *root, const char *base_dir, const char *context, char **err)
{
    memset(kc, 0, sizeof(*kc));
    *err = NULL;
    if (context == NULL)
        context = str_field(root, "current-context");
    if (context == NULL) {
        *err = pgw_strdup("kubeconfig: no current-context");
        goto fail;
    }
    json_t *ctx = named(root, "contexts", "context", context);
    if (ctx == NULL) {
        *err = pgw_asprintf("kubeconfig: context \"%s\" not found", context);
        goto fail;
    }
    const char *cluster_name = str_field(ctx, "cluster"), *user_name = str_field(ctx, "user");
    if (cluster_name == NULL) {
        *err = pgw_asprintf("kubeconfig: context \"%s\" names no cluster", context);
        goto fail;
    }
    json_t *cluster = named(root, "clusters", "cluster", cluster_name);
    if (cluster == NULL) {
        *err = pgw_asprintf("kubeconfig: cluster \"%s\" not found", cluster_name);
        goto fail;
    }
    const char *server = str_field(cluster, "server");
    if (server == NULL) {
        *err = pgw_asprintf("kubeconfig: cluster \"%s\" has no server", cluster_name);
        goto fail;
    }
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
        *err = pgw_asprintf("kubeconfig: cluster \"%s\": server must be an http(s) URL", cluster_name);
        goto fail;
    }
    size_t slen = strlen(server);
    while (slen > 0 && server[slen - 1] == '/')
        --slen;
    kc->server = pgw_strndup(server, slen);
    const char *s;
    if ((s = str_field(cluster, "certificate-authority")) != NULL)
        kc->ca_file = resolve(base_dir, s);
    if (data_field(cluster, "certificate-authority-data", "cluster", &kc->ca_data, &kc->ca_data_len, err) != 0)
        goto fail;
    kc->insecure_skip_tls_verify = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
    if (user_name != NULL) {
        json_t *user = named(root, "users", "user", user_name);
        if (user == NULL) {
            *err = pgw_asprintf("kubeconfig: user \"%s\" not found", user_name);
            goto fail;
        }
        if (json_object_get(user, "exec") != NULL || json_object_get(user, "auth-provider") != NULL) {
            *err = pgw_asprintf("kubeconfig: user \"%s\": exec and auth-provider plugins are not supported", user_name);
            goto fail;
        }
        if ((s = str_field(user, "client-certificate")) != NULL)
            kc->client_cert_file = resolve(base_dir, s);
        if ((s = str_field(user, "client-key")) != NULL)
            kc->client_key_file = resolve(base_dir, s);
        if (data_field(user, "client-certificate-data", "user", &kc->client_cert_data, &kc->client_cert_data_len, err) != 0 ||
            data_field(user, "client-key-data", "user", &kc->client_key_data, &kc->client_key_data_len, err) != 0)
            goto fail;
        if ((s = str_field(user, "token")) != NULL)
            kc->token = pgw_strdup(s);
        if ((s = str_field(user, "tokenFile")) != NULL)
            kc->token_file = resolve(base_dir, s);
        int has_cert = kc->client_cert_file != NULL || kc->client_cert_data != NULL;
        int has_key = kc->client_key_file != NULL || kc->client_key_data != NULL;
        if (has_cert != has_key) {
            *err = pgw_asprintf("kubeconfig: user \"%s\": a client certificate needs its key and a key its certificate", user_name);
            goto fail;
        }
    }
    kc->namespace_ = pgw_strdup((s = str_field(ctx, "namespace")) != NULL ? s : "default");
    return 0;
fail:
    pgw_kubeconfig_dispose(kc);
    return -1;
}

int pgw_kubeconfig_parse(struct pgw_kubeconfig *kc, const char *text, size_t len, const char *base_dir, const char *context,
                         char **err)
{
    memset(kc, 0, sizeof(*kc));
    *err = NULL;
    json_t *root = load_root(text, len, err);
    if (root == NULL)
        return -1;
    int rc = from_root(kc, root, base_dir, context, err);
    json_decref(root);
    return rc;
}

/* The directory of `path`, against which its relative paths resolve. Caller frees. */
static char *dir_of(const char *path)
{
    char *dir = pgw_strdup(path), *slash = strrchr(dir, '/');
    if (slash == NULL) {
        free(dir);
        dir = pgw_strdup(".");
    } else if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    return dir;
}

int pgw_kubeconfig_load_file(struct pgw_kubeconfig *kc, const char *path, const char *context, char **err)
{
    memset(kc, 0, sizeof(*kc));
    size_t len = 0;
    char *rerr = NULL;
    char *text = read_file(path, MAX_KUBECONFIG_BYTES, &len, &rerr);
    if (text == NULL) {
        *err = pgw_asprintf("kubeconfig %s", rerr);
        free(rerr);
        return -1;
    }
    char *dir = dir_of(path);
    int rc = pgw_kubeconfig_parse(kc, text, len, dir, context, err);
    free(dir);
    free(text);
    return rc;
}

int pgw_kubeconfig_load(struct pgw_kubeconfig *kc, const char *path, char **err)
{
    memset(kc, 0, sizeof(*kc));
    *err = NULL;
    if (path != NULL && path[0] != '\0')
        return pgw_kubeconfig_load_file(kc, path, NULL, err);
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (host != NULL && host[0] != '\0')
        return pgw_kubeconfig_in_cluster(kc, NULL, err);
    const char *env = getenv("KUBECONFIG");
    if (env == NULL || env[0] == '\0')
        return 1;
    char *first = pgw_strdup(env), *colon = strchr(first, ':');
    if (colon != NULL)
        *colon = '\0';
    int rc = pgw_kubeconfig_load_file(kc, first, NULL, err);
    free(first);
    return rc;
}

/* ---- kubectl's rules: --kubeconfig, else $KUBECONFIG merged, else ~/.kube/config ---- */

/* Rewrites the relative file paths under list[].field (keys) of one file to absolute ones: once merged,
 * the file an entry came from is no longer known. */
static void absolutize(json_t *root, const char *list, const char *field, const char *const *keys, const char *dir)
{
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(root, list), i, item)
    {
        json_t *inner = json_object_get(item, field);
        for (size_t k = 0; json_is_object(inner) && keys[k] != NULL; ++k) {
            const char *v = str_field(inner, keys[k]);
            if (v != NULL && v[0] != '/') {
                char *abs = resolve(dir, v);
                json_object_set_new(inner, keys[k], json_string(abs));
                free(abs);
            }
        }
    }
}

/* Appends to merged[list] the entries of root[list] whose name it does not hold yet: the first file wins. */
static void merge_named(json_t *merged, json_t *root, const char *list)
{
    json_t *into = json_object_get(merged, list);
    if (!json_is_array(into)) {
        into = json_array();
        json_object_set_new(merged, list, into);
    }
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(root, list), i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        size_t j;
        json_t *have;
        int seen = 0;
        json_array_foreach(into, j, have) seen |=
            name != NULL && json_equal(json_object_get(have, "name"), json_object_get(item, "name"));
        if (name != NULL && !seen)
            json_array_append(into, item);
    }
}

static const char *const cluster_paths[] = {"certificate-authority", NULL};
static const char *const user_paths[] = {"client-certificate", "client-key", "tokenFile", NULL};

int pgw_kubeconfig_load_merged(struct pgw_kubeconfig *kc, const char *paths, const char *context, char **err)
{
    memset(kc, 0, sizeof(*kc));
    *err = NULL;
    json_t *merged = json_object();
    char *list = pgw_strdup(paths), *save = NULL;
    int files = 0, rc = -1;
    for (char *path = strtok_r(list, ":", &save); path != NULL; path = strtok_r(NULL, ":", &save)) {
        struct stat st;
        if (stat(path, &st) != 0)
            continue; /* as kubectl: a listed file that does not exist is skipped */
        size_t len = 0;
        char *rerr = NULL, *text = read_file(path, MAX_KUBECONFIG_BYTES, &len, &rerr);
        if (text == NULL) {
            *err = pgw_asprintf("kubeconfig %s", rerr);
            free(rerr);
            goto done;
        }
        char *perr = NULL;
        json_t *root = load_root(text, len, &perr);
        free(text);
        if (root == NULL) {
            *err = pgw_asprintf("%s: %s", path, perr);
            free(perr);
            goto done;
        }
        char *dir = dir_of(path);
        absolutize(root, "clusters", "cluster", cluster_paths, dir);
        absolutize(root, "users", "user", user_paths, dir);
        free(dir);
        if (str_field(merged, "current-context") == NULL && str_field(root, "current-context") != NULL)
            json_object_set(merged, "current-context", json_object_get(root, "current-context"));
        merge_named(merged, root, "clusters");
        merge_named(merged, root, "users");
        merge_named(merged, root, "contexts");
        json_decref(root);
        ++files;
    }
    if (files == 0)
        *err = pgw_asprintf("kubeconfig: none of %s exists", paths);
    else
        rc = from_root(kc, merged, NULL, context, err);
done:
    free(list);
    json_decref(merged);
    return rc;
}

int pgw_kubeconfig_load_kubectl(struct pgw_kubeconfig *kc, const char *path, const char *context, char **err)
{
    memset(kc, 0, sizeof(*kc));
    *err = NULL;
    if (path != NULL && path[0] != '\0')
        return pgw_kubeconfig_load_file(kc, path, context, err);
    const char *env = getenv("KUBECONFIG");
    if (env != NULL && env[0] != '\0')
        return pgw_kubeconfig_load_merged(kc, env, context, err);
    const char *home = getenv("HOME");
    if (home != NULL && home[0] != '\0') {
        char *def = pgw_asprintf("%s/.kube/config", home);
        struct stat st;
        int rc = stat(def, &st) == 0 ? pgw_kubeconfig_load_file(kc, def, context, err) : 1;
        free(def);
        if (rc != 1)
            return rc;
    }
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (host != NULL && host[0] != '\0' && context == NULL)
        return pgw_kubeconfig_in_cluster(kc, NULL, err);
    return 1;
}
