/*
 * The kubectl plugin's dispatch and what its commands share (see plugin.h).
 *
 * The client is built as kubectl builds its own: --kubeconfig, else the
 * merged $KUBECONFIG, else ~/.kube/config, else the in-cluster service
 * account; --context picks a context, -n the namespace (else the context's).
 * Errors are printed the way kubectl prints them ("Error from server
 * (NotFound): ..."), with the API's message verbatim, so an admission denial
 * reads the same as after `kubectl apply`.
 */
#include "cli/plugin.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/object.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/primary.h"
#include "controller/kube/kclient.h"
#include "controller/kube/kubeconfig.h"
#include "specs/actions.h"
#include "specs/pod_layout.h"

static const struct {
    const char *name;
    int (*run)(struct pgw_plugin *p, int argc, char **argv);
    const char *summary;
} commands[] = {
    {"status", pgw_plugin_status, "a cluster on one screen: instances, roles, lag, services, backups, conditions"},
    {"psql", pgw_plugin_psql, "run psql connected to the primary (or a replica)"},
    {"backup", pgw_plugin_backup, "take a backup now (creates a PostgresBackup)"},
    {"restore", pgw_plugin_restore, "restore a backup into a new cluster (creates a PostgresRestore)"},
    {"switchover", pgw_plugin_switchover, "make a replica the primary (pgwarden.io/switchover)"},
    {"restart", pgw_plugin_restart, "restart one instance or all, carefully (pgwarden.io/restart)"},
    {"logs", pgw_plugin_logs, "print the logs of a cluster's instances"},
};

static void usage(FILE *fp, const char *prog)
{
    fprintf(fp, "usage: %s <command> CLUSTER [options]\n\ncommands:\n", prog);
    for (size_t i = 0; i != sizeof(commands) / sizeof(commands[0]); ++i)
        fprintf(fp, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\nkubectl's flags, anywhere before \"--\":\n"
                "  -n, --namespace NS   the cluster's namespace (default: the context's)\n"
                "  --context NAME       a kubeconfig context other than the current one\n"
                "  --kubeconfig FILE    instead of $KUBECONFIG or ~/.kube/config\n"
                "  -o json              machine-readable output (status, backup, restore)\n"
                "\nEvery command accepts -h. See docs/plugin.md.\n");
}

int pgw_plugin_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; ++i)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

static struct pgw_kclient *connect_client(const struct pgw_plugin_globals *g, char **ns)
{
    struct pgw_kubeconfig kc;
    char *err = NULL;
    int rc = pgw_kubeconfig_load_kubectl(&kc, g->kubeconfig, g->context, &err);
    if (rc != 0) {
        fprintf(stderr, "error: %s\n",
                rc > 0 ? "no Kubernetes configuration: set KUBECONFIG, write ~/.kube/config or pass --kubeconfig" : err);
        free(err);
        return NULL;
    }
    struct pgw_kclient_options opts = {.qps = -1, .timeout = 30};
    struct pgw_kclient *client = pgw_kclient_new(&kc, &opts, &err);
    if (client == NULL) {
        fprintf(stderr, "error: %s\n", err);
        free(err);
    } else {
        *ns = pgw_strdup(g->namespace_ != NULL ? g->namespace_ : kc.namespace_ != NULL ? kc.namespace_ : "default");
    }
    pgw_kubeconfig_dispose(&kc);
    return client;
}

int pgw_cmd_plugin(int argc, char **argv)
{
    const char *prog = strcmp(argv[0], "plugin") == 0 ? "pgwarden plugin" : "kubectl pgwarden";
    struct pgw_plugin_globals g;
    const char *err = NULL;
    if (pgw_plugin_take_globals(&argc, argv, &g, &err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        return 2;
    }
    if (argc < 2) {
        usage(stderr, prog);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        usage(stdout, prog);
        return 0;
    }
    for (size_t i = 0; i != sizeof(commands) / sizeof(commands[0]); ++i) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        /* Our client's request log stays quiet: the commands say what failed themselves. */
        pgw_log_set_level(PGW_LOG_ERROR);
        struct pgw_plugin p = {.output = g.output, .command = name, .globals = &g};
        if (!pgw_plugin_wants_help(argc - 1, argv + 1) && (p.client = connect_client(&g, &p.ns)) == NULL)
            return 1;
        int rc = commands[i].run(&p, argc - 1, argv + 1);
        pgw_kclient_free(p.client);
        free(p.ns);
        return rc;
    }
    fprintf(stderr, "error: unknown command \"%s\" for \"%s\"\n\n", name, prog);
    usage(stderr, prog);
    return 2;
}

void pgw_plugin_report(const struct pgw_plugin *p, const struct pgw_kresult *r, const char *what)
{
    (void)p;
    if (r->outcome == PGW_K_TRANSPORT) {
        fprintf(stderr, "error: the API server could not be reached: %s\n", r->message != NULL ? r->message : "no answer");
        return;
    }
    const char *reason = r->reason != NULL ? r->reason : "Unknown";
    if (r->message != NULL && r->message[0] != '\0')
        fprintf(stderr, "Error from server (%s): %s\n", reason, r->message);
    else if (r->outcome == PGW_K_NOT_FOUND)
        fprintf(stderr, "Error from server (NotFound): %s not found\n", what);
    else
        fprintf(stderr, "Error from server (%s): %s: HTTP %ld\n", reason, what, r->http_status);
}

