/*
 * Test helper: prints what specs/render_pgbackrest.c, render_backup.c and
 * backup_info.c produce, so the data-plane tests run the exact configuration
 * and command lines the controller ships, with only paths and ports changed
 * through the render options (never by editing the output).
 *
 *   render_backup instance-conf CLUSTER.json [key=value...]
 *   render_backup job-conf CLUSTER.json [key=value...] [host=H...]
 *       keys: repo_mount pg_path socket_dir pg_port lock_path spool_path log_path
 *             tls_dir tls_port tls_address process_max archive_async; host (repeatable)
 *   render_backup repo-path CLUSTER.json [key=value...]
 *   render_backup archive-command CONFIG
 *   render_backup backup-args CONFIG TYPE | stanza-args CONFIG | info-args CONFIG    (JSON argv)
 *   render_backup backup-script CONFIG TYPE TERMINATION_PATH                         (the Job's sh script)
 *   render_backup restore-args CONFIG REPO_PATH|- LABEL|- TARGET_JSON|-              (JSON argv)
 *   render_backup restore-cluster RESTORE.json SOURCE.json                           (JSON)
 *   render_backup info-status INFO.json LABEL|-                                      (JSON status)
 *   render_backup info-log LOGFILE                                                   (JSON status of the newest)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "controller/decide/backup_info.h"
#include "specs/render_backup.h"
#include "specs/render_pgbackrest.h"

#define MAX_HOSTS 16

static int print_owned(char *text)
{
    if (text == NULL) {
        fprintf(stderr, "render_backup: rendering refused its input\n");
        return 1;
    }
    fputs(text, stdout);
    free(text);
    return 0;
}

static int print_json(json_t *v)
{
    if (v == NULL) {
        fprintf(stderr, "render_backup: rendering refused its input\n");
        return 1;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(v);
    puts(s);
    free(s);
    return 0;
}

static json_t *load(const char *path)
{
    json_error_t err;
    json_t *v = json_load_file(path, 0, &err);
    if (v == NULL)
        fprintf(stderr, "render_backup: %s: %s\n", path, err.text);
    return v;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n + 4096 + 1 > cap)
            buf = pgw_realloc(buf, cap = (n + 4096 + 1) * 2);
        got = fread(buf + n, 1, 4096, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Applies key=value arguments to opts; hosts go to `hosts`. Returns 0 or -1. */
static int apply_opts(struct pgw_pgbackrest_render_opts *o, int argc, char **argv, const char **hosts)
{
    for (int i = 0; i < argc; ++i) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL)
            return -1;
        size_t k = (size_t)(eq - argv[i]);
        const char *v = eq + 1;
#define KEY(name) (k == strlen(name) && strncmp(argv[i], name, k) == 0)
        if (KEY("repo_mount"))
            o->repo_mount = v;
        else if (KEY("pg_path"))
            o->pg_path = v;
        else if (KEY("socket_dir"))
            o->socket_dir = v;
        else if (KEY("pg_port"))
            o->pg_port = atoi(v);
        else if (KEY("lock_path"))
            o->lock_path = v;
        else if (KEY("spool_path"))
            o->spool_path = v;
        else if (KEY("log_path"))
            o->log_path = v;
        else if (KEY("tls_dir"))
            o->tls_dir = v;
        else if (KEY("tls_port"))
            o->tls_port = atoi(v);
        else if (KEY("tls_address"))
            o->tls_address = v;
        else if (KEY("process_max"))
            o->process_max = atoi(v);
        else if (KEY("archive_async"))
            o->archive_async = atoi(v);
        else if (KEY("host") && o->pg_host_count < MAX_HOSTS) {
            hosts[o->pg_host_count++] = v;
            o->pg_hosts = hosts;
        } else
            return -1;
#undef KEY
    }
    return 0;
}

