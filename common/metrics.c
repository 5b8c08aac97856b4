#include "common/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static const int codes[] = {200, 400, 404, 405, 408, 413, 500, 503};
#define CODE_SLOTS (sizeof(codes) / sizeof(codes[0]) + 1) /* + "other" */
#define PATH_SLOTS (PGW_METRICS_MAX_PATHS + 1)            /* + "other" */

static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static const char *const reconcile_kinds[] = {"PostgresCluster", "PostgresBackup", "PostgresRestore"};
static const char *const reconcile_results[] = {"success", "error", "invalid"};

struct histogram {
    atomic_ullong counts[BUCKETS + 1]; /* last: +Inf */
    atomic_ullong sum_nanos;
};

static struct {
    const char *paths[PATH_SLOTS];
    size_t path_count;
    atomic_ullong requests[PATH_SLOTS][CODE_SLOTS][3]; /* allowed: false, true, n/a */
    struct histogram admission[PATH_SLOTS];
    atomic_long inflight;
    atomic_llong cert_expiry;
    atomic_ullong reconciles[3][3];
    struct histogram reconcile;
    atomic_long workqueue_depth;
    atomic_int leader;
    atomic_ullong api_requests[6]; /* by code class: 1xx..5xx, other */
    struct histogram api;
} m;

/*
 * The per-cluster table is the one part that is not a fixed slot per series: names come and go, so
 * it sits behind a mutex. It is touched once per cluster reconcile and once per scrape.
 */
struct cluster_slot {
    char ns[64], name[64]; /* DNS labels: at most 63 characters */
    long long last_backup;
    int used;
};
static struct {
    pthread_mutex_t lock;
    struct cluster_slot slots[PGW_METRICS_MAX_CLUSTERS];
    unsigned long long dropped;
} clusters = {.lock = PTHREAD_MUTEX_INITIALIZER};

void pgw_metrics_init(const char *const *paths, size_t count)
{
    if (count > PGW_METRICS_MAX_PATHS)
        count = PGW_METRICS_MAX_PATHS;
    for (size_t i = 0; i != count; ++i)
        m.paths[i] = paths[i];
    m.path_count = count;
}

static void histogram_observe(struct histogram *h, double seconds)
{
    size_t i = 0;
    while (i != BUCKETS && seconds > buckets[i])
        ++i;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_nanos, (unsigned long long)(seconds * 1e9), memory_order_relaxed);
}

void pgw_metrics_observe_admission(size_t path_index, int http_code, int allowed, double seconds)
{
    size_t p = path_index < m.path_count ? path_index : PGW_METRICS_MAX_PATHS;
    size_t c = 0;
    while (c != CODE_SLOTS - 1 && codes[c] != http_code)
        ++c;
    size_t a = allowed < 0 ? 2 : allowed ? 1 : 0;
    atomic_fetch_add_explicit(&m.requests[p][c][a], 1, memory_order_relaxed);
    histogram_observe(&m.admission[p], seconds);
}

void pgw_metrics_observe_api(int http_code, double seconds)
{
    int cls = http_code >= 100 && http_code < 600 ? http_code / 100 - 1 : 5;
    atomic_fetch_add_explicit(&m.api_requests[cls], 1, memory_order_relaxed);
    histogram_observe(&m.api, seconds);
}

void pgw_metrics_inflight_add(int delta)
{
    atomic_fetch_add_explicit(&m.inflight, delta, memory_order_relaxed);
}

void pgw_metrics_set_cert_expiry(time_t not_after)
{
    atomic_store(&m.cert_expiry, (long long)not_after);
}

static size_t index_of(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i != n; ++i)
        if (strcmp(names[i], name) == 0)
            return i;
    return n;
}

void pgw_metrics_observe_reconcile(const char *kind, const char *result, double seconds)
{
    size_t k = index_of(reconcile_kinds, 3, kind), r = index_of(reconcile_results, 3, result);
    if (k < 3 && r < 3)
        atomic_fetch_add_explicit(&m.reconciles[k][r], 1, memory_order_relaxed);
    histogram_observe(&m.reconcile, seconds);
}

void pgw_metrics_set_workqueue_depth(long depth)
{
    atomic_store(&m.workqueue_depth, depth);
}

void pgw_metrics_set_leader(int is_leader)
{
    atomic_store(&m.leader, is_leader);
    if (!is_leader) {
        pthread_mutex_lock(&clusters.lock);
        for (size_t i = 0; i != PGW_METRICS_MAX_CLUSTERS; ++i)
            clusters.slots[i].used = 0;
        pthread_mutex_unlock(&clusters.lock);
    }
}

