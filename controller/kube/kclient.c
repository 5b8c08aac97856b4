/*
 * The Kubernetes API over libcurl (contract in kclient.h).
 *
 * Why: at a thousand clusters the cost is connections and bursts, not JSON.
 * One curl share handle keeps the connection pool, DNS and TLS sessions for
 * every thread; every request takes a token from the QPS/burst limiter; the
 * bearer token is re-read on rotation and once more after a 401; writes pass
 * a leadership gate. Logs carry method, path and status, never bodies or
 * tokens.
 */
#include "controller/kube/kclient.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json_pack.h"
#include "common/json_read.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "controller/kube/ratelimit.h"
#include "controller/kube/token.h"

#define MAX_BODY_BYTES (256u << 20)
#define MAX_ERROR_BODY_BYTES (1u << 20)
#define EVENT_MESSAGE_MAX 1024

/* ---- resources ---------------------------------------------------------- */

static const struct pgw_resource resources[] = {
    {"Pod", "", "v1", "pods", 1},
    {"Service", "", "v1", "services", 1},
    {"Endpoints", "", "v1", "endpoints", 1},
    {"ConfigMap", "", "v1", "configmaps", 1},
    {"Secret", "", "v1", "secrets", 1},
    {"ServiceAccount", "", "v1", "serviceaccounts", 1},
    {"PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", 1},
    {"Event", "", "v1", "events", 1},
    {"Namespace", "", "v1", "namespaces", 0},
    {"StatefulSet", "apps", "v1", "statefulsets", 1},
    {"StorageClass", "storage.k8s.io", "v1", "storageclasses", 0},
    {"Job", "batch", "v1", "jobs", 1},
    {"CronJob", "batch", "v1", "cronjobs", 1},
    {"PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets", 1},
    {"Role", "rbac.authorization.k8s.io", "v1", "roles", 1},
    {"RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings", 1},
    {"Lease", "coordination.k8s.io", "v1", "leases", 1},
    {"MutatingWebhookConfiguration", "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", 0},
    {"ValidatingWebhookConfiguration", "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", 0},
    {"CustomResourceDefinition", "apiextensions.k8s.io", "v1", "customresourcedefinitions", 0},
    {"PostgresCluster", "pgwarden.io", "v1", "postgresclusters", 1},
    {"PostgresBackup", "pgwarden.io", "v1", "postgresbackups", 1},
    {"PostgresRestore", "pgwarden.io", "v1", "postgresrestores", 1},
};

const struct pgw_resource *pgw_resource_find(const char *kind)
{
    for (size_t i = 0; i != sizeof(resources) / sizeof(resources[0]); ++i)
        if (strcmp(resources[i].kind, kind) == 0)
            return &resources[i];
    return NULL;
}

const char *pgw_resource_api_version(const struct pgw_resource *r, char *buf, size_t bufsize)
{
    if (r->group[0] == '\0')
        snprintf(buf, bufsize, "%s", r->version);
    else
        snprintf(buf, bufsize, "%s/%s", r->group, r->version);
    return buf;
}

char *pgw_kclient_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = pgw_malloc(strlen(s) * 3 + 1), *o = out;
    for (; *s != '\0'; ++s) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

char *pgw_kclient_path(const struct pgw_resource *r, const char *ns, const char *name, const char *subresource)
{
    char *prefix = r->group[0] == '\0' ? pgw_asprintf("/api/%s", r->version) : pgw_asprintf("/apis/%s/%s", r->group, r->version);
    char *scope = r->namespaced && ns != NULL && ns[0] != '\0' ? pgw_kclient_escape(ns) : NULL;
    char *ename = name != NULL ? pgw_kclient_escape(name) : NULL;
    char *path =
        pgw_asprintf("%s%s%s/%s%s%s%s%s", prefix, scope != NULL ? "/namespaces/" : "", scope != NULL ? scope : "", r->plural,
                     ename != NULL ? "/" : "", ename != NULL ? ename : "", ename != NULL && subresource != NULL ? "/" : "",
                     ename != NULL && subresource != NULL ? subresource : "");
    free(prefix);
    free(scope);
    free(ename);
    return path;
}

/* ---- results ------------------------------------------------------------ */

void pgw_kresult_dispose(struct pgw_kresult *r)
{
    json_decref(r->body);
    free(r->reason);
    free(r->message);
    memset(r, 0, sizeof(*r));
}

