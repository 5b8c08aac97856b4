/*
 * Where the API server is and how to authenticate to it (DESIGN.md §6).
 *
 * Two sources, as client-go's clientcmd: the in-cluster environment
 * (KUBERNETES_SERVICE_HOST/PORT plus the service-account directory with
 * token, ca.crt and namespace) or a kubeconfig file's current context
 * (cluster: server, certificate-authority[-data], insecure-skip-tls-verify;
 * user: client-certificate[-data], client-key[-data], token, tokenFile).
 * Relative paths in a kubeconfig are resolved against its directory. exec and
 * auth-provider plugins are refused with a clear error rather than ignored.
 *
 * The struct owns every string; pgw_kubeconfig_dispose frees them. *_data
 * fields hold decoded PEM bytes (NUL-terminated, length in *_len).
 */
#ifndef PGW_CONTROLLER_KUBE_KUBECONFIG_H
#define PGW_CONTROLLER_KUBE_KUBECONFIG_H

#include <stddef.h>

#define PGW_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct pgw_kubeconfig {
    char *server; /* "https://host:port", no trailing slash */
    char *ca_file;
    char *ca_data;
    size_t ca_data_len;
    int insecure_skip_tls_verify;
    char *client_cert_file, *client_key_file;
    char *client_cert_data, *client_key_data;
    size_t client_cert_data_len, client_key_data_len;
    char *token;      /* a fixed token (secret: never log) */
    char *token_file; /* re-read by controller/kube/token.h */
    char *namespace_; /* context namespace or the pod's namespace; "default" otherwise */
};

void pgw_kubeconfig_dispose(struct pgw_kubeconfig *kc);

/*
 * In-cluster configuration. sa_dir: NULL for PGW_SERVICEACCOUNT_DIR. Returns 0,
 * or -1 with *err (caller frees) naming what is missing; *kc is then empty.
 */
int pgw_kubeconfig_in_cluster(struct pgw_kubeconfig *kc, const char *sa_dir, char **err);

/* A kubeconfig file; context NULL uses current-context. 0, or -1 with *err. */
int pgw_kubeconfig_load_file(struct pgw_kubeconfig *kc, const char *path, const char *context, char **err);

/* The same from kubeconfig text; base_dir resolves relative paths. */
int pgw_kubeconfig_parse(struct pgw_kubeconfig *kc, const char *text, size_t len, const char *base_dir, const char *context,
                         char **err);

/*
 * What `pgwarden serve` uses: the explicit path if given, else in-cluster if
 * KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG (first entry). Returns 0,
 * 1 when there is no configuration at all (no controller), or -1 with *err.
 */
int pgw_kubeconfig_load(struct pgw_kubeconfig *kc, const char *path, char **err);

/*
 * kubectl's lookup, for the kubectl plugin: `path` (--kubeconfig) if given; else every file of
 * $KUBECONFIG (colon-separated; missing ones skipped) merged as kubectl merges them (the first file to
 * set current-context, or to define a cluster, user or context of a name, wins; relative paths resolve
 * against the file that holds them); else ~/.kube/config; else in-cluster. context NULL: current-context.
 * Returns 0, 1 when there is no configuration at all, or -1 with *err.
 */
int pgw_kubeconfig_load_kubectl(struct pgw_kubeconfig *kc, const char *path, const char *context, char **err);
/* The merge of the files in `paths` (colon-separated), as above. 0, or -1 with *err. */
int pgw_kubeconfig_load_merged(struct pgw_kubeconfig *kc, const char *paths, const char *context, char **err);

#endif
