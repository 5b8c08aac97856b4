/*
 * The controller process, wired together (DESIGN.md §6; the map of threads is
 * in controller.h).
 *
 * Why it looks like this: every replica watches and keeps local stores, so a
 * new leader starts warm and reconciles read memory instead of the API
 * server; only the leader's workers reconcile, and the kube client refuses
 * writes when not leading, so a replica that lost its lease mid-reconcile
 * cannot write. Admission never waits on any of this: a replica keeps serving
 * the webhook whatever its role, and only the caBundle check feeds /readyz.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certs/upkeep/webhook_ca.h"
#include "common/config.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xalloc.h"
#include "controller/controller.h"
#include "controller/kube/kclient.h"
#include "controller/kube/leader.h"
#include "controller/kube/lease.h"
#include "controller/kube/ratelimit.h"
#include "controller/kube/store.h"
#include "controller/kube/trim.h"
#include "controller/kube/watch.h"
#include "controller/kube/workqueue.h"
#include "controller/reconcile/apply.h"
#include "controller/reconcile/reconcile.h"
#include "specs/pod_layout.h"
#include "specs/render_backup.h"

#define MAX_WATCHES 96 /* six per watched namespace */

enum watched_kind { W_CLUSTER, W_STATEFULSET, W_POD, W_BACKUP, W_RESTORE, W_JOB, W_COUNT };

#define KIND_CLUSTER "PostgresCluster"
#define KIND_BACKUP "PostgresBackup"
#define KIND_RESTORE "PostgresRestore"
/* Not a kind: the periodic resync, a work item so that it needs no thread of its own. */
#define KEY_RESYNC "Resync/-/-"

struct st_watch_ctx_t {
    struct pgw_controller *c;
    enum watched_kind kind;
};

struct pgw_controller {
    struct pgw_controller_options opts;
    char *identity, *ca_file, *mutating, *validating, *lease_name;
    struct pgw_kclient *client;       /* gated on leadership */
    struct pgw_kclient *lease_client; /* not gated */
    struct pgw_workqueue *queue;
    struct pgw_apply_cache *cache;
    struct pgw_store *clusters, *statefulsets, *pods, *backups, *restores, *jobs;
    struct pgw_reconciler reconciler;
    struct st_watch_ctx_t watch_ctx[W_COUNT];
    struct pgw_watch *watches[MAX_WATCHES];
    int nwatches;
    struct pgw_lease_kube lease_kube;
    struct pgw_leader *leader;
    pthread_t *workers;
    int nworkers;
    pthread_t ca_thread;
    int ca_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
    int need_prime;              /* under lock: the apply cache must be primed before the next reconcile */
    pthread_rwlock_t prime_lock; /* reconciles read-hold it; priming write-holds it */
};

static void enqueue(struct pgw_controller *c, const char *kind, const char *ns, const char *name)
{
    if (name == NULL)
        return;
    char *key = pgw_workqueue_key(kind, ns, name);
    pgw_workqueue_add(c->queue, key);
    free(key);
}

static const char *spec_str(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(json_object_get(obj, "spec"), a);
    return json_string_value(b != NULL ? json_object_get(v, b) : v);
}

