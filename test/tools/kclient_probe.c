/*
 * kclient_probe: drives controller/kube/kclient and controller/kube/watch for the
 * integration test (test/integration/test_kclient.py), one command per stdin
 * line, one JSON result per stdout line, so the test can change the world
 * (rotate a token, script the fake server) between commands.
 *
 *   kclient_probe (--kubeconfig FILE [--context NAME] | --in-cluster SA_DIR) [--qps N --burst N]
 *
 * Commands ("-" for no namespace):
 *   get KIND NS NAME | list KIND NS LIMIT | delete KIND NS NAME
 *   create KIND NS JSON | update KIND NS NAME JSON | status KIND NS NAME JSON
 *   apply KIND NS NAME JSON | patch KIND NS NAME JSON | event KIND NS NAME TYPE REASON MESSAGE...
 *   watch KIND NS COUNT   (prints one line per callback until COUNT callbacks, then stops the watch)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json_pack.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/watch.h"

static const char *const outcome_names[] = {"OK", "NotFound", "Conflict", "Gone", "HTTPError", "Transport", "NotLeader"};

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(j);
}

static void print_result(const struct pgw_kresult *r)
{
    json_t *j = pgw_json_pack("{s:s,s:I,s:I}", "outcome", outcome_names[r->outcome], "status", (json_int_t)r->http_status, "code",
                              (json_int_t)r->code);
    if (r->reason != NULL)
        json_object_set_new(j, "reason", json_string(r->reason));
    if (r->message != NULL)
        json_object_set_new(j, "message", json_string(r->message));
    if (r->body != NULL)
        json_object_set(j, "body", r->body);
    print_json(j);
}

static const char *ns_arg(const char *s)
{
    return s == NULL || strcmp(s, "-") == 0 ? NULL : s;
}

struct watch_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int seen, want;
};

static void on_event(void *ctx, enum pgw_watch_type type, json_t *obj)
{
    struct watch_state *ws = ctx;
    json_t *md = json_object_get(obj, "metadata");
    json_t *line = pgw_json_pack("{s:s,s:O?,s:O?,s:O?}", "watch", pgw_watch_type_name(type), "name", json_object_get(md, "name"),
                                 "rv", json_object_get(md, "resourceVersion"), "kind", json_object_get(obj, "kind"));
    pthread_mutex_lock(&ws->lock);
    if (ws->seen < ws->want)
        print_json(line);
    else
        json_decref(line);
    ++ws->seen;
    pthread_cond_signal(&ws->cond);
    pthread_mutex_unlock(&ws->lock);
}

static void on_synced(void *ctx)
{
    struct watch_state *ws = ctx;
    pthread_mutex_lock(&ws->lock);
    if (ws->seen < ws->want)
        print_json(pgw_json_pack("{s:s}", "watch", "SYNCED"));
    ++ws->seen;
    pthread_cond_signal(&ws->cond);
    pthread_mutex_unlock(&ws->lock);
}

static void run_watch(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, int count)
{
    struct watch_state ws = {.want = count};
    pthread_mutex_init(&ws.lock, NULL);
    pthread_cond_init(&ws.cond, NULL);
    struct pgw_watch_options o = {
        .resource = r, .namespace_ = ns, .page_size = 2, .timeout_seconds = 30, .backoff_initial = 0.05, .backoff_max = 0.2};
    struct pgw_watch_handlers h = {.on_event = on_event, .on_synced = on_synced, .ctx = &ws};
    struct pgw_watch *w = pgw_watch_start(c, &o, &h);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    pthread_mutex_lock(&ws.lock);
    while (ws.seen < ws.want && pthread_cond_timedwait(&ws.cond, &ws.lock, &deadline) == 0)
        ;
    int complete = ws.seen >= ws.want;
    pthread_mutex_unlock(&ws.lock);
    struct pgw_watch_stats st = pgw_watch_get_stats(w);
    pgw_watch_stop(w);
    print_json(pgw_json_pack("{s:b,s:I,s:I,s:I,s:I}", "done", complete, "lists", (json_int_t)st.lists, "watches",
                             (json_int_t)st.watches, "gone", (json_int_t)st.gone, "failures", (json_int_t)st.failures));
    pthread_cond_destroy(&ws.cond);
    pthread_mutex_destroy(&ws.lock);
}

/* Splits off the next space-separated word of *rest. */
static char *word(char **rest)
{
    while (**rest == ' ')
        ++*rest;
    if (**rest == '\0')
        return NULL;
    char *w = *rest, *sp = strchr(w, ' ');
    if (sp != NULL) {
        *sp = '\0';
        *rest = sp + 1;
    } else {
        *rest += strlen(w);
    }
    return w;
}