static enum pgw_koutcome classify(long status)
{
    if (status >= 200 && status < 300)
        return PGW_K_OK;
    switch (status) {
    case 404:
        return PGW_K_NOT_FOUND;
    case 409:
        return PGW_K_CONFLICT;
    case 410:
        return PGW_K_GONE;
    default:
        return PGW_K_HTTP_ERROR;
    }
}

/* Fills reason/message/code from a metav1.Status body, if that is what came back. */
static void decode_status(struct pgw_kresult *out, const char *raw, size_t len)
{
    const char *kind = json_string_value(json_object_get(out->body, "kind"));
    if (kind != NULL && strcmp(kind, "Status") == 0) {
        const char *s;
        if ((s = json_string_value(json_object_get(out->body, "reason"))) != NULL)
            out->reason = pgw_strdup(s);
        if ((s = json_string_value(json_object_get(out->body, "message"))) != NULL)
            out->message = pgw_strdup(s);
        out->code = (long)json_integer_value(json_object_get(out->body, "code"));
    } else if (out->outcome != PGW_K_OK && out->body == NULL && len != 0) {
        out->message = pgw_strndup(raw, len < 512 ? len : 512);
    }
    if (out->outcome != PGW_K_OK && out->code == 0)
        out->code = out->http_status;
}

/* ---- the client --------------------------------------------------------- */