json_t *pgw_plugin_get_cluster(struct pgw_plugin *p, const char *name)
{
    struct pgw_kresult r;
    pgw_kclient_get(p->client, pgw_resource_find("PostgresCluster"), p->ns, name, &r);
    if (r.outcome == PGW_K_NOT_FOUND) {
        fprintf(stderr, "error: cluster \"%s\" not found in namespace \"%s\"\n", name, p->ns);
        pgw_kresult_dispose(&r);
        return NULL;
    }
    if (r.outcome != PGW_K_OK) {
        char *what = pgw_asprintf("postgrescluster \"%s\"", name);
        pgw_plugin_report(p, &r, what);
        free(what);
        pgw_kresult_dispose(&r);
        return NULL;
    }
    json_t *cluster = json_incref(r.body);
    pgw_kresult_dispose(&r);
    return cluster;
}

json_t *pgw_plugin_list_pods(struct pgw_plugin *p, const char *cluster)
{
    char *selector = pgw_asprintf("%s=%s", PGW_POD_LABEL_CLUSTER, cluster);
    struct pgw_klist_options lo = {.label_selector = selector};
    struct pgw_kresult r;
    pgw_kclient_list_all(p->client, pgw_resource_find("Pod"), p->ns, &lo, &r);
    free(selector);
    json_t *items = NULL;
    if (r.outcome == PGW_K_OK)
        items = json_incref(json_object_get(r.body, "items"));
    else
        pgw_plugin_report(p, &r, "pods");
    pgw_kresult_dispose(&r);
    if (items != NULL && !json_is_array(items)) {
        json_decref(items);
        items = json_array();
    }
    return items;
}

char *pgw_plugin_leader(struct pgw_plugin *p, const char *cluster)
{
    struct pgw_kresult r;
    pgw_kclient_get(p->client, pgw_resource_find("Endpoints"), p->ns, cluster, &r);
    const char *leader = NULL;
    if (r.outcome == PGW_K_OK)
        leader =
            json_string_value(json_object_get(json_object_get(pgw_obj_meta(r.body), "annotations"), PGW_PATRONI_LEADER_ANNOTATION));
    char *out = leader != NULL && leader[0] != '\0' ? pgw_strdup(leader) : NULL;
    pgw_kresult_dispose(&r);
    return out;
}

const json_t *pgw_plugin_primary_pod(const char *leader, const json_t *cluster, const json_t *pods)
{
    const char *previous = pgw_obj_str_at(cluster, "status.primary");
    return pgw_obj_find_by_meta_name(pods, pgw_primary_pick(leader, pods, previous));
}

int pgw_plugin_annotate_cluster(struct pgw_plugin *p, const char *cluster, const char *annotation, const char *value)
{
    json_t *patch = pgw_action_annotation_patch(annotation, value);
    struct pgw_kresult r;
    pgw_kclient_patch(p->client, pgw_resource_find("PostgresCluster"), p->ns, cluster, NULL, PGW_PATCH_MERGE, patch, &r);
    json_decref(patch);
    int rc = 0;
    if (r.outcome == PGW_K_NOT_FOUND) {
        fprintf(stderr, "error: cluster \"%s\" not found in namespace \"%s\"\n", cluster, p->ns);
        rc = 1;
    } else if (r.outcome != PGW_K_OK) {
        char *what = pgw_asprintf("postgrescluster \"%s\"", cluster);
        pgw_plugin_report(p, &r, what);
        free(what);
        rc = 1;
    }
    pgw_kresult_dispose(&r);
    return rc;
}

json_t *pgw_plugin_wait_phase(struct pgw_plugin *p, const char *kind, const char *name, double timeout)
{
    char *said = NULL; /* the phase and message shown last */
    json_t *done = NULL;
    for (double waited = 0;; waited += 1) {
        struct pgw_kresult r;
        pgw_kclient_get(p->client, pgw_resource_find(kind), p->ns, name, &r);
        if (r.outcome != PGW_K_OK) {
            pgw_plugin_report(p, &r, name);
            pgw_kresult_dispose(&r);
            break;
        }
        const char *phase = pgw_obj_str_at(r.body, "status.phase");
        if (phase != NULL && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)) {
            done = json_incref(r.body);
            pgw_kresult_dispose(&r);
            break;
        }
        /* Progress on stderr, once per change: a backup waiting for its cluster says why. */
        const char *message = pgw_obj_str_at(r.body, "status.message");
        char *now =
            pgw_asprintf("%s%s%s", phase != NULL ? phase : "Pending", message != NULL ? ": " : "", message != NULL ? message : "");
        if (said == NULL || strcmp(said, now) != 0)
            fprintf(stderr, "%s %s: %s\n", kind, name, now);
        free(said);
        said = now;
        pgw_kresult_dispose(&r);
        if (timeout > 0 && waited >= timeout) {
            fprintf(stderr, "error: %s %s: not done after %.0f s\n", kind, name, timeout);
            break;
        }
        struct timespec ts = {.tv_sec = 1};
        nanosleep(&ts, NULL);
    }
    free(said);
    return done;
}

int pgw_plugin_create(struct pgw_plugin *p, const char *kind, const json_t *obj)
{
    struct pgw_kresult r;
    pgw_kclient_create(p->client, pgw_resource_find(kind), p->ns, obj, &r);
    int rc = 0;
    if (r.outcome != PGW_K_OK) {
        pgw_plugin_report(p, &r, pgw_obj_meta_str(obj, "name"));
        rc = 1;
    }
    pgw_kresult_dispose(&r);
    return rc;
}
