/*
 * `pgwarden controller` (the controller alone), and the controller start
 * shared with `pgwarden serve --controller auto|on|off`:
 *   off   never;
 *   on    always: a missing or broken Kubernetes configuration is an error;
 *   auto  when running in a cluster (KUBERNETES_SERVICE_HOST) or when
 *         --kubeconfig is given.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "controller/controller.h"
#include "controller/kube/kclient.h"
#include "controller/kube/kubeconfig.h"

int pgw_cli_controller_wanted(const struct pgw_config *cfg)
{
    const char *mode = cfg->controller_mode != NULL ? cfg->controller_mode : "auto";
    if (strcmp(mode, "off") == 0)
        return 0;
    if (strcmp(mode, "auto") == 0)
        return cfg->kubeconfig != NULL || getenv("KUBERNETES_SERVICE_HOST") != NULL;
    if (strcmp(mode, "on") == 0)
        return 1;
    fprintf(stderr, "pgwarden: --controller must be auto, on or off (got \"%s\")\n", mode);
    return -1;
}

struct pgw_kclient *pgw_cli_kube_client(const struct pgw_config *cfg)
{
    struct pgw_kubeconfig kc;
    char *err = NULL;
    struct pgw_kclient *client = NULL;
    if (pgw_kubeconfig_load(&kc, cfg->kubeconfig, &err) == 0)
        client = pgw_kclient_new(&kc, NULL, &err);
    if (client == NULL) {
        pgw_log(PGW_LOG_ERROR, "no Kubernetes client",
                pgw_json_pack("{s:s}", "error", err != NULL ? err : "no in-cluster environment, --kubeconfig or $KUBECONFIG"));
        free(err);
    }
    pgw_kubeconfig_dispose(&kc);
    return client;
}

int pgw_cli_controller_start(const struct pgw_config *cfg, const char *ca_file, void (*on_ready)(void *, int), void *ready_ctx,
                             struct pgw_controller **out)
{
    *out = NULL;
    int wanted = pgw_cli_controller_wanted(cfg);
    if (wanted <= 0)
        return wanted;
    struct pgw_kubeconfig kc;
    char *err = NULL;
    int rc = pgw_kubeconfig_load(&kc, cfg->kubeconfig, &err);
    if (rc != 0) {
        pgw_log(PGW_LOG_ERROR, "no Kubernetes configuration for the controller",
                pgw_json_pack("{s:s}", "error", err != NULL ? err : "no in-cluster environment, --kubeconfig or $KUBECONFIG"));
        free(err);
        pgw_kubeconfig_dispose(&kc);
        return -1;
    }
    struct pgw_controller_options opts = {.config = cfg,
                                          .kube = &kc,
                                          .workers = (int)cfg->controller_workers,
                                          .ca_file = ca_file,
                                          .mutating_webhooks = cfg->mutating_webhooks,
                                          .validating_webhooks = cfg->validating_webhooks,
                                          .on_ready = on_ready,
                                          .ready_ctx = ready_ctx};
    *out = pgw_controller_start(&opts, &err);
    pgw_kubeconfig_dispose(&kc);
    if (*out == NULL) {
        pgw_log(PGW_LOG_ERROR, "cannot start the controller", pgw_json_pack("{s:s}", "error", err != NULL ? err : "unknown"));
        free(err);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    printf("usage: pgwarden controller [options]\n\n"
           "Runs the controller alone (no webhook): watches PostgresClusters and reconciles\n"
           "their children and status while holding the leader Lease.\n\n"
           "  --kubeconfig FILE   Kubernetes client configuration (default: in-cluster, then $KUBECONFIG)\n"
           "  --config FILE       YAML or JSON configuration file\n"
           "  --namespace NS      operator namespace, where the leader Lease lives (default pgwarden-system)\n"
           "  --workers N         reconcile workers (default 4)\n"
           "  --log-level LEVEL   debug|info|warn|error (default info)\n");
}

int pgw_cmd_controller(int argc, char **argv)
{
    static const struct option longopts[] = {{"kubeconfig", required_argument, NULL, 0},
                                             {"config", required_argument, NULL, 0},
                                             {"namespace", required_argument, NULL, 0},
                                             {"workers", required_argument, NULL, 0},
                                             {"log-level", required_argument, NULL, 0},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    static const char *const keys[] = {"kubeconfig", NULL, "operatorNamespace", "controllerWorkers", "logLevel"};
    struct pgw_config cfg;
    int parsed = pgw_cli_parse_settings("controller", argc, argv, longopts, keys, &cfg);
    if (parsed != 0) {
        if (parsed > 0)
            usage();
        return parsed > 0 ? 0 : 2;
    }
    int rc = 1;
    char *ignored = NULL;
    pgw_config_set(&cfg, "controller", "on", &ignored);
    free(ignored);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct pgw_controller *ctrl = NULL;
    if (pgw_cli_controller_start(&cfg, NULL, NULL, NULL, &ctrl) != 0)
        goto out;
    int sig = 0;
    sigwait(&signals, &sig);
    pgw_log(PGW_LOG_INFO, "shutting down", pgw_json_pack("{s:s}", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    pgw_controller_stop(ctrl);
    pgw_log(PGW_LOG_INFO, "stopped", NULL);
    rc = 0;
out:
    pgw_config_dispose(&cfg);
    return rc;
}