static int finished(const json_t *obj)
{
    const char *phase = json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
    return phase != NULL && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

/*
 * A cluster or a backup Job changed: the unfinished backups of that cluster
 * (their checks and the gate depend on it) and the unfinished restores that
 * read it (as source, or as the cluster they created) are looked at again.
 */
static void enqueue_dependents(struct pgw_controller *c, const char *ns, const char *cluster, int restores)
{
    if (cluster == NULL)
        return;
    json_t *list = pgw_store_list(c->backups, ns);
    size_t i;
    json_t *b;
    json_array_foreach(list, i, b)
    {
        const char *of = spec_str(b, "cluster", NULL);
        if (of != NULL && strcmp(of, cluster) == 0 && !finished(b))
            enqueue(c, KIND_BACKUP, ns, json_string_value(json_object_get(json_object_get(b, "metadata"), "name")));
    }
    json_decref(list);
    if (!restores)
        return;
    list = pgw_store_list(c->restores, ns);
    json_array_foreach(list, i, b)
    {
        const char *rname = json_string_value(json_object_get(json_object_get(b, "metadata"), "name"));
        const char *from = spec_str(b, "source", "cluster"), *to = spec_str(b, "newCluster", "name");
        if (to == NULL)
            to = rname;
        if (!finished(b) && ((from != NULL && strcmp(from, cluster) == 0) || (to != NULL && strcmp(to, cluster) == 0)))
            enqueue(c, KIND_RESTORE, ns, rname);
    }
    json_decref(list);
}

static void on_event(void *ctx, enum pgw_watch_type type, json_t *obj)
{
    struct st_watch_ctx_t *w = ctx;
    struct pgw_controller *c = w->c;
    const json_t *meta = json_object_get(obj, "metadata");
    const json_t *labels = json_object_get(meta, "labels");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *cluster = json_string_value(json_object_get(labels, PGW_POD_LABEL_CLUSTER));
    struct pgw_store *stores[W_COUNT] = {c->clusters, c->statefulsets, c->pods, c->backups, c->restores, c->jobs};
    struct pgw_store *store = stores[w->kind];
    if (type == PGW_WATCH_DELETED)
        pgw_store_delete(store, obj);
    else
        pgw_store_put(store, obj);
    switch (w->kind) {
    case W_CLUSTER:
        if (type == PGW_WATCH_DELETED) {
            const char *uid = json_string_value(json_object_get(meta, "uid"));
            if (uid != NULL)
                pgw_apply_cache_forget_owner(c->cache, uid);
        }
        enqueue(c, KIND_CLUSTER, ns, name);
        enqueue_dependents(c, ns, name, 1);
        break;
    case W_STATEFULSET:
        if (type == PGW_WATCH_DELETED && pgw_controller_uid(obj, KIND_CLUSTER) != NULL)
            pgw_apply_cache_forget(c->cache, pgw_controller_uid(obj, KIND_CLUSTER), "StatefulSet", ns, name);
        enqueue(c, KIND_CLUSTER, ns, cluster);
        break;
    case W_POD:
        enqueue(c, KIND_CLUSTER, ns, cluster);
        break;
    case W_BACKUP:
        enqueue(c, KIND_BACKUP, ns, name);
        if (finished(obj) || type == PGW_WATCH_DELETED) /* the next one in line may start */
            enqueue_dependents(c, ns, spec_str(obj, "cluster", NULL), 0);
        /* a restore may be waiting for this backup */
        {
            json_t *list = pgw_store_list(c->restores, ns);
            size_t i;
            json_t *rs;
            json_array_foreach(list, i, rs)
            {
                const char *b = spec_str(rs, "source", "backup");
                if (b != NULL && name != NULL && strcmp(b, name) == 0 && !finished(rs))
                    enqueue(c, KIND_RESTORE, ns, json_string_value(json_object_get(json_object_get(rs, "metadata"), "name")));
            }
            json_decref(list);
        }
        break;
    case W_RESTORE:
        enqueue(c, KIND_RESTORE, ns, name);
        break;
    case W_JOB:
        /* The stanza Job decides BackupReady; any backup Job gates the others. */
        enqueue(c, KIND_CLUSTER, ns, cluster);
        enqueue(c, KIND_BACKUP, ns, json_string_value(json_object_get(labels, PGW_LABEL_BACKUP)));
        enqueue_dependents(c, ns, cluster, 0);
        break;
    case W_COUNT:
        break;
    }
}

static void on_synced(void *ctx)
{
    (void)ctx;
}

static void enqueue_store(struct pgw_controller *c, struct pgw_store *store, const char *kind)
{
    json_t *keys = pgw_store_keys(store);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        char *key = pgw_asprintf("%s/%s", kind, json_string_value(k)); /* store keys are "namespace/name" */
        pgw_workqueue_add(c->queue, key);
        free(key);
    }
    json_decref(keys);
}

static void enqueue_all(struct pgw_controller *c)
{
    enqueue_store(c, c->clusters, KIND_CLUSTER);
    enqueue_store(c, c->backups, KIND_BACKUP);
    enqueue_store(c, c->restores, KIND_RESTORE);
}

/* A new leader's cache may be stale (another replica wrote meanwhile): prime it before any reconcile. */
static void on_started_leading(void *ctx)
{
    struct pgw_controller *c = ctx;
    pgw_log(PGW_LOG_INFO, "started leading", pgw_json_pack("{s:s}", "identity", c->identity));
    pthread_mutex_lock(&c->lock);
    c->need_prime = 1;
    pthread_mutex_unlock(&c->lock);
    enqueue_all(c);
    if (c->opts.config->resync_seconds > 0)
        pgw_workqueue_add_after(c->queue, KEY_RESYNC, (double)c->opts.config->resync_seconds);
    pthread_mutex_lock(&c->lock);
    pthread_cond_broadcast(&c->cond); /* the caBundle check runs now */
    pthread_mutex_unlock(&c->lock);
}

