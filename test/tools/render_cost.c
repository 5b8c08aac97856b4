/*
 * render_cost [N]: CPU time of pgw_render_cluster() for a 3-instance cluster
 * with a backup repository, with its certificates issued in the render (what
 * `pgwarden render` does) and deferred (what the controller does on every
 * reconcile: certificates are issued only when due). Prints one JSON line;
 * bench/render_certs.py runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/config.h"
#include "specs/render.h"

static const char cluster_json[] =
    "{\"apiVersion\":\"pgwarden.io/v1\",\"kind\":\"PostgresCluster\",\"metadata\":{\"name\":\"demo\",\"namespace\":\"db\","
    "\"uid\":\"u\"},\"spec\":{\"postgresVersion\":17,\"instances\":3,\"storage\":{\"size\":\"1Gi\"},\"backup\":{\"repository\":"
    "{\"volume\":{\"size\":\"1Gi\"}}},\"pooler\":{\"enabled\":true},\"metrics\":{\"enabled\":true},\"bootstrap\":{\"initdb\":"
    "{\"database\":\"app\",\"owner\":\"app\"}}}}";

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double per_render(const json_t *cluster, const struct pgw_render_ctx *ctx, int n)
{
    double start = cpu_ms();
    for (int i = 0; i != n; ++i)
        json_decref(pgw_render_cluster(cluster, ctx));
    return (cpu_ms() - start) / n;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 500;
    if (n < 1)
        n = 1;
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    json_t *cluster = json_loads(cluster_json, 0, NULL);
    struct pgw_render_ctx issued = {.config = &cfg}, deferred = {.config = &cfg, .defer_certificates = 1};
    per_render(cluster, &issued, 10); /* warm up */
    double a = per_render(cluster, &issued, n), b = per_render(cluster, &deferred, n);
    printf("{\"renders\":%d,\"issued_ms_cpu\":%.3f,\"deferred_ms_cpu\":%.3f}\n", n, a, b);
    json_decref(cluster);
    pgw_config_dispose(&cfg);
    return 0;
}
