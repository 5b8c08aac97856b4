/*
 * kubectl's kubeconfig lookup for the kubectl plugin (controller/kube/kubeconfig.c,
 * pgw_kubeconfig_load_kubectl and pgw_kubeconfig_load_merged): --kubeconfig, the
 * files of $KUBECONFIG merged as kubectl merges them, ~/.kube/config, in-cluster;
 * --context; relative paths against the file that names them.
 */
#include "helpers.h"

#include <sys/stat.h>
#include <unistd.h>

#include "controller/kube/kubeconfig.h"

/* Writes dir/name (directories included). */
static void put(const char *dir, const char *name, const char *content)
{
    char *path = pgw_asprintf("%s/%s", dir, name);
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0700);
        *slash = '/';
    }
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(content, fp);
    fclose(fp);
    free(path);
}

/* The first file: current-context "dev", clusters dev and shared, user dev (a client certificate by relative path). */
static const char first[] = "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
                            "clusters:\n"
                            "- {name: dev, cluster: {server: 'https://dev:6443', certificate-authority: ca/dev.crt}}\n"
                            "- {name: shared, cluster: {server: 'https://first:6443'}}\n"
                            "users:\n"
                            "- {name: dev, user: {client-certificate: dev.crt, client-key: /abs/dev.key}}\n"
                            "contexts:\n"
                            "- {name: dev, context: {cluster: dev, user: dev, namespace: team}}\n";

/* The second: its own current-context (ignored: the first file set one), a cluster "shared" (the first's
 * wins), and a context "prod" with a token file by relative path. */
static const char second[] = "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
                             "clusters:\n"
                             "- {name: shared, cluster: {server: 'https://second:6443'}}\n"
                             "- {name: prod, cluster: {server: 'https://prod:6443/', insecure-skip-tls-verify: true}}\n"
                             "users:\n"
                             "- {name: ops, user: {tokenFile: tokens/ops}}\n"
                             "- {name: dev, user: {token: not-this-one}}\n"
                             "contexts:\n"
                             "- {name: prod, context: {cluster: prod, user: ops}}\n"
                             "- {name: other, context: {cluster: shared, user: ops}}\n";

