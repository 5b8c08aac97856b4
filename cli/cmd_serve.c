/*
 * `pgwarden serve`: the webhook and the controller in one process.
 *
 * The main thread owns signals and certificates: it blocks SIGTERM, SIGINT and
 * SIGHUP before any thread starts (the controller's threads included), then waits for them with a timeout equal to
 * the certificate poll period. A timeout polls (and, for self-managed
 * certificates, renews) the files; SIGHUP reloads at once; SIGTERM drains.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server.h"
#include "certs/certs.h"
#include "certs/upkeep/shared_ca.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xalloc.h"
#include "controller/controller.h"
#include "controller/kube/kclient.h"
#include "controller/kube/kubeconfig.h"
#include "webhook/server.h"
#include "webhook/tls.h"

static void usage(void)
{
    printf("usage: pgwarden serve [options]\n\n"
           "Serves the admission webhook over HTTPS, and /healthz, /readyz and /metrics over HTTP.\n"
           "Serves the REST API (/api/v1/) and the web UI (/ui/) over HTTPS on their own port.\n"
           "With no certificate in --cert-dir, generates a CA and serving certificate there\n"
           "and renews them when a third of their lifetime remains.\n\n"
           "  --listen ADDR          webhook address (default 0.0.0.0:9443)\n"
           "  --health-listen ADDR   health and metrics address (default 0.0.0.0:8080)\n"
           "  --api-listen ADDR      REST API and web UI address, HTTPS (default 0.0.0.0:9444; \"off\" disables)\n"
           "  --cert-dir DIR         tls.crt and tls.key (default /var/run/pgwarden/certs)\n"
           "  --config FILE          YAML or JSON configuration file\n"
           "  --controller MODE      auto|on|off (default auto)\n"
           "  --kubeconfig FILE      Kubernetes client configuration for the controller\n"
           "  --client-ca FILE       require client certificates signed by this CA (mTLS)\n"
           "  --service NAME         service name for generated certificates (default pgwarden-webhook)\n"
           "  --namespace NS         namespace for generated certificates (default pgwarden-system)\n"
           "  --threads N            event loops (default: one per core)\n"
           "  --log-level LEVEL      debug|info|warn|error (default info)\n"
           "\nEvery setting can also come from PGWARDEN_* variables or the config file; flags win.\n");
}

/*
 * The API's own client when a Kubernetes API is configured (in-cluster,
 * --kubeconfig or $KUBECONFIG), whether or not the controller runs: no write
 * gate (it acts for people, not as the controller), a rate high enough for
 * people and the benchmark. NULL: local mode.
 */
static struct pgw_kclient *api_client(const struct pgw_config *cfg)
{
    struct pgw_kubeconfig kc;
    char *err = NULL;
    struct pgw_kclient *client = NULL;
    /* Its own User-Agent: the Kubernetes API names it as the field manager of what people write here, apart
     * from the controller's "pgwarden" in managedFields. */
    struct pgw_kclient_options opts = {
        .qps = 1000, .burst = 2000, .timeout = cfg->kube_api_timeout_ms / 1e3, .user_agent = "pgwarden-api/" PGW_VERSION};
    int rc = pgw_kubeconfig_load(&kc, cfg->kubeconfig, &err);
    if (rc == 0)
        client = pgw_kclient_new(&kc, &opts, &err);
    if (client == NULL && rc != 1)
        pgw_log(PGW_LOG_WARN, "no Kubernetes client for the API: local mode",
                pgw_json_pack("{s:s}", "error", err != NULL ? err : "unknown"));
    free(err);
    pgw_kubeconfig_dispose(&kc);
    return client;
}

/* The controller reports whether our webhook configurations carry our CA: that is readiness. */
static void on_ready(void *ctx, int ready)
{
    pgw_server_set_ready(ctx, ready);
}

