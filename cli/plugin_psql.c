/*
 * `kubectl pgwarden psql CLUSTER [--replica] [-- psql args]`: runs the local
 * psql connected to the primary (or a replica), as the application owner
 * (Secret <cluster>-app) or, with --superuser, as postgres
 * (<cluster>-superuser).
 *
 * It connects to the pod's IP: a ClusterIP only routes inside the cluster,
 * and the pod network is what a shell on a node or in a pod reaches. From
 * outside the cluster network, forward a port first and pass --host:
 *     kubectl port-forward pod/main-0 5432 &  kubectl pgwarden psql main --host 127.0.0.1
 * The password goes to psql in PGPASSWORD, libpq's own way, and is never
 * printed or put on a command line (ps shows command lines to every user).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/plugin.h"
#include "common/base64.h"
#include "common/object.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/kube/kclient.h"
#include "specs/operations.h"
#include "specs/pod_layout.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: kubectl pgwarden psql CLUSTER [--replica | --instance NAME] [--superuser] [--pooler]\n"
                "                             [--host HOST] [--port PORT] [--dbname DB] [-- PSQL_ARGS...]\n\n"
                "Runs psql connected to the cluster's primary, or with --replica to a ready replica (or the\n"
                "instance named), as the application owner (Secret CLUSTER-app) or with --superuser as\n"
                "postgres (Secret CLUSTER-superuser). The password is handed over in PGPASSWORD, never shown.\n"
                "--pooler connects through the instance's PgBouncer (6432). It connects to the pod's IP; from\n"
                "outside the cluster network run `kubectl port-forward pod/POD 5432` and add --host 127.0.0.1.\n"
                "Arguments after -- go to psql, e.g. -- -c 'SELECT 1'.\n");
}

/* A key of a Secret, decoded (caller frees; zero it), or NULL after printing why. */
static char *secret_value(struct pgw_plugin *p, const char *secret, const char *key)
{
    struct pgw_kresult r;
    pgw_kclient_get(p->client, pgw_resource_find("Secret"), p->ns, secret, &r);
    char *value = NULL;
    if (r.outcome != PGW_K_OK) {
        char *what = pgw_asprintf("secret \"%s\"", secret);
        pgw_plugin_report(p, &r, what);
        free(what);
    } else {
        const char *b64 = json_string_value(json_object_get(json_object_get(r.body, "data"), key));
        size_t len = 0;
        if (b64 != NULL)
            value = pgw_base64_decode(b64, &len);
        if (value == NULL)
            fprintf(stderr, "error: secret \"%s\" has no key \"%s\"\n", secret, key);
    }
    pgw_kresult_dispose(&r);
    return value;
}

/* The pod to connect to (borrowed from pods), or NULL after printing why. */
static const json_t *pick(const char *cluster, const json_t *primary, const json_t *pods, int replica, const char *instance)
{
    size_t i;
    json_t *pod;
    if (instance != NULL) {
        const json_t *named = pgw_obj_find_by_meta_name(pods, instance);
        if (named != NULL)
            return named;
        fprintf(stderr, "error: cluster \"%s\" has no instance \"%s\"\n", cluster, instance);
        return NULL;
    }
    if (!replica) {
        if (primary == NULL)
            fprintf(stderr, "error: cluster \"%s\" has no primary now (see kubectl pgwarden status %s)\n", cluster, cluster);
        return primary;
    }
    json_array_foreach(pods, i, pod)
    {
        const char *n = pgw_obj_meta_str(pod, "name");
        if (pod != primary && n != NULL && pgw_instance_ordinal(cluster, n) >= 0 && pgw_pod_is_ready(pod))
            return pod;
    }
    fprintf(stderr, "error: cluster \"%s\" has no ready replica\n", cluster);
    return NULL;
}

