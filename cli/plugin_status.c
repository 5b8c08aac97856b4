/*
 * `kubectl pgwarden status CLUSTER [-o json]`: reads the cluster, Patroni's
 * leader key, the pods, Services and PostgresBackups, and prints their summary
 * (controller/decide/summary.h) as text (plugin_status_view.c) or JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/plugin.h"
#include "common/xalloc.h"
#include "controller/decide/summary.h"
#include "controller/kube/kclient.h"
#include "specs/pod_layout.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: kubectl pgwarden status CLUSTER [-n NAMESPACE] [-o json]\n\n"
                "The cluster on one screen: phase, Postgres version, each instance with its role,\n"
                "readiness, replication state, timeline and lag (from Patroni's member data), the\n"
                "Services to connect to, the latest backups and the conditions. -o json prints the\n"
                "same as one JSON object, for scripts.\n");
}

/* The items of a List of `kind` in the namespace (new reference; an empty array when listing fails). */
static json_t *list(struct pgw_plugin *p, const char *kind, const char *selector)
{
    struct pgw_klist_options lo = {.label_selector = selector};
    struct pgw_kresult r;
    pgw_kclient_list_all(p->client, pgw_resource_find(kind), p->ns, &lo, &r);
    json_t *items = r.outcome == PGW_K_OK ? json_incref(json_object_get(r.body, "items")) : NULL;
    if (r.outcome != PGW_K_OK)
        pgw_plugin_report(p, &r, kind);
    pgw_kresult_dispose(&r);
    if (!json_is_array(items)) {
        json_decref(items);
        items = json_array();
    }
    return items;
}

int pgw_plugin_status(struct pgw_plugin *p, int argc, char **argv)
{
    if (pgw_plugin_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    json_t *cluster = pgw_plugin_get_cluster(p, name);
    if (cluster == NULL)
        return 1;
    json_t *pods = pgw_plugin_list_pods(p, name);
    if (pods == NULL) {
        json_decref(cluster);
        return 1;
    }
    char *selector = pgw_asprintf("%s=%s", PGW_POD_LABEL_CLUSTER, name);
    json_t *services = list(p, "Service", selector);
    json_t *backups = list(p, "PostgresBackup", NULL);
    char *leader = pgw_plugin_leader(p, name);
    json_t *summary = pgw_cluster_summary(cluster, leader, pods, services, backups);
    if (p->output != NULL) {
        char *text = json_dumps(summary, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text);
        free(text);
    } else {
        pgw_plugin_status_print(stdout, summary);
    }
    json_decref(summary);
    free(leader);
    free(selector);
    json_decref(backups);
    json_decref(services);
    json_decref(pods);
    json_decref(cluster);
    return 0;
}
