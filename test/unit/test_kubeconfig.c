/*
 * Unit tests for controller/kube/kubeconfig: the in-cluster environment (with the
 * service-account directory in a temp dir), kubeconfig contexts with files,
 * inline data, tokens and relative paths, errors that name what is missing,
 * base64, and the resource/URL table of controller/kube/kclient (pure).
 */
#include "helpers.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/json_pack.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"
#include "controller/kube/kubeconfig.h"

static void put(const char *dir, const char *name, const char *content)
{
    char *path = pgw_asprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(content, fp);
    fclose(fp);
    free(path);
}

static void rm(const char *dir, const char *name)
{
    char *path = pgw_asprintf("%s/%s", dir, name);
    unlink(path);
    free(path);
}

START_TEST(in_cluster)
{
    char dir[] = "/tmp/pgw-test-sa-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct pgw_kubeconfig kc;
    char *err = NULL;
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    ck_assert_int_eq(pgw_kubeconfig_in_cluster(&kc, dir, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "KUBERNETES_SERVICE_HOST"));
    free(err);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    ck_assert_int_eq(pgw_kubeconfig_in_cluster(&kc, dir, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "token"));
    free(err);
    put(dir, "token", "t");
    ck_assert_int_eq(pgw_kubeconfig_in_cluster(&kc, dir, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "ca.crt"));
    free(err);
    put(dir, "ca.crt", "pem");
    ck_assert_int_eq(pgw_kubeconfig_in_cluster(&kc, dir, &err), 0);
    ck_assert_str_eq(kc.server, "https://10.96.0.1:443");
    ck_assert_str_eq(kc.namespace_, "default"); /* no namespace file */
    char *want = pgw_asprintf("%s/token", dir);
    ck_assert_str_eq(kc.token_file, want);
    free(want);
    ck_assert_ptr_null(kc.token); /* read through the rotating token source, never cached here */
    pgw_kubeconfig_dispose(&kc);
    put(dir, "namespace", "pgwarden-system\n");
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    ck_assert_int_eq(pgw_kubeconfig_in_cluster(&kc, dir, &err), 0);
    ck_assert_str_eq(kc.server, "https://[fd00::1]:443");
    ck_assert_str_eq(kc.namespace_, "pgwarden-system");
    pgw_kubeconfig_dispose(&kc);
    /* pgw_kubeconfig_load prefers an explicit path, then the environment */
    ck_assert_int_eq(pgw_kubeconfig_load(&kc, "/nonexistent/kubeconfig", &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/kubeconfig"));
    free(err);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBECONFIG");
    ck_assert_int_eq(pgw_kubeconfig_load(&kc, NULL, &err), 1); /* nothing configured */
    rm(dir, "token");
    rm(dir, "ca.crt");
    rm(dir, "namespace");
    rmdir(dir);
}
END_TEST

/* "hello CA" and "cert" / "key" in base64 */
static const char kubeconfig[] = "apiVersion: v1\n"
                                 "kind: Config\n"
                                 "current-context: dev\n"
                                 "contexts:\n"
                                 "- name: dev\n"
                                 "  context: {cluster: c1, user: u-files, namespace: db}\n"
                                 "- name: inline\n"
                                 "  context: {cluster: c2, user: u-data}\n"
                                 "- name: tok\n"
                                 "  context: {cluster: c3, user: u-token}\n"
                                 "- name: nouser\n"
                                 "  context: {cluster: c3}\n"
                                 "- name: exec\n"
                                 "  context: {cluster: c1, user: u-exec}\n"
                                 "- name: halfcert\n"
                                 "  context: {cluster: c1, user: u-half}\n"
                                 "- name: badb64\n"
                                 "  context: {cluster: c4, user: u-token}\n"
                                 "- name: ghost\n"
                                 "  context: {cluster: nope, user: u-token}\n"
                                 "- name: ghostuser\n"
                                 "  context: {cluster: c1, user: nope}\n"
                                 "- name: noserver\n"
                                 "  context: {cluster: c5}\n"
                                 "clusters:\n"
                                 "- name: c1\n"
                                 "  cluster: {server: 'https://127.0.0.1:6443/', certificate-authority: ca.crt}\n"
                                 "- name: c2\n"
                                 "  cluster: {server: 'https://api.example:443', certificate-authority-data: aGVsbG8gQ0E=}\n"
                                 "- name: c3\n"
                                 "  cluster: {server: 'https://k:1', insecure-skip-tls-verify: true}\n"
                                 "- name: c4\n"
                                 "  cluster: {server: 'https://k:1', certificate-authority-data: '!!notbase64'}\n"
                                 "- name: c5\n"
                                 "  cluster: {certificate-authority: /abs/ca.crt}\n"
                                 "users:\n"
                                 "- name: u-files\n"
                                 "  user: {client-certificate: certs/client.crt, client-key: /abs/client.key, tokenFile: tok}\n"
                                 "- name: u-data\n"
                                 "  user: {client-certificate-data: Y2VydA==, client-key-data: a2V5}\n"
                                 "- name: u-token\n"
                                 "  user: {token: s3cr3t}\n"
                                 "- name: u-exec\n"
                                 "  user: {exec: {command: aws}}\n"
                                 "- name: u-half\n"
                                 "  user: {client-certificate: a.crt}\n";

START_TEST(kubeconfig_contexts)
{
    struct pgw_kubeconfig kc;
    char *err = NULL;
    size_t len = strlen(kubeconfig);
    ck_assert_int_eq(pgw_kubeconfig_parse(&kc, kubeconfig, len, "/home/me/.kube", NULL, &err), 0);
    ck_assert_str_eq(kc.server, "https://127.0.0.1:6443");
    ck_assert_str_eq(kc.ca_file, "/home/me/.kube/ca.crt");
    ck_assert_str_eq(kc.client_cert_file, "/home/me/.kube/certs/client.crt");
    ck_assert_str_eq(kc.client_key_file, "/abs/client.key");
    ck_assert_str_eq(kc.token_file, "/home/me/.kube/tok");
    ck_assert_str_eq(kc.namespace_, "db");
    ck_assert_int_eq(kc.insecure_skip_tls_verify, 0);
    pgw_kubeconfig_dispose(&kc);

    ck_assert_int_eq(pgw_kubeconfig_parse(&kc, kubeconfig, len, "/x", "inline", &err), 0);
    ck_assert_str_eq(kc.ca_data, "hello CA");
    ck_assert_uint_eq(kc.ca_data_len, 8);
    ck_assert_str_eq(kc.client_cert_data, "cert");
    ck_assert_str_eq(kc.client_key_data, "key");
    ck_assert_ptr_null(kc.ca_file);
    ck_assert_str_eq(kc.namespace_, "default");
    pgw_kubeconfig_dispose(&kc);

    ck_assert_int_eq(pgw_kubeconfig_parse(&kc, kubeconfig, len, "/x", "tok", &err), 0);
    ck_assert_str_eq(kc.token, "s3cr3t");
    ck_assert_int_eq(kc.insecure_skip_tls_verify, 1);
    pgw_kubeconfig_dispose(&kc);

    ck_assert_int_eq(pgw_kubeconfig_parse(&kc, kubeconfig, len, "/x", "nouser", &err), 0);
    ck_assert_ptr_null(kc.token);
    pgw_kubeconfig_dispose(&kc);
}
END_TEST

START_TEST(kubeconfig_errors)
{
    static const struct {
        const char *text; /* NULL: the shared kubeconfig */
        const char *context;
        const char *message;
    } rows[] = {
        {NULL, "missing", "context \"missing\" not found"},
        {NULL, "exec", "exec and auth-provider plugins are not supported"},
        {NULL, "halfcert", "needs its key"},
        {NULL, "badb64", "certificate-authority-data is not valid base64"},
        {NULL, "ghost", "cluster \"nope\" not found"},
        {NULL, "ghostuser", "user \"nope\" not found"},
        {NULL, "noserver", "has no server"},
        {"apiVersion: v1\nclusters: []\n", NULL, "no current-context"},
        {"- a\n- b\n", NULL, "not a mapping"},
        {"a: [\n", NULL, "kubeconfig: "},
        {"current-context: x\ncontexts:\n- name: x\n  context: {user: u}\n", NULL, "names no cluster"},
        {"current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: "
         "'ftp://h'}\n",
         NULL, "must be an http(s) URL"},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        const char *text = rows[i].text != NULL ? rows[i].text : kubeconfig;
        struct pgw_kubeconfig kc;
        char *err = NULL;
        ck_assert_msg(pgw_kubeconfig_parse(&kc, text, strlen(text), "/x", rows[i].context, &err) == -1, "row %zu", i);
        ck_assert_msg(err != NULL && strstr(err, rows[i].message) != NULL, "row %zu: %s", i, err != NULL ? err : "(null)");
        ck_assert_ptr_null(kc.server); /* nothing half-filled is left behind */
        free(err);
    }
}
END_TEST

START_TEST(kubeconfig_file_relative_paths)
{
    char dir[] = "/tmp/pgw-test-kc-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    put(dir, "config", kubeconfig);
    char *path = pgw_asprintf("%s/config", dir), *err = NULL, *want = pgw_asprintf("%s/ca.crt", dir);
    struct pgw_kubeconfig kc;
    ck_assert_int_eq(pgw_kubeconfig_load_file(&kc, path, NULL, &err), 0);
    ck_assert_str_eq(kc.ca_file, want);
    pgw_kubeconfig_dispose(&kc);
    setenv("KUBECONFIG", path, 1);
    unsetenv("KUBERNETES_SERVICE_HOST");
    ck_assert_int_eq(pgw_kubeconfig_load(&kc, NULL, &err), 0);
    ck_assert_str_eq(kc.server, "https://127.0.0.1:6443");
    pgw_kubeconfig_dispose(&kc);
    unsetenv("KUBECONFIG");
    rm(dir, "config");
    rmdir(dir);
    free(path);
    free(want);
}
END_TEST

START_TEST(base64_table)
{
    static const struct {
        const char *in, *out;
    } ok[] = {{"", ""}, {"YQ==", "a"}, {"YWI=", "ab"}, {"YWJj", "abc"}, {"YW Jj\nZA==", "abcd"}, {"aGVsbG8gQ0E=", "hello CA"}};
    for (size_t i = 0; i != sizeof(ok) / sizeof(ok[0]); ++i) {
        size_t n = 0;
        char *d = pgw_base64_decode(ok[i].in, &n);
        ck_assert_msg(d != NULL, "row %zu", i);
        ck_assert_str_eq(d, ok[i].out);
        ck_assert_uint_eq(n, strlen(ok[i].out));
        free(d);
    }
    static const char *const bad[] = {"Y", "YQ=a", "!!!!", "YQ===", "YWJjZ"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        size_t n = 0;
        ck_assert_msg(pgw_base64_decode(bad[i], &n) == NULL, "bad row %zu", i);
    }
}
END_TEST

START_TEST(resource_paths)
{
    static const struct {
        const char *kind, *ns, *name, *sub, *path;
    } rows[] = {
        {"Pod", "db", "demo-0", NULL, "/api/v1/namespaces/db/pods/demo-0"},
        {"Pod", NULL, NULL, NULL, "/api/v1/pods"},
        {"Secret", "db", NULL, NULL, "/api/v1/namespaces/db/secrets"},
        {"Namespace", "ignored", "db", NULL, "/api/v1/namespaces/db"},
        {"StatefulSet", "db", "demo", NULL, "/apis/apps/v1/namespaces/db/statefulsets/demo"},
        {"PostgresCluster", "db", "demo", "status", "/apis/pgwarden.io/v1/namespaces/db/postgresclusters/demo/status"},
        {"PostgresCluster", "", NULL, "status", "/apis/pgwarden.io/v1/postgresclusters"},
        {"Lease", "pgwarden-system", "pgwarden", NULL, "/apis/coordination.k8s.io/v1/namespaces/pgwarden-system/leases/pgwarden"},
        {"MutatingWebhookConfiguration", NULL, "pgwarden", NULL,
         "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/pgwarden"},
        {"ConfigMap", "db", "a b/c", NULL, "/api/v1/namespaces/db/configmaps/a%20b%2Fc"},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        const struct pgw_resource *r = pgw_resource_find(rows[i].kind);
        ck_assert_msg(r != NULL, "row %zu", i);
        char *p = pgw_kclient_path(r, rows[i].ns, rows[i].name, rows[i].sub);
        ck_assert_msg(strcmp(p, rows[i].path) == 0, "row %zu: %s", i, p);
        free(p);
    }
    ck_assert_ptr_null(pgw_resource_find("Widget"));
    char buf[64];
    ck_assert_str_eq(pgw_resource_api_version(pgw_resource_find("Pod"), buf, sizeof(buf)), "v1");
    ck_assert_str_eq(pgw_resource_api_version(pgw_resource_find("CronJob"), buf, sizeof(buf)), "batch/v1");
    char *e = pgw_kclient_escape("app=x,tier in (a,b)");
    ck_assert_str_eq(e, "app%3Dx%2Ctier%20in%20%28a%2Cb%29");
    free(e);
}
END_TEST

START_TEST(event_object)
{
    json_t *pod = pgw_json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "apiVersion", "pgwarden.io/v1", "kind", "PostgresCluster",
                                "metadata", "name", "demo", "namespace", "db", "uid", "u-1", "resourceVersion", "9");
    char longmsg[1100];
    memset(longmsg, 'm', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    json_t *ev = pgw_kclient_event_object(pod, "Warning", "InvalidSpec", longmsg, 1700000000.5);
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "kind")), "Event");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "metadata"), "namespace")), "db");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_object_get(ev, "metadata"), "name")), "demo."));
    json_t *inv = json_object_get(ev, "involvedObject");
    ck_assert_str_eq(json_string_value(json_object_get(inv, "kind")), "PostgresCluster");
    ck_assert_str_eq(json_string_value(json_object_get(inv, "uid")), "u-1");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "Warning");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "reason")), "InvalidSpec");
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(ev, "message"))), 1024);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "firstTimestamp")), "2023-11-14T22:13:20Z");
    json_decref(ev);
    /* a cut never splits a UTF-8 sequence */
    char utf[1100];
    memset(utf, 'a', 1023);
    strcpy(utf + 1023, "\xc3\xa9tail");
    ev = pgw_kclient_event_object(pod, "Normal", "R", utf, 0);
    ck_assert_ptr_nonnull(ev);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(ev, "message"))), 1023);
    json_decref(ev);
    json_decref(pod);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kubeconfig");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, in_cluster);
    tcase_add_test(tc, kubeconfig_contexts);
    tcase_add_test(tc, kubeconfig_errors);
    tcase_add_test(tc, kubeconfig_file_relative_paths);
    tcase_add_test(tc, base64_table);
    tcase_add_test(tc, resource_paths);
    tcase_add_test(tc, event_object);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