static void on_stopped_leading(void *ctx)
{
    struct pgw_controller *c = ctx;
    pgw_log(PGW_LOG_INFO, "stopped leading", pgw_json_pack("{s:s}", "identity", c->identity));
}

/* Primes the apply cache when asked to; the first worker does it while the others wait. */
static void prime_if_needed(struct pgw_controller *c)
{
    pthread_mutex_lock(&c->lock);
    int need = c->need_prime;
    pthread_mutex_unlock(&c->lock);
    if (!need)
        return;
    pthread_rwlock_wrlock(&c->prime_lock);
    pthread_mutex_lock(&c->lock);
    need = c->need_prime;
    c->need_prime = 0;
    pthread_mutex_unlock(&c->lock);
    if (need) {
        double t0 = pgw_monotonic_now(NULL);
        long children = 0;
        char *err = NULL;
        if (pgw_apply_cache_prime(c->cache, c->client, c->opts.config->watch_namespaces, &children, &err) == 0)
            pgw_log(PGW_LOG_INFO, "children listed",
                    pgw_json_pack("{s:I,s:f}", "children", (json_int_t)children, "seconds", pgw_monotonic_now(NULL) - t0));
        else
            pgw_log(PGW_LOG_WARN, "cannot list the children; reading each before writing it",
                    pgw_json_pack("{s:s}", "error", err != NULL ? err : "unknown"));
        free(err);
    }
    pthread_rwlock_unlock(&c->prime_lock);
}

/* Periodic resync: a child deleted behind our back is re-applied, every object is looked at again. */
static void resync(struct pgw_controller *c)
{
    pthread_mutex_lock(&c->lock);
    c->need_prime = 1;
    pthread_mutex_unlock(&c->lock);
    prime_if_needed(c);
    enqueue_all(c);
    pgw_workqueue_add_after(c->queue, KEY_RESYNC, (double)c->opts.config->resync_seconds);
}

static void *worker_main(void *arg)
{
    struct pgw_controller *c = arg;
    char *key;
    while ((key = pgw_workqueue_get(c->queue)) != NULL) {
        if (!pgw_leader_is_leading()) {
            /* Not ours to act on; becoming leader queues everything again. */
            pgw_workqueue_forget(c->queue, key);
            pgw_workqueue_done(c->queue, key);
            free(key);
            continue;
        }
        if (strcmp(key, KEY_RESYNC) == 0) {
            resync(c);
            pgw_workqueue_done(c->queue, key);
            free(key);
            continue;
        }
        prime_if_needed(c);
        /* "Kind/namespace/name" */
        char *slash = strchr(key, '/'), *slash2 = slash != NULL ? strchr(slash + 1, '/') : NULL;
        if (slash2 == NULL) {
            pgw_workqueue_done(c->queue, key);
            free(key);
            continue;
        }
        *slash = *slash2 = '\0';
        const char *kind = key, *ns = slash + 1, *name = slash2 + 1;
        double t0 = pgw_monotonic_now(NULL);
        struct pgw_reconcile_outcome out;
        int rc;
        pthread_rwlock_rdlock(&c->prime_lock);
        if (strcmp(kind, KIND_BACKUP) == 0)
            rc = pgw_reconcile_backup(&c->reconciler, ns, name, &out);
        else if (strcmp(kind, KIND_RESTORE) == 0)
            rc = pgw_reconcile_restore(&c->reconciler, ns, name, &out);
        else
            rc = pgw_reconcile_cluster(&c->reconciler, ns, name, &out);
        pthread_rwlock_unlock(&c->prime_lock);
        double dt = pgw_monotonic_now(NULL) - t0;
        pgw_metrics_observe_reconcile(kind, out.result, dt);
        if (rc != 0 || out.writes > 0 || pgw_log_enabled(PGW_LOG_DEBUG))
            pgw_log(rc != 0          ? PGW_LOG_WARN
                    : out.writes > 0 ? PGW_LOG_INFO
                                     : PGW_LOG_DEBUG,
                    "reconciled",
                    pgw_json_pack("{s:s,s:s,s:s,s:s,s:i,s:f,s:s?}", "kind", kind, "namespace", ns, "name", name, "result",
                                  out.result, "writes", out.writes, "seconds", dt, "error", out.error));
        *slash = *slash2 = '/';
        if (rc != 0)
            pgw_workqueue_add_rate_limited(c->queue, key);
        else {
            pgw_workqueue_forget(c->queue, key);
            if (out.requeue_after > 0)
                pgw_workqueue_add_after(c->queue, key, out.requeue_after);
        }
        free(out.error);
        pgw_workqueue_done(c->queue, key);
        free(key);
    }
    return NULL;
}

