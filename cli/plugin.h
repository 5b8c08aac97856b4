/*
 * The kubectl plugin (docs/plugin.md): `kubectl pgwarden <command>`, which is
 * this binary run as `kubectl-pgwarden` (kubectl finds plugins on PATH by that
 * name), or `pgwarden plugin <command>`.
 *
 * Every command reads and writes the same objects a user would with kubectl
 * and YAML (a PostgresBackup, a PostgresRestore, an annotation on the
 * PostgresCluster), through the project's own Kubernetes client with the
 * user's kubeconfig, so RBAC and admission decide exactly as for kubectl.
 */
#ifndef PGW_CLI_PLUGIN_H
#define PGW_CLI_PLUGIN_H

#include <stdio.h>
#include <jansson.h>

#define PGW_PLUGIN_NAME "kubectl-pgwarden"

/* kubectl's flags, taken wherever they stand before "--" (kubectl passes a plugin every word after its name). */
struct pgw_plugin_globals {
    const char *kubeconfig; /* --kubeconfig */
    const char *context;    /* --context */
    const char *namespace_; /* -n, --namespace */
    const char *output;     /* -o, --output: "json" or NULL */
};

/*
 * Removes the global flags from argv (argv[0] stays) and fills g, pointing
 * into argv; *argc shrinks. Words after "--" are left alone. Returns 0, or
 * -1 with *err (static text) when a flag lacks its value or -o is not json.
 * Pure; unit-tested.
 */
int pgw_plugin_take_globals(int *argc, char **argv, struct pgw_plugin_globals *g, const char **err);

struct pgw_kclient;
struct pgw_kresult;

/* What every command gets: a client for the chosen context and the namespace to work in. */
struct pgw_plugin {
    struct pgw_kclient *client;
    char *ns; /* -n, else the context's namespace, else "default" */
    const char *output;
    const char *command;                      /* for messages: "status", "backup"... */
    const struct pgw_plugin_globals *globals; /* as given, for a kubectl run on the user's behalf */
};

/* The entry point for `kubectl-pgwarden ARGS` and `pgwarden plugin ARGS` (argv[0] is the program or "plugin"). */
int pgw_cmd_plugin(int argc, char **argv);

/* Prints "error: ..." for a failed API call the way kubectl does: the Status message verbatim
 * (admission denials included), or what NotFound/Forbidden mean. `what` names the object. */
void pgw_plugin_report(const struct pgw_plugin *p, const struct pgw_kresult *r, const char *what);

/* The cluster object (new reference), or NULL after printing why (not found, forbidden...). */
json_t *pgw_plugin_get_cluster(struct pgw_plugin *p, const char *name);

/* The cluster's pods (the `items` array, new reference), or NULL after printing why. */
json_t *pgw_plugin_list_pods(struct pgw_plugin *p, const char *cluster);

/* Patroni's leader key (the `leader` annotation of the `<cluster>` Endpoints), or NULL. Caller frees. */
char *pgw_plugin_leader(struct pgw_plugin *p, const char *cluster);
/* The primary's pod (borrowed from pods) as the controller decides it (decide/primary.h): the leader key
 * (may be NULL), else the role label, else status.primary. NULL when none is known. */
const json_t *pgw_plugin_primary_pod(const char *leader, const json_t *cluster, const json_t *pods);

/* 1 when argv holds -h or --help before any "--". */
int pgw_plugin_wants_help(int argc, char **argv);

/* Sets `annotation` to `value` on the cluster with a merge patch; prints the admission denial verbatim. */
int pgw_plugin_annotate_cluster(struct pgw_plugin *p, const char *cluster, const char *annotation, const char *value);

/* Creates obj (a whole object; borrowed) in the namespace; prints the API's answer verbatim when refused. 0 or 1. */
int pgw_plugin_create(struct pgw_plugin *p, const char *kind, const json_t *obj);

/* Polls a PostgresBackup or PostgresRestore every second until its phase is Succeeded or Failed, and
 * returns it (new reference); NULL after printing why (gone, forbidden, timeout seconds passed; 0: none). */
json_t *pgw_plugin_wait_phase(struct pgw_plugin *p, const char *kind, const char *name, double timeout);

/* The commands; argv[0] is the command's name. Return the exit code (0, 1 failed, 2 usage). */
int pgw_plugin_status(struct pgw_plugin *p, int argc, char **argv);
int pgw_plugin_psql(struct pgw_plugin *p, int argc, char **argv);
int pgw_plugin_backup(struct pgw_plugin *p, int argc, char **argv);
int pgw_plugin_restore(struct pgw_plugin *p, int argc, char **argv);
int pgw_plugin_switchover(struct pgw_plugin *p, int argc, char **argv);
int pgw_plugin_restart(struct pgw_plugin *p, int argc, char **argv);
int pgw_plugin_logs(struct pgw_plugin *p, int argc, char **argv);

/*
 * The status screen, pure (cli/plugin_status_view.c; unit-tested from JSON fixtures). The summary itself is
 * pgw_cluster_summary (controller/decide/summary.h), shared with the API; its shape is what `status -o json` prints.
 */
/* Writes the summary as aligned text, kubectl-style. */
void pgw_plugin_status_print(FILE *fp, const json_t *summary);
/* "1.5 MiB", "0 B": a byte count for people, into buf. */
const char *pgw_plugin_format_bytes(long long bytes, char *buf, size_t bufsize);

#endif