struct pgw_kclient {
    struct pgw_kubeconfig kc;
    struct pgw_kclient_options opts;
    char *user_agent;
    struct pgw_token_source *token;
    struct pgw_ratelimit *limiter;
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void init_curl(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *ctx)
{
    struct pgw_kclient *c = ctx;
    pthread_mutex_lock(&c->share_locks[(unsigned)data < CURL_LOCK_DATA_LAST ? data : 0]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *ctx)
{
    struct pgw_kclient *c = ctx;
    pthread_mutex_unlock(&c->share_locks[(unsigned)data < CURL_LOCK_DATA_LAST ? data : 0]);
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? pgw_strdup(s) : NULL;
}

static char *dup_bytes(const char *s, size_t len)
{
    if (s == NULL)
        return NULL;
    char *d = pgw_malloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

struct pgw_kclient *pgw_kclient_new(const struct pgw_kubeconfig *kc, const struct pgw_kclient_options *opts, char **err)
{
    *err = NULL;
    if (kc->server == NULL) {
        *err = pgw_strdup("kube client: no server configured");
        return NULL;
    }
    pthread_once(&curl_once, init_curl);
    struct pgw_kclient *c = pgw_calloc(1, sizeof(*c));
    c->kc.server = pgw_strdup(kc->server);
    c->kc.ca_file = dup_or_null(kc->ca_file);
    c->kc.ca_data = dup_bytes(kc->ca_data, kc->ca_data_len);
    c->kc.ca_data_len = kc->ca_data_len;
    c->kc.insecure_skip_tls_verify = kc->insecure_skip_tls_verify;
    c->kc.client_cert_file = dup_or_null(kc->client_cert_file);
    c->kc.client_key_file = dup_or_null(kc->client_key_file);
    c->kc.client_cert_data = dup_bytes(kc->client_cert_data, kc->client_cert_data_len);
    c->kc.client_cert_data_len = kc->client_cert_data_len;
    c->kc.client_key_data = dup_bytes(kc->client_key_data, kc->client_key_data_len);
    c->kc.client_key_data_len = kc->client_key_data_len;
    c->kc.namespace_ = pgw_strdup(kc->namespace_ != NULL ? kc->namespace_ : "default");
    if (opts != NULL)
        c->opts = *opts;
    if (c->opts.qps == 0)
        c->opts.qps = PGW_RATELIMIT_DEFAULT_QPS;
    if (c->opts.burst == 0)
        c->opts.burst = PGW_RATELIMIT_DEFAULT_BURST;
    if (!(c->opts.timeout > 0))
        c->opts.timeout = 30;
    if (!(c->opts.connect_timeout > 0))
        c->opts.connect_timeout = 10;
    c->user_agent = pgw_strdup(c->opts.user_agent != NULL ? c->opts.user_agent : "pgwarden/" PGW_VERSION);
    c->opts.user_agent = NULL;
    if (kc->token_file != NULL)
        c->token = pgw_token_source_new_file(kc->token_file, NULL, NULL);
    else if (kc->token != NULL)
        c->token = pgw_token_source_new_static(kc->token);
    c->limiter = pgw_ratelimit_new(c->opts.qps, c->opts.burst, NULL, NULL);
    for (int i = 0; i != CURL_LOCK_DATA_LAST; ++i)
        pthread_mutex_init(&c->share_locks[i], NULL);
    c->share = curl_share_init();
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return c;
}

void pgw_kclient_free(struct pgw_kclient *c)
{
    if (c == NULL)
        return;
    curl_share_cleanup(c->share);
    for (int i = 0; i != CURL_LOCK_DATA_LAST; ++i)
        pthread_mutex_destroy(&c->share_locks[i]);
    pgw_ratelimit_free(c->limiter);
    pgw_token_source_free(c->token);
    free(c->user_agent);
    pgw_kubeconfig_dispose(&c->kc);
    free(c);
}

const char *pgw_kclient_namespace(const struct pgw_kclient *c)
{
    return c->kc.namespace_;
}

/* ---- one transfer ------------------------------------------------------- */

struct st_transfer_t {
    CURL *curl;
    char *buf;
    size_t len, cap, max;
    int truncated;
    /* streaming */
    int (*on_data)(void *ctx, const char *data, size_t len);
    int (*should_stop)(void *ctx);
    void *ctx;
    int stopped;
    int wipe;                   /* the request and answer carry a credential: zero them before free */
    char *const *extra_headers; /* NULL-terminated "Name: value" lines (impersonation) or NULL */
    int raw;                    /* a 2xx body stays unparsed in buf (pgw_kclient_request_as_raw) */
};

static void append(struct st_transfer_t *t, const char *data, size_t n)
{
    if (t->len + n > t->max) {
        t->truncated = 1;
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap != 0 ? t->cap : 16384;
        while (cap < t->len + n + 1)
            cap *= 2;
        t->buf = pgw_realloc(t->buf, cap);
        t->cap = cap;
    }
    memcpy(t->buf + t->len, data, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct st_transfer_t *t = arg;
    size_t n = size * nmemb;
    if (t->on_data != NULL) {
        long status = 0;
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            if (t->on_data(t->ctx, data, n) != 0) {
                t->stopped = 1;
                return 0; /* aborts the transfer */
            }
            return n;
        }
    }
    append(t, data, n);
    return t->truncated ? 0 : n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    struct st_transfer_t *t = arg;
    if (t->should_stop != NULL && t->should_stop(t->ctx)) {
        t->stopped = 1;
        return 1;
    }
    return 0;
}

static int is_write(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static void log_request(const char *method, const char *path, const struct pgw_kresult *out, double seconds)
{
    int level = out->outcome == PGW_K_OK || out->outcome == PGW_K_NOT_FOUND ? PGW_LOG_DEBUG : PGW_LOG_INFO;
    if (!pgw_log_enabled(level))
        return;
    const char *q = strchr(path, '?'); /* query strings carry selectors and continue tokens only, but keep lines short */
    json_t *fields =
        pgw_json_pack("{s:s,s:s%,s:I,s:f}", "method", method, "path", path, q != NULL ? (size_t)(q - path) : strlen(path), "status",
                      (json_int_t)out->http_status, "seconds", seconds);
    if (out->reason != NULL)
        json_object_set_new(fields, "reason", json_string(out->reason));
    if (out->outcome == PGW_K_TRANSPORT && out->message != NULL)
        json_object_set_new(fields, "error", json_string(out->message));
    pgw_log(level, "kube request", fields);
}

static double mono(void)
{
    return pgw_monotonic_now(NULL);
}

/* One HTTP exchange. Returns 401 handling to the caller via out->http_status. */
static void perform(struct pgw_kclient *c, const char *method, const char *path, const char *content_type, const char *body,
                    size_t body_len, struct st_transfer_t *t, double timeout, struct pgw_kresult *out)
{
    memset(out, 0, sizeof(*out));
    pgw_ratelimit_wait(c->limiter);
    CURL *curl = curl_easy_init();
    t->curl = curl;
    char *url = pgw_asprintf("%s%s", c->kc.server, path);
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Accept: application/json");
    if (content_type != NULL) {
        char *h = pgw_asprintf("Content-Type: %s", content_type);
        headers = curl_slist_append(headers, h);
        free(h);
    }
    for (char *const *x = t->extra_headers; x != NULL && *x != NULL; ++x)
        headers = curl_slist_append(headers, *x);
    if (c->token != NULL) {
        char *err = NULL, *token = pgw_token_source_get(c->token, &err);
        if (token == NULL) {
            out->outcome = PGW_K_TRANSPORT;
            out->message = err;
            goto done;
        }
        char *h = pgw_asprintf("Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, h);
        memset(h, 0, strlen(h));
        memset(token, 0, strlen(token));
        free(h);
        free(token);
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_SHARE, c->share);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->opts.connect_timeout * 1000));
    if (timeout > 0)
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    if (t->should_stop != NULL) {
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
    }
    /* TLS */
    if (c->kc.insecure_skip_tls_verify) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (c->kc.ca_data != NULL) {
        struct curl_blob blob = {.data = c->kc.ca_data, .len = c->kc.ca_data_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
    } else if (c->kc.ca_file != NULL) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, c->kc.ca_file);
    }
    if (c->kc.client_cert_data != NULL) {
        struct curl_blob blob = {.data = c->kc.client_cert_data, .len = c->kc.client_cert_data_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &blob);
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (c->kc.client_cert_file != NULL) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, c->kc.client_cert_file);
    }
    if (c->kc.client_key_data != NULL) {
        struct curl_blob blob = {.data = c->kc.client_key_data, .len = c->kc.client_key_data_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &blob);
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (c->kc.client_key_file != NULL) {
        curl_easy_setopt(curl, CURLOPT_SSLKEY, c->kc.client_key_file);
    }
    /* method and body */
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (body != NULL) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
    }
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->http_status);
    if (t->stopped) {
        out->outcome = PGW_K_OK;
    } else if (rc != CURLE_OK) {
        out->outcome = PGW_K_TRANSPORT;
        if (t->truncated)
            out->message = pgw_strdup("response body too large");
        else
            out->message = pgw_strdup(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
    } else {
        out->outcome = classify(out->http_status);
        int keep_raw = t->raw && out->outcome == PGW_K_OK;
        if (t->len != 0 && !keep_raw) {
            json_error_t jerr;
            out->body = pgw_json_read(t->buf, t->len, &jerr);
            if (out->body != NULL && !json_is_object(out->body) && !json_is_array(out->body)) {
                json_decref(out->body); /* API answers are objects (or arrays): a bare scalar is not one */
                out->body = NULL;
            }
        }
        decode_status(out, t->buf, t->len);
        if (out->outcome == PGW_K_OK && out->body == NULL && t->len != 0 && t->on_data == NULL && !keep_raw) {
            out->outcome = PGW_K_HTTP_ERROR;
            out->message = pgw_strdup("response is not JSON");
        }
    }
done:
    for (struct curl_slist *h = headers; h != NULL; h = h->next)
        memset(h->data, 0, strlen(h->data)); /* the Authorization copy is a secret */
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(url);
}

static int do_request(struct pgw_kclient *c, const char *method, const char *path, const char *content_type, const json_t *body,
                      struct st_transfer_t *t, double timeout, struct pgw_kresult *out)
{
    if (c->opts.may_write != NULL && is_write(method) && !c->opts.may_write()) {
        memset(out, 0, sizeof(*out));
        out->outcome = PGW_K_NOT_LEADER;
        out->message = pgw_strdup("not the leader: write refused");
        return out->outcome;
    }
    if (c->opts.write_budget != NULL && is_write(method)) {
        double budget = c->opts.write_budget();
        if (budget >= 0 && (timeout <= 0 || budget < timeout))
            timeout = budget > 0.05 ? budget : 0.05;
    }
    char *payload = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t payload_len = payload != NULL ? strlen(payload) : 0;
    double started = mono();
    for (int attempt = 0;; ++attempt) {
        if (t->wipe && t->buf != NULL)
            memset(t->buf, 0, t->cap);
        t->len = 0;
        t->truncated = 0;
        perform(c, method, path, content_type, payload, payload_len, t, timeout, out);
        /* A 401 may be a token rotated under us: read the file again and retry once. */
        if (out->http_status == 401 && attempt == 0 && c->token != NULL && t->on_data == NULL) {
            pgw_token_source_invalidate(c->token);
            pgw_kresult_dispose(out);
            continue;
        }
        break;
    }
    log_request(method, path, out, mono() - started);
    if (payload != NULL && t->wipe)
        memset(payload, 0, payload_len);
    free(payload);
    return out->outcome;
}

int pgw_kclient_request(struct pgw_kclient *c, const char *method, const char *path, const char *content_type, const json_t *body,
                        struct pgw_kresult *out)
{
    struct st_transfer_t t = {.max = MAX_BODY_BYTES};
    int rc = do_request(c, method, path, content_type, body, &t, c->opts.timeout, out);
    free(t.buf);
    return rc;
}

int pgw_kclient_request_secret(struct pgw_kclient *c, const char *method, const char *path, const char *content_type,
                               const json_t *body, struct pgw_kresult *out)
{
    struct st_transfer_t t = {.max = MAX_BODY_BYTES, .wipe = 1};
    int rc = do_request(c, method, path, content_type, body, &t, c->opts.timeout, out);
    if (t.buf != NULL)
        memset(t.buf, 0, t.cap);
    free(t.buf);
    return rc;
}

/* ---- impersonation ------------------------------------------------------ */

/* A header value must stay one line: no control characters at all (CR/LF would start another header). */
static int header_value_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; ++p)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