START_TEST(merged)
{
    char dir[] = "/tmp/pgw-test-kc-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    put(dir, "a/config", first);
    put(dir, "b/config", second);
    char *paths = pgw_asprintf("%s/a/config:%s/missing:%s/b/config", dir, dir, dir);
    struct pgw_kubeconfig kc;
    char *err = NULL;

    ck_assert_int_eq(pgw_kubeconfig_load_merged(&kc, paths, NULL, &err), 0);
    ck_assert_str_eq(kc.server, "https://dev:6443"); /* the first file's current-context */
    char *want = pgw_asprintf("%s/a/ca/dev.crt", dir);
    ck_assert_str_eq(kc.ca_file, want);
    free(want);
    want = pgw_asprintf("%s/a/dev.crt", dir);
    ck_assert_str_eq(kc.client_cert_file, want);
    free(want);
    ck_assert_str_eq(kc.client_key_file, "/abs/dev.key");
    ck_assert_ptr_null(kc.token); /* user "dev" of the second file is shadowed */
    ck_assert_str_eq(kc.namespace_, "team");
    pgw_kubeconfig_dispose(&kc);

    ck_assert_int_eq(pgw_kubeconfig_load_merged(&kc, paths, "prod", &err), 0); /* --context */
    ck_assert_str_eq(kc.server, "https://prod:6443");
    ck_assert_int_eq(kc.insecure_skip_tls_verify, 1);
    want = pgw_asprintf("%s/b/tokens/ops", dir);
    ck_assert_str_eq(kc.token_file, want); /* against the second file's directory */
    free(want);
    ck_assert_str_eq(kc.namespace_, "default");
    pgw_kubeconfig_dispose(&kc);

    ck_assert_int_eq(pgw_kubeconfig_load_merged(&kc, paths, "other", &err), 0);
    ck_assert_str_eq(kc.server, "https://first:6443"); /* cluster "shared": the first file's */
    pgw_kubeconfig_dispose(&kc);

    ck_assert_int_eq(pgw_kubeconfig_load_merged(&kc, paths, "nope", &err), -1);
    ck_assert_str_eq(err, "kubeconfig: context \"nope\" not found");
    free(err);
    free(paths);

    paths = pgw_asprintf("%s/x:%s/y", dir, dir);
    ck_assert_int_eq(pgw_kubeconfig_load_merged(&kc, paths, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "none of"));
    free(err);
    free(paths);

    put(dir, "c/config", "clusters: [unclosed");
    paths = pgw_asprintf("%s/a/config:%s/c/config", dir, dir);
    ck_assert_int_eq(pgw_kubeconfig_load_merged(&kc, paths, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "c/config"));
    free(err);
    free(paths);
    char *cmd = pgw_asprintf("rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}
END_TEST

START_TEST(lookup_order)
{
    char dir[] = "/tmp/pgw-test-kc-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    put(dir, "a/config", first);
    put(dir, "b/config", second);
    put(dir, "home/.kube/config", second);
    struct pgw_kubeconfig kc;
    char *err = NULL;
    char *a = pgw_asprintf("%s/a/config", dir), *b = pgw_asprintf("%s/b/config", dir), *home = pgw_asprintf("%s/home", dir);
    char *both = pgw_asprintf("%s:%s", b, a);
    unsetenv("KUBERNETES_SERVICE_HOST");
    setenv("HOME", home, 1);

    /* --kubeconfig beats $KUBECONFIG */
    setenv("KUBECONFIG", both, 1);
    ck_assert_int_eq(pgw_kubeconfig_load_kubectl(&kc, a, NULL, &err), 0);
    ck_assert_str_eq(kc.server, "https://dev:6443");
    pgw_kubeconfig_dispose(&kc);
    /* $KUBECONFIG, merged: b first, so its current-context (prod) */
    ck_assert_int_eq(pgw_kubeconfig_load_kubectl(&kc, NULL, NULL, &err), 0);
    ck_assert_str_eq(kc.server, "https://prod:6443");
    pgw_kubeconfig_dispose(&kc);
    ck_assert_int_eq(pgw_kubeconfig_load_kubectl(&kc, NULL, "dev", &err), 0); /* a context of the other file */
    ck_assert_str_eq(kc.server, "https://dev:6443");
    pgw_kubeconfig_dispose(&kc);
    /* no $KUBECONFIG: ~/.kube/config */
    unsetenv("KUBECONFIG");
    ck_assert_int_eq(pgw_kubeconfig_load_kubectl(&kc, NULL, NULL, &err), 0);
    ck_assert_str_eq(kc.server, "https://prod:6443");
    pgw_kubeconfig_dispose(&kc);
    /* nothing at all: 1 */
    setenv("HOME", dir, 1);
    ck_assert_int_eq(pgw_kubeconfig_load_kubectl(&kc, NULL, NULL, &err), 1);
    /* in a pod with no kubeconfig: the service account (where this runs, its directory may be there or not) */
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    if (pgw_kubeconfig_load_kubectl(&kc, NULL, NULL, &err) == 0) {
        ck_assert_str_eq(kc.server, "https://10.96.0.1:443");
        pgw_kubeconfig_dispose(&kc);
    } else {
        ck_assert_ptr_nonnull(strstr(err, PGW_SERVICEACCOUNT_DIR));
        free(err);
    }
    /* --context names a kubeconfig's context: never the service account */
    ck_assert_int_eq(pgw_kubeconfig_load_kubectl(&kc, NULL, "dev", &err), 1);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    free(a);
    free(b);
    free(home);
    free(both);
    char *cmd = pgw_asprintf("rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugin_kubeconfig");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, merged);
    tcase_add_test(tc, lookup_order);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