static void *ca_main(void *arg)
{
    struct pgw_controller *c = arg;
    int last = -1;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        pthread_mutex_unlock(&c->lock);
        char *ca = pgw_webhook_ca_read(c->ca_file);
        int ready = 0;
        if (ca == NULL) {
            pgw_log(PGW_LOG_WARN, "cannot read the CA for the webhook configurations", pgw_json_pack("{s:s}", "file", c->ca_file));
        } else {
            struct pgw_webhook_ca_result res;
            ready = pgw_webhook_ca_sync(c->lease_client, c->mutating, c->validating, ca, pgw_leader_is_leading(), &res);
            free(ca);
        }
        if (ready != last) {
            pgw_log(PGW_LOG_INFO, ready ? "webhook caBundle in place: ready" : "webhook caBundle not in place: not ready", NULL);
            last = ready;
        }
        if (c->opts.on_ready != NULL)
            c->opts.on_ready(c->opts.ready_ctx, ready);
        pthread_mutex_lock(&c->lock);
        if (c->stopping)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double period = c->opts.ca_check_period > 0 ? c->opts.ca_check_period : 5.0;
        until.tv_sec += (time_t)period;
        until.tv_nsec += (long)((period - (double)(time_t)period) * 1e9);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cond, &c->lock, &until);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static char *default_identity(void)
{
    const char *pod = getenv("POD_NAME");
    if (pod != NULL && *pod != '\0')
        return pgw_strdup(pod);
    char host[256] = "pgwarden";
    gethostname(host, sizeof(host) - 1);
    return pgw_asprintf("%s_%ld", host, (long)getpid());
}

static int add_watch(struct pgw_controller *c, enum watched_kind kind, const char *resource, const char *ns, const char *selector)
{
    if (c->nwatches == MAX_WATCHES)
        return -1;
    struct pgw_watch_options wo = {
        .resource = pgw_resource_find(resource), .namespace_ = ns, .label_selector = selector, .transform = pgw_trim_cached_object};
    struct pgw_watch_handlers h = {on_event, on_synced, &c->watch_ctx[kind]};
    struct pgw_watch *w = pgw_watch_start(c->lease_client, &wo, &h);
    if (w == NULL)
        return -1;
    c->watches[c->nwatches++] = w;
    return 0;
}

struct pgw_controller *pgw_controller_start(const struct pgw_controller_options *opts, char **err)
{
    struct pgw_controller *c = pgw_calloc(1, sizeof(*c));
    c->opts = *opts;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    pthread_rwlock_init(&c->prime_lock, NULL);
    c->identity = opts->identity != NULL ? pgw_strdup(opts->identity) : default_identity();
    c->ca_file = opts->ca_file != NULL ? pgw_strdup(opts->ca_file) : NULL;
    c->mutating = pgw_strdup(opts->mutating_webhooks != NULL ? opts->mutating_webhooks : "pgwarden-mutating");
    c->validating = pgw_strdup(opts->validating_webhooks != NULL ? opts->validating_webhooks : "pgwarden-validating");
    c->lease_name = pgw_strdup(opts->lease_name != NULL ? opts->lease_name : "pgwarden-controller");

    /* Reconcile writes are rate-limited as configured; the Lease and the watches never wait behind them. */
    const struct pgw_config *cfg = opts->config;
    double timeout = cfg->kube_api_timeout_ms > 0 ? cfg->kube_api_timeout_ms / 1000.0 : 0;
    struct pgw_kclient_options ko = {.may_write = pgw_leader_is_leading,
                                     .write_budget = pgw_leader_global_write_budget,
                                     .qps = cfg->kube_api_qps > 0 ? (double)cfg->kube_api_qps : -1.0,
                                     .burst = (int)cfg->kube_api_burst,
                                     .timeout = timeout};
    struct pgw_kclient_options lko = {.timeout = timeout};
    if ((c->client = pgw_kclient_new(opts->kube, &ko, err)) == NULL ||
        (c->lease_client = pgw_kclient_new(opts->kube, &lko, err)) == NULL) {
        pgw_controller_stop(c);
        return NULL;
    }
    struct pgw_workqueue_options qo = {.export_metrics = 1};
    c->queue = pgw_workqueue_new(&qo);
    c->cache = pgw_apply_cache_new();
    c->clusters = pgw_store_new();
    c->statefulsets = pgw_store_new();
    c->pods = pgw_store_new();
    c->backups = pgw_store_new();
    c->restores = pgw_store_new();
    c->jobs = pgw_store_new();
    c->reconciler = (struct pgw_reconciler){c->client, opts->config, c->cache,    c->clusters, c->statefulsets,
                                            c->pods,   c->backups,   c->restores, c->jobs};
    for (int k = 0; k < W_COUNT; ++k)
        c->watch_ctx[k] = (struct st_watch_ctx_t){c, (enum watched_kind)k};