void pgw_kclient_headers_free(char **lines)
{
    if (lines == NULL)
        return;
    for (char **l = lines; *l != NULL; ++l)
        free(*l);
    free(lines);
}

char **pgw_kclient_impersonation_headers(const struct pgw_kidentity *as, char **err)
{
    *err = NULL;
    if (as->user == NULL || as->user[0] == '\0') {
        *err = pgw_strdup("impersonation: empty user name");
        return NULL;
    }
    if (as->ngroups != 0 && as->groups == NULL) {
        *err = pgw_strdup("impersonation: groups missing");
        return NULL;
    }
    int has_uid = as->uid != NULL && as->uid[0] != '\0';
    char **lines = pgw_calloc(as->ngroups + 3, sizeof(*lines));
    size_t n = 0;
    const char *bad = NULL;
    if (!header_value_ok(as->user))
        bad = "user";
    lines[n++] = pgw_asprintf("Impersonate-User: %s", as->user);
    for (size_t i = 0; i != as->ngroups && bad == NULL; ++i) {
        if (as->groups[i] == NULL || as->groups[i][0] == '\0' || !header_value_ok(as->groups[i]))
            bad = "group";
        else
            lines[n++] = pgw_asprintf("Impersonate-Group: %s", as->groups[i]);
    }
    if (has_uid && bad == NULL) {
        if (!header_value_ok(as->uid))
            bad = "uid";
        else
            lines[n++] = pgw_asprintf("Impersonate-Uid: %s", as->uid);
    }
    if (bad != NULL) {
        pgw_kclient_headers_free(lines);
        *err = pgw_asprintf("impersonation: the %s is empty or contains a control character", bad);
        return NULL;
    }
    return lines;
}