static int run_command(struct pgw_kclient *c, char *line)
{
    char *rest = line;
    char *cmd = word(&rest), *kind = word(&rest), *ns = word(&rest);
    if (cmd == NULL || kind == NULL)
        return -1;
    const struct pgw_resource *r = pgw_resource_find(kind);
    if (r == NULL)
        return -1;
    struct pgw_kresult res;
    json_error_t jerr;
    if (strcmp(cmd, "watch") == 0) {
        char *n = word(&rest);
        run_watch(c, r, ns_arg(ns), n != NULL ? atoi(n) : 1);
        return 0;
    }
    if (strcmp(cmd, "list") == 0) {
        char *n = word(&rest);
        struct pgw_klist_options lo = {.limit = n != NULL ? atol(n) : 0};
        pgw_kclient_list_all(c, r, ns_arg(ns), &lo, &res);
    } else if (strcmp(cmd, "create") == 0) {
        json_t *obj = json_loads(rest, 0, &jerr);
        pgw_kclient_create(c, r, ns_arg(ns), obj, &res);
        json_decref(obj);
    } else if (strcmp(cmd, "event") == 0) {
        char *name = word(&rest), *type = word(&rest), *reason = word(&rest);
        char api_version[64];
        json_t *inv =
            pgw_json_pack("{s:s,s:s,s:{s:s,s:s?}}", "apiVersion", pgw_resource_api_version(r, api_version, sizeof(api_version)),
                          "kind", r->kind, "metadata", "name", name != NULL ? name : "", "namespace", ns_arg(ns));
        pgw_kclient_event(c, inv, type, reason, rest, &res);
        json_decref(inv);
    } else {
        char *name = word(&rest);
        if (name == NULL)
            return -1;
        if (strcmp(cmd, "get") == 0) {
            pgw_kclient_get(c, r, ns_arg(ns), name, &res);
        } else if (strcmp(cmd, "delete") == 0) {
            pgw_kclient_delete(c, r, ns_arg(ns), name, "Background", &res);
        } else {
            json_t *obj = json_loads(rest, 0, &jerr);
            if (obj == NULL)
                return -1;
            if (strcmp(cmd, "update") == 0)
                pgw_kclient_update(c, r, ns_arg(ns), name, NULL, obj, &res);
            else if (strcmp(cmd, "status") == 0)
                pgw_kclient_update(c, r, ns_arg(ns), name, "status", obj, &res);
            else if (strcmp(cmd, "apply") == 0)
                pgw_kclient_apply(c, r, ns_arg(ns), name, NULL, obj, &res);
            else if (strcmp(cmd, "patch") == 0)
                pgw_kclient_patch(c, r, ns_arg(ns), name, NULL, PGW_PATCH_MERGE, obj, &res);
            else {
                json_decref(obj);
                return -1;
            }
            json_decref(obj);
        }
    }
    print_result(&res);
    pgw_kresult_dispose(&res);
    return 0;
}

int main(int argc, char **argv)
{
    const char *kubeconfig = NULL, *context = NULL, *sa_dir = NULL;
    struct pgw_kclient_options opts = {0};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--kubeconfig") == 0)
            kubeconfig = argv[i + 1];
        else if (strcmp(argv[i], "--context") == 0)
            context = argv[i + 1];
        else if (strcmp(argv[i], "--in-cluster") == 0)
            sa_dir = argv[i + 1];
        else if (strcmp(argv[i], "--qps") == 0)
            opts.qps = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--burst") == 0)
            opts.burst = atoi(argv[i + 1]);
    }
    pgw_log_set_level(PGW_LOG_DEBUG);
    struct pgw_kubeconfig kc;
    char *err = NULL;
    int rc =
        sa_dir != NULL ? pgw_kubeconfig_in_cluster(&kc, sa_dir, &err) : pgw_kubeconfig_load_file(&kc, kubeconfig, context, &err);
    if (rc != 0) {
        fprintf(stderr, "kclient_probe: %s\n", err);
        free(err);
        return 2;
    }
    struct pgw_kclient *c = pgw_kclient_new(&kc, &opts, &err);
    pgw_kubeconfig_dispose(&kc);
    if (c == NULL) {
        fprintf(stderr, "kclient_probe: %s\n", err);
        free(err);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (line[0] == '\0')
            continue;
        if (run_command(c, line) != 0)
            print_json(pgw_json_pack("{s:s}", "error", "bad command"));
    }
    free(line);
    pgw_kclient_free(c);
    return 0;
}