/* A label value we can print without escaping: a DNS label's characters, and short enough for a slot. */
static int plain_label(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) >= sizeof(clusters.slots[0].ns))
        return 0;
    for (const char *p = s; *p; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

/* The slot of ns/name, or NULL. Caller holds the lock. */
static struct cluster_slot *find_cluster(const char *ns, const char *name)
{
    for (size_t i = 0; i != PGW_METRICS_MAX_CLUSTERS; ++i) {
        struct cluster_slot *c = &clusters.slots[i];
        if (c->used && strcmp(c->ns, ns) == 0 && strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

void pgw_metrics_set_last_backup(const char *ns, const char *cluster, time_t when)
{
    if (!plain_label(ns) || !plain_label(cluster))
        return;
    pthread_mutex_lock(&clusters.lock);
    struct cluster_slot *c = find_cluster(ns, cluster);
    for (size_t i = 0; c == NULL && i != PGW_METRICS_MAX_CLUSTERS; ++i)
        if (!clusters.slots[i].used) {
            c = &clusters.slots[i];
            snprintf(c->ns, sizeof(c->ns), "%s", ns);
            snprintf(c->name, sizeof(c->name), "%s", cluster);
            c->used = 1;
        }
    if (c != NULL)
        c->last_backup = (long long)when;
    else
        clusters.dropped++;
    pthread_mutex_unlock(&clusters.lock);
}

void pgw_metrics_forget_cluster(const char *ns, const char *cluster)
{
    if (!plain_label(ns) || !plain_label(cluster))
        return;
    pthread_mutex_lock(&clusters.lock);
    struct cluster_slot *c = find_cluster(ns, cluster);
    if (c != NULL)
        c->used = 0;
    pthread_mutex_unlock(&clusters.lock);
}

static void clusters_render(FILE *fp)
{
    fputs("# HELP pgwarden_cluster_last_backup_timestamp_seconds Completion of the cluster's newest successful backup "
          "(Unix time); its creation time while it has none. Clusters with a backup repository, on the leader only.\n"
          "# TYPE pgwarden_cluster_last_backup_timestamp_seconds gauge\n",
          fp);
    pthread_mutex_lock(&clusters.lock);
    for (size_t i = 0; i != PGW_METRICS_MAX_CLUSTERS; ++i) {
        const struct cluster_slot *c = &clusters.slots[i];
        if (c->used)
            fprintf(fp, "pgwarden_cluster_last_backup_timestamp_seconds{namespace=\"%s\",cluster=\"%s\"} %lld\n", c->ns, c->name,
                    c->last_backup);
    }
    unsigned long long dropped = clusters.dropped;
    pthread_mutex_unlock(&clusters.lock);
    fprintf(fp,
            "# HELP pgwarden_metrics_clusters_dropped_total Per-cluster updates dropped because the table was full.\n"
            "# TYPE pgwarden_metrics_clusters_dropped_total counter\n"
            "pgwarden_metrics_clusters_dropped_total %llu\n",
            dropped);
}

static void histogram_render(FILE *fp, const char *name, const char *labels, struct histogram *h)
{
    unsigned long long cumulative = 0;
    for (size_t i = 0; i <= BUCKETS; ++i) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < BUCKETS)
            fprintf(fp, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, labels[0] ? "," : "", buckets[i], cumulative);
        else
            fprintf(fp, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, labels[0] ? "," : "", cumulative);
    }
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    fprintf(fp, "%s_sum%s%s%s %.9f\n", name, open, labels, close, atomic_load_explicit(&h->sum_nanos, memory_order_relaxed) / 1e9);
    fprintf(fp, "%s_count%s%s%s %llu\n", name, open, labels, close, cumulative);
}

static const char *path_label(size_t p)
{
    return p < m.path_count ? m.paths[p] : "other";
}

char *pgw_metrics_render(size_t *len)
{
    char *out = NULL;
    size_t out_len = 0;
    FILE *fp = open_memstream(&out, &out_len);

    fputs("# HELP pgwarden_admission_requests_total Admission requests by path, HTTP code and outcome.\n"
          "# TYPE pgwarden_admission_requests_total counter\n",
          fp);
    static const char *const allowed_label[] = {"false", "true", ""};
    for (size_t p = 0; p != PATH_SLOTS; ++p) {
        if (p >= m.path_count && p != PGW_METRICS_MAX_PATHS)
            continue;
        for (size_t c = 0; c != CODE_SLOTS; ++c)
            for (size_t a = 0; a != 3; ++a) {
                unsigned long long v = atomic_load_explicit(&m.requests[p][c][a], memory_order_relaxed);
                if (v == 0 && !(c == 0 && a == 1 && p < m.path_count))
                    continue; /* always show the allowed/200 series of each known path */
                char code[16];
                if (c < CODE_SLOTS - 1)
                    snprintf(code, sizeof(code), "%d", codes[c]);
                else
                    snprintf(code, sizeof(code), "other");
                fprintf(fp, "pgwarden_admission_requests_total{path=\"%s\",code=\"%s\",allowed=\"%s\"} %llu\n", path_label(p), code,
                        allowed_label[a], v);
            }
    }
    fputs("# HELP pgwarden_admission_duration_seconds Time from request to response, by path.\n"
          "# TYPE pgwarden_admission_duration_seconds histogram\n",
          fp);
    for (size_t p = 0; p != PATH_SLOTS; ++p) {
        if (p >= m.path_count && p != PGW_METRICS_MAX_PATHS)
            continue;
        char labels[128];
        snprintf(labels, sizeof(labels), "path=\"%s\"", path_label(p));
        histogram_render(fp, "pgwarden_admission_duration_seconds", labels, &m.admission[p]);
    }
    fprintf(fp,
            "# HELP pgwarden_admission_inflight Admission requests being processed.\n"
            "# TYPE pgwarden_admission_inflight gauge\n"
            "pgwarden_admission_inflight %ld\n",
            atomic_load(&m.inflight));
    fprintf(fp,
            "# HELP pgwarden_cert_expiry_timestamp_seconds Expiry of the serving certificate (Unix time).\n"
            "# TYPE pgwarden_cert_expiry_timestamp_seconds gauge\n"
            "pgwarden_cert_expiry_timestamp_seconds %lld\n",
            atomic_load(&m.cert_expiry));
    fputs("# HELP pgwarden_reconcile_total Reconciliations by kind and result.\n"
          "# TYPE pgwarden_reconcile_total counter\n",
          fp);
    for (size_t k = 0; k != 3; ++k)
        for (size_t r = 0; r != 3; ++r)
            fprintf(fp, "pgwarden_reconcile_total{kind=\"%s\",result=\"%s\"} %llu\n", reconcile_kinds[k], reconcile_results[r],
                    atomic_load_explicit(&m.reconciles[k][r], memory_order_relaxed));
    fputs("# HELP pgwarden_reconcile_duration_seconds Time spent in one reconciliation.\n"
          "# TYPE pgwarden_reconcile_duration_seconds histogram\n",
          fp);
    histogram_render(fp, "pgwarden_reconcile_duration_seconds", "", &m.reconcile);
    fputs("# HELP pgwarden_api_requests_total REST API and web UI requests by HTTP code class.\n"
          "# TYPE pgwarden_api_requests_total counter\n",
          fp);
    static const char *const api_classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
    for (size_t c = 0; c != 6; ++c)
        fprintf(fp, "pgwarden_api_requests_total{code=\"%s\"} %llu\n", api_classes[c],
                atomic_load_explicit(&m.api_requests[c], memory_order_relaxed));
    fputs("# HELP pgwarden_api_request_duration_seconds Time from request to response on the API listener.\n"
          "# TYPE pgwarden_api_request_duration_seconds histogram\n",
          fp);
    histogram_render(fp, "pgwarden_api_request_duration_seconds", "", &m.api);
    fprintf(fp,
            "# HELP pgwarden_workqueue_depth Keys waiting in the controller work queue.\n"
            "# TYPE pgwarden_workqueue_depth gauge\n"
            "pgwarden_workqueue_depth %ld\n"
            "# HELP pgwarden_is_leader 1 when this replica holds the controller lease.\n"
            "# TYPE pgwarden_is_leader gauge\n"
            "pgwarden_is_leader %d\n"
            "# HELP pgwarden_build_info Build information.\n"
            "# TYPE pgwarden_build_info gauge\n"
            "pgwarden_build_info{version=\"%s\"} 1\n",
            atomic_load(&m.workqueue_depth), atomic_load(&m.leader), PGW_VERSION);
    clusters_render(fp);
    fclose(fp);
    *len = out_len;
    return out;
}