int pgw_kclient_request_as(struct pgw_kclient *c, const struct pgw_kidentity *as, const char *method, const char *path,
                           const char *content_type, const json_t *body, struct pgw_kresult *out)
{
    if (as == NULL)
        return pgw_kclient_request(c, method, path, content_type, body, out);
    char *err = NULL, **lines = pgw_kclient_impersonation_headers(as, &err);
    if (lines == NULL) {
        memset(out, 0, sizeof(*out));
        out->outcome = PGW_K_HTTP_ERROR;
        out->message = err;
        return out->outcome;
    }
    struct st_transfer_t t = {.max = MAX_BODY_BYTES, .extra_headers = lines};
    int rc = do_request(c, method, path, content_type, body, &t, c->opts.timeout, out);
    free(t.buf);
    pgw_kclient_headers_free(lines);
    return rc;
}

int pgw_kclient_request_as_raw(struct pgw_kclient *c, const struct pgw_kidentity *as, const char *method, const char *path,
                               const char *content_type, const json_t *body, char **raw, size_t *raw_len, struct pgw_kresult *out)
{
    *raw = NULL;
    *raw_len = 0;
    char *err = NULL, **lines = NULL;
    if (as != NULL && (lines = pgw_kclient_impersonation_headers(as, &err)) == NULL) {
        memset(out, 0, sizeof(*out));
        out->outcome = PGW_K_HTTP_ERROR;
        out->message = err;
        return out->outcome;
    }
    struct st_transfer_t t = {.max = MAX_BODY_BYTES, .extra_headers = lines, .raw = 1};
    int rc = do_request(c, method, path, content_type, body, &t, c->opts.timeout, out);
    if (rc == PGW_K_OK && t.buf != NULL) {
        t.buf[t.len] = '\0'; /* append() keeps a byte spare */
        *raw = t.buf;
        *raw_len = t.len;
    } else {
        free(t.buf);
    }
    pgw_kclient_headers_free(lines);
    return rc;
}