    /* Leader election first, so is_leading() answers 0 (not "no elector") before any worker runs. */
    struct pgw_lease_store store;
    pgw_lease_kube_init(&c->lease_kube, c->lease_client, opts->config->operator_namespace, c->lease_name, &store);
    struct pgw_leader_options lo = {.identity = c->identity,
                                    .on_started_leading = on_started_leading,
                                    .on_stopped_leading = on_stopped_leading,
                                    .cb_ctx = c,
                                    .global = 1};
    c->leader = pgw_leader_new(&lo, &store);

    /* Watches: one set across all namespaces, or one per watched namespace. */
    char *namespaces = pgw_strdup(opts->config->watch_namespaces != NULL ? opts->config->watch_namespaces : "");
    char *save = NULL, *ns = strtok_r(namespaces, ", ", &save);
    int ok = 1;
    do {
        ok = ok && add_watch(c, W_CLUSTER, "PostgresCluster", ns, NULL) == 0 &&
             add_watch(c, W_STATEFULSET, "StatefulSet", ns, PGW_POD_LABEL_CLUSTER) == 0 &&
             add_watch(c, W_POD, "Pod", ns, PGW_POD_LABEL_CLUSTER) == 0 &&
             add_watch(c, W_BACKUP, "PostgresBackup", ns, NULL) == 0 && add_watch(c, W_RESTORE, "PostgresRestore", ns, NULL) == 0 &&
             add_watch(c, W_JOB, "Job", ns, PGW_POD_LABEL_CLUSTER) == 0;
    } while (ok && ns != NULL && (ns = strtok_r(NULL, ", ", &save)) != NULL);
    free(namespaces);
    if (!ok) {
        *err = pgw_strdup("cannot start the watches (too many namespaces?)");
        pgw_controller_stop(c);
        return NULL;
    }

    c->nworkers = opts->workers > 0 ? opts->workers : 4;
    c->workers = pgw_calloc((size_t)c->nworkers, sizeof(pthread_t));
    for (int i = 0; i < c->nworkers; ++i)
        pthread_create(&c->workers[i], NULL, worker_main, c);
    if (pgw_leader_start(c->leader) != 0) {
        *err = pgw_strdup("cannot start leader election");
        pgw_controller_stop(c);
        return NULL;
    }
    if (c->ca_file != NULL)
        c->ca_started = pthread_create(&c->ca_thread, NULL, ca_main, c) == 0;
    else if (opts->on_ready != NULL)
        opts->on_ready(opts->ready_ctx, 1);
    pgw_log(PGW_LOG_INFO, "controller started",
            pgw_json_pack("{s:s,s:i,s:s,s:s}", "identity", c->identity, "workers", c->nworkers, "lease", c->lease_name,
                          "leaseNamespace", opts->config->operator_namespace));
    return c;
}

void pgw_controller_stop(struct pgw_controller *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (c->ca_started)
        pthread_join(c->ca_thread, NULL);
    if (c->queue != NULL)
        pgw_workqueue_shutdown(c->queue);
    for (int i = 0; i < c->nworkers; ++i)
        pthread_join(c->workers[i], NULL);
    for (int i = 0; i < c->nwatches; ++i)
        pgw_watch_stop(c->watches[i]);
    if (c->leader != NULL) {
        pgw_leader_stop(c->leader); /* releases the Lease: the next replica takes over at once */
        pgw_leader_free(c->leader);
        pgw_lease_kube_dispose(&c->lease_kube);
    }
    pgw_workqueue_free(c->queue);
    pgw_apply_cache_free(c->cache);
    pgw_store_free(c->clusters);
    pgw_store_free(c->statefulsets);
    pgw_store_free(c->pods);
    pgw_store_free(c->backups);
    pgw_store_free(c->restores);
    pgw_store_free(c->jobs);
    pgw_kclient_free(c->client);
    pgw_kclient_free(c->lease_client);
    free(c->workers);
    free(c->identity);
    free(c->ca_file);
    free(c->mutating);
    free(c->validating);
    free(c->lease_name);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    pthread_rwlock_destroy(&c->prime_lock);
    free(c);
}