/* Adopts (or publishes) the shared webhook CA; logs the outcome. Returns what pgw_shared_ca_sync returns. */
static int sync_shared_ca(struct pgw_kclient *client, const struct pgw_config *cfg, const struct pgw_certs_options *opts)
{
    char *name = pgw_asprintf("%s-ca", cfg->service_name), *err = NULL;
    int rc = pgw_shared_ca_sync(client, cfg->operator_namespace, name, cfg->cert_dir, opts, &err);
    if (rc < 0)
        pgw_log(PGW_LOG_ERROR, "cannot share the webhook CA", pgw_json_pack("{s:s,s:s}", "secret", name, "error", err));
    else if (rc > 0)
        pgw_log(PGW_LOG_INFO, "adopted the shared webhook CA",
                pgw_json_pack("{s:s,s:s}", "secret", name, "namespace", cfg->operator_namespace));
    free(err);
    free(name);
    return rc;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int pgw_cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 0},     {"health-listen", required_argument, NULL, 0},
        {"cert-dir", required_argument, NULL, 0},   {"config", required_argument, NULL, 0},
        {"controller", required_argument, NULL, 0}, {"kubeconfig", required_argument, NULL, 0},
        {"client-ca", required_argument, NULL, 0},  {"service", required_argument, NULL, 0},
        {"namespace", required_argument, NULL, 0},  {"threads", required_argument, NULL, 0},
        {"log-level", required_argument, NULL, 0},  {"api-listen", required_argument, NULL, 0},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    static const char *const keys[] = {"listen",       "healthListen", "certDir",           NULL,      "controller", "kubeconfig",
                                       "clientCAFile", "serviceName",  "operatorNamespace", "threads", "logLevel",   "apiListen"};
    struct pgw_config cfg;
    int parsed = pgw_cli_parse_settings("serve", argc, argv, longopts, keys, &cfg);
    if (parsed != 0) {
        if (parsed > 0)
            usage();
        return parsed > 0 ? 0 : 2;
    }
    int rc = 2;

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = 1;
    char *cert_file = pgw_asprintf("%s/tls.crt", cfg.cert_dir), *key_file = pgw_asprintf("%s/tls.key", cfg.cert_dir);
    char *ca_key_file = pgw_asprintf("%s/ca.key", cfg.cert_dir), *ca_file = pgw_asprintf("%s/ca.crt", cfg.cert_dir);
    /* Self-managed: we generate when nothing is there, and keep renewing what we generated. */
    int self_managed = !file_exists(cert_file) || file_exists(ca_key_file);
    struct pgw_certs_options cert_opts = {
        .service = cfg.service_name, .namespace = cfg.operator_namespace, .ca_days = 3650, .leaf_days = 365};
    struct pgw_tls_store *store = NULL;
    struct pgw_server *server = NULL;
    struct pgw_kclient *ca_client = NULL, *client_for_api = NULL;
    struct pgw_api_server *api = NULL;
    char *err = NULL;
    int changed = 0;
    /* With a Kubernetes API, replicas share one CA through a Secret so one caBundle trusts them all. */
    int wanted = pgw_cli_controller_wanted(&cfg);
    if (wanted < 0)
        goto done;
    if (self_managed && wanted && (ca_client = pgw_cli_kube_client(&cfg)) == NULL)
        goto done;
    if (self_managed) {
        mkdir(cfg.cert_dir, 0700);
        if (ca_client != NULL && sync_shared_ca(ca_client, &cfg, &cert_opts) < 0)
            goto done;
        if (pgw_certs_ensure(cfg.cert_dir, &cert_opts, &changed, &err) != 0) {
            pgw_log(PGW_LOG_ERROR, "cannot prepare certificates", pgw_json_pack("{s:s,s:s}", "dir", cfg.cert_dir, "error", err));
            goto done;
        }
        if (changed)
            pgw_log(PGW_LOG_INFO, "generated certificates", pgw_json_pack("{s:s}", "dir", cfg.cert_dir));
    }
    store = pgw_tls_store_new(cert_file, key_file);
    if (pgw_tls_store_reload(store, 1, &err) < 0) {
        pgw_log(PGW_LOG_ERROR, "cannot load the serving certificate", pgw_json_pack("{s:s}", "error", err));
        goto done;
    }
    pgw_metrics_set_cert_expiry(pgw_tls_store_not_after(store));
    if ((server = pgw_server_start(&cfg, store, &err)) == NULL) {
        pgw_log(PGW_LOG_ERROR, "cannot start the server", pgw_json_pack("{s:s}", "error", err));
        goto done;
    }
    pgw_log(PGW_LOG_INFO, "serving",
            pgw_json_pack("{s:s,s:i,s:s,s:i,s:s,s:s}", "listen", cfg.listen, "port", pgw_server_port(server), "healthListen",
                          cfg.health_listen, "healthPort", pgw_server_health_port(server), "caFile",
                          self_managed ? ca_file : "(managed outside pgwarden)", "version", PGW_VERSION));
    if (pgw_config_api_enabled(&cfg)) {
        client_for_api = api_client(&cfg);
        /* The session keys' Secret is read at start only where the operator runs for real. */
        if ((api = pgw_api_server_start(&cfg, store, client_for_api, wanted, &err)) == NULL) {
            pgw_log(PGW_LOG_ERROR, "cannot start the API server", pgw_json_pack("{s:s}", "error", err));
            goto done;
        }
        pgw_log(PGW_LOG_INFO, "serving the API and web UI",
                pgw_json_pack("{s:s,s:i,s:b}", "apiListen", cfg.api_listen, "port", pgw_api_server_port(api), "kubernetes",
                              client_for_api != NULL));
    }
    struct pgw_controller *controller = NULL;
    if (pgw_cli_controller_start(&cfg, file_exists(ca_file) ? ca_file : NULL, on_ready, server, &controller) != 0)
        goto done;
    if (controller == NULL)
        pgw_server_set_ready(server, 1);

    for (;;) {
        struct timespec wait = {cfg.cert_poll_ms / 1000, (long)(cfg.cert_poll_ms % 1000) * 1000000L};
        int sig = sigtimedwait(&signals, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            pgw_log(PGW_LOG_INFO, "shutting down", pgw_json_pack("{s:s}", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
            break;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (self_managed && sig < 0) {
            if (ca_client != NULL)
                sync_shared_ca(ca_client, &cfg, &cert_opts);
            if (pgw_certs_ensure(cfg.cert_dir, &cert_opts, &changed, &err) != 0) {
                pgw_log(PGW_LOG_ERROR, "certificate renewal failed", pgw_json_pack("{s:s}", "error", err));
                free(err);
                err = NULL;
            } else if (changed) {
                pgw_log(PGW_LOG_INFO, "renewed certificates", pgw_json_pack("{s:s}", "dir", cfg.cert_dir));
            }
        }
        int r = pgw_tls_store_reload(store, sig == SIGHUP, &err);
        if (r < 0) {
            pgw_log(PGW_LOG_ERROR, "rejected new certificate; keeping the current one", pgw_json_pack("{s:s}", "error", err));
            free(err);
            err = NULL;
        } else if (r > 0) {
            pgw_metrics_set_cert_expiry(pgw_tls_store_not_after(store));
            pgw_log(PGW_LOG_INFO, "loaded new certificate", pgw_json_pack("{s:s}", "file", cert_file));
        }
    }
    pgw_controller_stop(controller);
    controller = NULL;
    if (api != NULL)
        pgw_api_server_stop(api);
    api = NULL;
    pgw_server_stop(server);
    server = NULL;
    pgw_log(PGW_LOG_INFO, "stopped", NULL);
    rc = 0;
done:
    if (api != NULL)
        pgw_api_server_stop(api);
    if (server != NULL)
        pgw_server_stop(server);
    pgw_kclient_free(client_for_api);
    free(err);
    pgw_kclient_free(ca_client);
    pgw_tls_store_free(store);
    free(cert_file);
    free(key_file);
    free(ca_key_file);
    free(ca_file);
    pgw_config_dispose(&cfg);
    return rc;
}