int pgw_kclient_stream(struct pgw_kclient *c, const char *path, int (*on_data)(void *ctx, const char *data, size_t len),
                       int (*should_stop)(void *ctx), void *ctx, double timeout, struct pgw_kresult *out)
{
    struct st_transfer_t t = {.max = MAX_ERROR_BODY_BYTES, .on_data = on_data, .should_stop = should_stop, .ctx = ctx};
    int rc = do_request(c, "GET", path, NULL, NULL, &t, timeout, out);
    free(t.buf);
    return rc;
}

/* ---- verbs -------------------------------------------------------------- */

int pgw_kclient_get(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const char *name, struct pgw_kresult *out)
{
    char *path = pgw_kclient_path(r, ns, name, NULL);
    int rc = pgw_kclient_request(c, "GET", path, NULL, NULL, out);
    free(path);
    return rc;
}

/* Appends "&key=escaped(value)" (or "?...") to *path. */
static void add_query(char **path, const char *key, const char *value)
{
    if (value == NULL)
        return;
    char *v = pgw_kclient_escape(value);
    char *p = pgw_asprintf("%s%c%s=%s", *path, strchr(*path, '?') != NULL ? '&' : '?', key, v);
    free(v);
    free(*path);
    *path = p;
}

int pgw_kclient_list(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const struct pgw_klist_options *lo,
                     struct pgw_kresult *out)
{
    char *path = pgw_kclient_path(r, ns, NULL, NULL);
    if (lo != NULL) {
        add_query(&path, "labelSelector", lo->label_selector);
        add_query(&path, "fieldSelector", lo->field_selector);
        if (lo->limit > 0) {
            char n[32];
            snprintf(n, sizeof(n), "%ld", lo->limit);
            add_query(&path, "limit", n);
        }
        add_query(&path, "continue", lo->continue_token != NULL && lo->continue_token[0] != '\0' ? lo->continue_token : NULL);
        add_query(&path, "resourceVersion", lo->resource_version);
    }
    int rc = pgw_kclient_request(c, "GET", path, NULL, NULL, out);
    free(path);
    if (rc == PGW_K_OK && !json_is_array(json_object_get(out->body, "items"))) {
        out->outcome = PGW_K_HTTP_ERROR;
        out->message = pgw_strdup("list response has no items");
    }
    return out->outcome;
}

int pgw_kclient_list_all(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const struct pgw_klist_options *lo,
                         struct pgw_kresult *out)
{
    struct pgw_klist_options page = {0};
    if (lo != NULL)
        page = *lo;
    json_t *all = NULL;
    char *cont = NULL;
    for (;;) {
        page.continue_token = cont;
        int rc = pgw_kclient_list(c, r, ns, &page, out);
        free(cont);
        cont = NULL;
        if (rc != PGW_K_OK) {
            json_decref(all);
            return rc;
        }
        if (all == NULL) {
            all = json_incref(out->body);
        } else {
            json_array_extend(json_object_get(all, "items"), json_object_get(out->body, "items"));
            json_object_set(all, "metadata", json_object_get(out->body, "metadata"));
        }
        const char *next = json_string_value(json_object_get(json_object_get(out->body, "metadata"), "continue"));
        if (next == NULL || next[0] == '\0')
            break;
        cont = pgw_strdup(next);
        pgw_kresult_dispose(out);
    }
    json_t *md = json_object_get(all, "metadata");
    if (json_is_object(md))
        json_object_del(md, "continue");
    json_decref(out->body);
    out->body = all;
    return out->outcome;
}

int pgw_kclient_create(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const json_t *obj,
                       struct pgw_kresult *out)
{
    char *path = pgw_kclient_path(r, ns, NULL, NULL);
    int rc = pgw_kclient_request(c, "POST", path, "application/json", obj, out);
    free(path);
    return rc;
}

int pgw_kclient_update(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const char *name,
                       const char *subresource, const json_t *obj, struct pgw_kresult *out)
{
    char *path = pgw_kclient_path(r, ns, name, subresource);
    int rc = pgw_kclient_request(c, "PUT", path, "application/json", obj, out);
    free(path);
    return rc;
}