static int conf(int which, int argc, char **argv)
{
    json_t *cluster = load(argv[0]);
    if (cluster == NULL)
        return 2;
    struct pgw_pgbackrest_render_opts o;
    const char *hosts[MAX_HOSTS];
    pgw_pgbackrest_render_opts_default(&o);
    if (apply_opts(&o, argc - 1, argv + 1, hosts) != 0) {
        fprintf(stderr, "render_backup: bad option\n");
        json_decref(cluster);
        return 2;
    }
    char *text = which == 0   ? pgw_render_pgbackrest_conf(cluster, &o)
                 : which == 1 ? pgw_render_pgbackrest_job_conf(cluster, &o)
                              : pgw_render_pgbackrest_repo_path(cluster, &o);
    json_decref(cluster);
    int rc = print_owned(text);
    if (which == 2 && rc == 0)
        putchar('\n');
    return rc;
}

static const char *opt(const char *s)
{
    return strcmp(s, "-") == 0 ? NULL : s;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "instance-conf") == 0)
        return conf(0, argc - 2, argv + 2);
    if (argc >= 3 && strcmp(argv[1], "job-conf") == 0)
        return conf(1, argc - 2, argv + 2);
    if (argc >= 3 && strcmp(argv[1], "repo-path") == 0)
        return conf(2, argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "archive-command") == 0) {
        int rc = print_owned(pgw_render_pgbackrest_archive_command(argv[2]));
        putchar('\n');
        return rc;
    }
    if (argc == 4 && strcmp(argv[1], "backup-args") == 0)
        return print_json(pgw_render_backup_args(argv[2], argv[3]));
    if (argc == 5 && strcmp(argv[1], "backup-script") == 0)
        return print_owned(pgw_render_backup_script(argv[2], argv[3], argv[4]));
    if (argc == 3 && strcmp(argv[1], "stanza-args") == 0)
        return print_json(pgw_render_stanza_create_args(argv[2]));
    if (argc == 3 && strcmp(argv[1], "info-args") == 0)
        return print_json(pgw_render_info_args(argv[2]));
    if (argc == 6 && strcmp(argv[1], "restore-args") == 0) {
        json_t *target = NULL;
        if (opt(argv[5]) != NULL) {
            json_error_t e;
            target = json_loads(argv[5], 0, &e);
            if (target == NULL) {
                fprintf(stderr, "render_backup: target: %s\n", e.text);
                return 2;
            }
        }
        struct pgw_restore_params p = {
            .config_path = argv[2], .repo_path = opt(argv[3]), .backup_label = opt(argv[4]), .target = target};
        char *err = NULL;
        json_t *args = pgw_render_restore_args(&p, &err);
        json_decref(target);
        if (args == NULL) {
            fprintf(stderr, "render_backup: %s\n", err);
            free(err);
            return 1;
        }
        return print_json(args);
    }
    if (argc == 4 && strcmp(argv[1], "restore-cluster") == 0) {
        json_t *restore = load(argv[2]), *source = load(argv[3]);
        int rc = 2;
        if (restore != NULL && source != NULL)
            rc = print_json(pgw_render_restore_cluster(restore, source));
        json_decref(restore);
        json_decref(source);
        return rc;
    }
    if ((argc == 4 && strcmp(argv[1], "info-status") == 0) || (argc == 3 && strcmp(argv[1], "info-log") == 0)) {
        size_t len;
        char *text = slurp(argv[2], &len);
        if (text == NULL) {
            fprintf(stderr, "render_backup: cannot read %s\n", argv[2]);
            return 2;
        }
        const char *json = text;
        if (argc == 3 && (json = pgw_backup_info_from_log(text, &len)) == NULL) {
            fprintf(stderr, "render_backup: no info line in the log\n");
            free(text);
            return 1;
        }
        struct pgw_backup_info info;
        char *err = NULL;
        int rc = pgw_backup_info_parse(json, len, PGW_PGBACKREST_STANZA, argc == 4 ? opt(argv[3]) : NULL, &info, &err);
        free(text);
        if (rc != 0) {
            fprintf(stderr, "render_backup: %s\n", err);
            free(err);
            return 1;
        }
        json_t *status = pgw_backup_info_status(&info);
        pgw_backup_info_dispose(&info);
        return print_json(status);
    }
    fprintf(stderr, "usage: see the comment at the top of test/tools/render_backup.c\n");
    return 2;
}