int pgw_plugin_psql(struct pgw_plugin *p, int argc, char **argv)
{
    enum { OPT_REPLICA = 256, OPT_INSTANCE, OPT_SUPERUSER, OPT_POOLER, OPT_HOST, OPT_PORT, OPT_DBNAME };
    static const struct option longopts[] = {
        {"replica", no_argument, NULL, OPT_REPLICA},
        {"instance", required_argument, NULL, OPT_INSTANCE},
        {"superuser", no_argument, NULL, OPT_SUPERUSER},
        {"pooler", no_argument, NULL, OPT_POOLER},
        {"host", required_argument, NULL, OPT_HOST},
        {"port", required_argument, NULL, OPT_PORT},
        {"dbname", required_argument, NULL, OPT_DBNAME},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int replica = 0, superuser = 0, pooler = 0, c;
    const char *instance = NULL, *host = NULL, *port = NULL, *dbname = NULL;
    optind = 0; /* GNU getopt: options may follow the cluster's name; it stops at "--" */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_REPLICA:
            replica = 1;
            break;
        case OPT_INSTANCE:
            instance = optarg;
            break;
        case OPT_SUPERUSER:
            superuser = 1;
            break;
        case OPT_POOLER:
            pooler = 1;
            break;
        case OPT_HOST:
            host = optarg;
            break;
        case OPT_PORT:
            port = optarg;
            break;
        case OPT_DBNAME:
            dbname = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    /* What is left: the cluster's name, then psql's arguments (those after "--"). */
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[optind++];
    if (superuser && pooler) {
        fprintf(stderr, "error: --pooler connects as the application owner (PgBouncer does not pass postgres through)\n");
        return 2;
    }

    json_t *cluster = pgw_plugin_get_cluster(p, name);
    if (cluster == NULL)
        return 1;
    json_t *pods = pgw_plugin_list_pods(p, name);
    char *leader = pods != NULL ? pgw_plugin_leader(p, name) : NULL;
    const json_t *pod = pods != NULL ? pick(name, pgw_plugin_primary_pod(leader, cluster, pods), pods, replica, instance) : NULL;
    const char *ip = pgw_obj_str_at(pod, "status.podIP");
    int rc = 1;
    char *secret = NULL, *user = NULL, *password = NULL, *db = NULL, *conninfo = NULL;
    if (pod == NULL)
        goto done;
    if (host == NULL && ip == NULL) {
        fprintf(stderr, "error: pod \"%s\" has no IP yet\n", pgw_obj_meta_str(pod, "name"));
        goto done;
    }
    secret = pgw_obj_child_name(name, superuser ? PGW_SUFFIX_SUPERUSER : PGW_SUFFIX_APP);
    if ((user = secret_value(p, secret, "username")) == NULL || (password = secret_value(p, secret, "password")) == NULL)
        goto done;
    if (dbname == NULL && !superuser)
        db = secret_value(p, secret, "dbname"); /* the Secret names the application's database */
    if (dbname == NULL && db == NULL)
        db = pgw_strdup(superuser ? "postgres" : "app");
    conninfo = pgw_asprintf("host=%s port=%s dbname=%s user=%s sslmode=require application_name=kubectl-pgwarden",
                            host != NULL ? host : ip,
                            port != NULL ? port
                            : pooler     ? "6432"
                                         : "5432",
                            dbname != NULL ? dbname : db, user);
    setenv("PGPASSWORD", password, 1);
    char **args = pgw_calloc((size_t)(argc - optind) + 3, sizeof(char *));
    args[0] = "psql";
    args[1] = conninfo;
    for (int i = optind; i < argc; ++i)
        args[2 + i - optind] = argv[i];
    fflush(NULL);
    execvp("psql", args);
    fprintf(stderr, "error: psql: %s (install the PostgreSQL client)\n", strerror(errno));
    free(args);
done:
    if (password != NULL)
        memset(password, 0, strlen(password));
    free(password);
    free(user);
    free(db);
    free(secret);
    free(conninfo);
    free(leader);
    json_decref(pods);
    json_decref(cluster);
    return rc;
}