int pgw_kclient_delete(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const char *name,
                       const char *propagation, struct pgw_kresult *out)
{
    char *path = pgw_kclient_path(r, ns, name, NULL);
    add_query(&path, "propagationPolicy", propagation);
    int rc = pgw_kclient_request(c, "DELETE", path, NULL, NULL, out);
    free(path);
    return rc;
}

int pgw_kclient_patch(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const char *name,
                      const char *subresource, enum pgw_patch_type type, const json_t *patch, struct pgw_kresult *out)
{
    static const char *const types[] = {"application/merge-patch+json", "application/json-patch+json",
                                        "application/strategic-merge-patch+json"};
    char *path = pgw_kclient_path(r, ns, name, subresource);
    int rc = pgw_kclient_request(c, "PATCH", path, types[(unsigned)type < 3 ? type : 0], patch, out);
    free(path);
    return rc;
}

int pgw_kclient_apply(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const char *name,
                      const char *subresource, const json_t *obj, struct pgw_kresult *out)
{
    char *path = pgw_kclient_path(r, ns, name, subresource);
    add_query(&path, "fieldManager", PGW_KCLIENT_FIELD_MANAGER);
    add_query(&path, "force", "true");
    int rc = pgw_kclient_request(c, "PATCH", path, "application/apply-patch+yaml", obj, out);
    free(path);
    return rc;
}

/* ---- events ------------------------------------------------------------- */

static const char *md_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

json_t *pgw_kclient_event_object(const json_t *involved, const char *type, const char *reason, const char *message, double now)
{
    const char *name = md_str(involved, "name"), *ns = md_str(involved, "namespace");
    if (name == NULL)
        name = "unknown";
    if (ns == NULL || ns[0] == '\0')
        ns = "default"; /* events about cluster-scoped objects go to default, as kubectl shows them */
    char stamp[32], ename[300];
    time_t secs = (time_t)now;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* client-go's recorder names events <object>.<unix nanos in hex>. */
    snprintf(ename, sizeof(ename), "%.200s.%llx", name, (unsigned long long)(now * 1e9));
    size_t mlen = message != NULL ? strlen(message) : 0;
    if (mlen > EVENT_MESSAGE_MAX) {
        mlen = EVENT_MESSAGE_MAX;
        while (mlen > 0 && ((unsigned char)message[mlen] & 0xC0) == 0x80)
            --mlen; /* do not cut a UTF-8 sequence */
    }
    json_t *inv = json_object();
    const char *fields[] = {"apiVersion", "kind"};
    for (int i = 0; i != 2; ++i) {
        const char *v = json_string_value(json_object_get(involved, fields[i]));
        if (v != NULL)
            json_object_set_new(inv, fields[i], json_string(v));
    }
    json_object_set_new(inv, "name", json_string(name));
    if (md_str(involved, "namespace") != NULL)
        json_object_set_new(inv, "namespace", json_string(md_str(involved, "namespace")));
    if (md_str(involved, "uid") != NULL)
        json_object_set_new(inv, "uid", json_string(md_str(involved, "uid")));
    if (md_str(involved, "resourceVersion") != NULL)
        json_object_set_new(inv, "resourceVersion", json_string(md_str(involved, "resourceVersion")));
    return pgw_json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:s,s:s%,s:s,s:{s:s},s:s,s:s,s:i,s:s}", "apiVersion", "v1", "kind", "Event",
                         "metadata", "name", ename, "namespace", ns, "involvedObject", inv, "reason", reason != NULL ? reason : "",
                         "message", message != NULL ? message : "", mlen, "type", type != NULL ? type : "Normal", "source",
                         "component", "pgwarden", "firstTimestamp", stamp, "lastTimestamp", stamp, "count", 1, "reportingComponent",
                         "pgwarden");
}

int pgw_kclient_event(struct pgw_kclient *c, const json_t *involved, const char *type, const char *reason, const char *message,
                      struct pgw_kresult *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *ev = pgw_kclient_event_object(involved, type, reason, message, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    if (ev == NULL) {
        memset(out, 0, sizeof(*out));
        out->outcome = PGW_K_HTTP_ERROR;
        out->message = pgw_strdup("event: reason, type or message is not valid UTF-8");
        return out->outcome;
    }
    const char *ns = md_str(ev, "namespace");
    char *path = pgw_kclient_path(pgw_resource_find("Event"), ns, NULL, NULL);
    int rc = pgw_kclient_request(c, "POST", path, "application/json", ev, out);
    free(path);
    json_decref(ev);
    return rc;
}
