/*
 * Backup Jobs, schedules, the stanza-create Job, restore command lines and the
 * restored cluster (see render_backup.h).
 *
 * Jobs run with the restricted security context (non-root uid 999, no
 * privilege escalation, no capabilities, read-only root filesystem, seccomp
 * RuntimeDefault); /tmp is an emptyDir for pgBackRest's locks and spool. The
 * Job pod has no service account token: it talks to pgBackRest servers and the
 * repository, never to the Kubernetes API.
 */
#include "specs/render_backup.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/json_pack.h"
#include "common/object.h"
#include "common/lsn.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render_meta.h"
#include "specs/render_pgbackrest.h"
#include "specs/security_context.h"

#define JOB_CONFIG PGW_POD_PGBACKREST_DIR "/" PGW_KEY_PGBACKREST_CONF

static void args_addf(json_t *a, const char *fmt, const char *value)
{
    char *s = pgw_asprintf(fmt, value);
    json_t *v = json_string(s); /* NULL for invalid UTF-8: dropped, and the caller's checks refuse such input */
    free(s);
    if (v != NULL)
        json_array_append_new(a, v);
}

static json_t *args_new(const char *config_path)
{
    json_t *a = pgw_json_pack("[s]", "pgbackrest");
    args_addf(a, "--config=%s", config_path);
    json_array_append_new(a, json_string("--stanza=" PGW_PGBACKREST_STANZA));
    return a;
}

json_t *pgw_render_backup_args(const char *config_path, const char *type)
{
    json_t *a = args_new(config_path);
    args_addf(a, "--type=%s", type != NULL ? type : "full");
    json_array_append_new(a, json_string("backup"));
    return a;
}

json_t *pgw_render_stanza_create_args(const char *config_path)
{
    json_t *a = args_new(config_path);
    json_array_append_new(a, json_string("stanza-create"));
    return a;
}

json_t *pgw_render_info_args(const char *config_path)
{
    json_t *a = args_new(config_path);
    json_array_append_new(a, json_string("--output=json"));
    json_array_append_new(a, json_string("info"));
    return a;
}

/* RFC 3339 → "YYYY-MM-DD HH:MM:SS[.frac]+00" in UTC. malloc'd, or NULL. */
static char *target_time(const char *rfc3339)
{
    time_t t;
    const char *why = NULL;
    if (pgw_rfc3339_parse(rfc3339, &t, &why) != 0)
        return NULL;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return NULL;
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
    /* The parser drops fractional seconds; keep them (they sit right after the seconds). */
    char frac[16] = "";
    const char *p = rfc3339 + 19;
    if (strlen(rfc3339) > 19 && (*p == '.' || *p == ',')) {
        size_t n = 0;
        frac[n++] = '.';
        for (++p; isdigit((unsigned char)*p) && n + 1 < sizeof(frac); ++p)
            frac[n++] = *p;
        frac[n] = '\0';
        if (n == 1)
            frac[0] = '\0';
    }
    return pgw_asprintf("%s%s+00", base, frac);
}

static int safe_arg(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; ++p)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

json_t *pgw_render_restore_args(const struct pgw_restore_params *p, char **err)
{
    *err = NULL;
    if (p->config_path == NULL || !safe_arg(p->config_path)) {
        *err = pgw_strdup("a config path is required");
        return NULL;
    }
    if ((p->repo_path != NULL && !safe_arg(p->repo_path)) || (p->backup_label != NULL && !safe_arg(p->backup_label))) {
        *err = pgw_strdup("the repository path and backup label may not hold control characters");
        return NULL;
    }
    const char *type = NULL;
    char *target = NULL;
    int count = 0;
    const json_t *t = p->target;
    if (t != NULL && !json_is_null(t) && !json_is_object(t)) {
        *err = pgw_strdup("target must be an object");
        return NULL;
    }
    json_t *v;
    if ((v = json_object_get(t, "time")) != NULL) {
        ++count;
        type = "time";
        target = json_is_string(v) ? target_time(json_string_value(v)) : NULL;
        if (target == NULL) {
            *err = pgw_strdup("target.time must be an RFC 3339 timestamp");
            return NULL;
        }
    }
    if ((v = json_object_get(t, "lsn")) != NULL) {
        ++count;
        type = "lsn";
        uint64_t lsn;
        const char *why = NULL;
        if (!json_is_string(v) || pgw_lsn_parse(json_string_value(v), &lsn, &why) != 0) {
            free(target);
            *err = pgw_strdup("target.lsn must be an LSN such as 0/16B3748");
            return NULL;
        }
        char buf[32];
        free(target);
        target = pgw_strdup(pgw_lsn_format(lsn, buf, sizeof(buf)));
    }
    if ((v = json_object_get(t, "xid")) != NULL) {
        ++count;
        type = "xid";
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            free(target);
            *err = pgw_strdup("target.xid must be a positive transaction ID");
            return NULL;
        }
        free(target);
        target = pgw_asprintf("%lld", (long long)json_integer_value(v));
    }
    if ((v = json_object_get(t, "name")) != NULL) {
        ++count;
        type = "name";
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 63 || !safe_arg(json_string_value(v))) {
            free(target);
            *err = pgw_strdup("target.name must be a restore point name of 1-63 bytes");
            return NULL;
        }
        free(target);
        target = pgw_strdup(json_string_value(v));
    }
    if ((v = json_object_get(t, "immediate")) != NULL) {
        if (!json_is_boolean(v)) {
            free(target);
            *err = pgw_strdup("target.immediate must be a boolean");
            return NULL;
        }
        if (json_is_true(v)) {
            ++count;
            type = "immediate";
        }
    }
    if (count > 1) {
        free(target);
        *err = pgw_strdup("target may specify at most one of time, lsn, xid, name or immediate");
        return NULL;
    }

    json_t *a = args_new(p->config_path);
    if (p->repo_path != NULL)
        args_addf(a, "--repo1-path=%s", p->repo_path);
    if (p->backup_label != NULL)
        args_addf(a, "--set=%s", p->backup_label);
    if (type != NULL) {
        args_addf(a, "--type=%s", type);
        if (target != NULL)
            args_addf(a, "--target=%s", target);
        json_array_append_new(a, json_string("--target-action=promote"));
    }
    json_array_append_new(a, json_string("restore"));
    free(target);
    return a;
}

/* --- Jobs -------------------------------------------------------------------- */

static json_t *resources(const struct pgw_sidecar_config *sc)
{
    json_t *r = json_object(), *req = json_object(), *lim = json_object();
    if (sc->cpu_request)
        json_object_set_new(req, "cpu", json_string(sc->cpu_request));
    if (sc->memory_request)
        json_object_set_new(req, "memory", json_string(sc->memory_request));
    if (sc->cpu_limit)
        json_object_set_new(lim, "cpu", json_string(sc->cpu_limit));
    if (sc->memory_limit)
        json_object_set_new(lim, "memory", json_string(sc->memory_limit));
    if (json_object_size(req) != 0)
        json_object_set_new(r, "requests", req);
    else
        json_decref(req);
    if (json_object_size(lim) != 0)
        json_object_set_new(r, "limits", lim);
    else
        json_decref(lim);
    return r;
}

char *pgw_render_backup_script(const char *config_path, const char *type, const char *termination_path)
{
    json_t *backup = pgw_render_backup_args(config_path, type != NULL ? type : "full");
    json_t *info = pgw_render_info_args(config_path);
    char *run = pgw_obj_join_strings(backup, " "), *show = pgw_obj_join_strings(info, " ");
    /* `info` ends with "--output=json info"; the one-set form slips --set=... before the command. */
    size_t n = strlen(show) - strlen(" info");
    char *script = pgw_asprintf("set -e\n"
                                "%s\n"
                                "label=$(%s | sed -n 's/.*\"label\":\"\\([^\"]*\\)\".*/\\1/p')\n"
                                "test -n \"$label\"\n"
                                "set_info=$(%.*s --set=\"$label\" info)\n"
                                "printf '%%s' \"$set_info\" > %s\n"
                                "printf '%%s\\n' \"$set_info\"\n",
                                run, show, (int)n, show, termination_path);
    free(run);
    free(show);
    json_decref(backup);
    json_decref(info);
    return script;
}

/* A Job pod's labels: the Job's, minus pgwarden.io/cluster, which selects the
 * cluster's database pods (Services, PDB, StatefulSet, sidecar injection). */
static json_t *pod_labels(const json_t *job_labels)
{
    json_t *labels = json_deep_copy(job_labels);
    json_object_del(labels, PGW_POD_LABEL_CLUSTER);
    return labels;
}

/*
 * The Job's pod template spec running `argv`, or with `backup_type` the backup
 * script (pgw_render_backup_script) instead.
 */
static json_t *job_pod_spec(const json_t *cluster, const struct pgw_render_ctx *ctx, json_t *argv, const char *backup_type)
{
    json_t *command;
    if (backup_type != NULL) {
        char *script = pgw_render_backup_script(JOB_CONFIG, backup_type, PGW_BACKUP_TERMINATION_PATH);
        command = pgw_json_pack("[s,s,s]", "/bin/sh", "-c", script);
        free(script);
        json_decref(argv);
    } else {
        command = argv;
    }
    char *cm = pgw_child_name(cluster, PGW_SUFFIX_PGBACKREST), *tls = pgw_child_name(cluster, PGW_SUFFIX_PGBACKREST_TLS);
    /* The job side of the ConfigMap becomes pgbackrest.conf; the client pair and the CA from the TLS Secret. */
    json_t *config =
        pgw_json_pack("{s:s,s:{s:i,s:[{s:{s:s,s:[{s:s,s:s}]}},{s:{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}}]}}", "name",
                      PGW_POD_VOLUME_PGBACKREST, "projected", "defaultMode", PGW_PGBACKREST_TLS_MODE, "sources", "configMap",
                      "name", cm, "items", "key", PGW_KEY_PGBACKREST_JOB_CONF, "path", PGW_KEY_PGBACKREST_CONF, "secret", "name",
                      tls, "items", "key", PGW_KEY_TLS_CA, "path", PGW_KEY_TLS_CA, "key", PGW_KEY_TLS_CLIENT_CERT, "path",
                      PGW_KEY_TLS_CLIENT_CERT, "key", PGW_KEY_TLS_CLIENT_KEY, "path", PGW_KEY_TLS_CLIENT_KEY);
    free(cm);
    free(tls);
    json_t *volumes = pgw_json_pack("[o,{s:s,s:{}}]", config, "name", PGW_POD_VOLUME_TMP, "emptyDir");
    json_t *mounts = pgw_json_pack("[{s:s,s:s,s:b},{s:s,s:s}]", "name", PGW_POD_VOLUME_PGBACKREST, "mountPath",
                                   PGW_POD_PGBACKREST_DIR, "readOnly", 1, "name", PGW_POD_VOLUME_TMP, "mountPath", PGW_POD_TMP_DIR);
    pgw_render_pgbackrest_repo_volumes(cluster, volumes, mounts);
    json_t *container = pgw_json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "name", PGW_POD_CONTAINER_PGBACKREST, "image",
                                      ctx->config->pgbackrest.image ? ctx->config->pgbackrest.image : "", "imagePullPolicy",
                                      ctx->config->image_pull_policy ? ctx->config->image_pull_policy : "IfNotPresent", "command",
                                      command, "env", pgw_render_pgbackrest_env(cluster), "volumeMounts", mounts, "resources",
                                      resources(&ctx->config->pgbackrest), "securityContext", pgw_container_security_context());
    /* The info JSON of the new backup set goes to the termination message; on a
     * failure with no message the last log lines (pgBackRest's error) go there. */
    json_object_set_new(container, "terminationMessagePath", json_string(PGW_BACKUP_TERMINATION_PATH));
    json_object_set_new(container, "terminationMessagePolicy", json_string("FallbackToLogsOnError"));
    return pgw_json_pack("{s:s,s:b,s:o,s:[o],s:o}", "restartPolicy", "Never", "automountServiceAccountToken", 0, "securityContext",
                         pgw_pod_security_context(NULL), "containers", container, "volumes", volumes);
}

static json_t *job_spec(json_t *labels, json_t *pod_spec, int backoff_limit)
{
    return pgw_json_pack("{s:i,s:i,s:{s:{s:o},s:o}}", "backoffLimit", backoff_limit, "activeDeadlineSeconds",
                         PGW_BACKUP_ACTIVE_DEADLINE_SECONDS, "template", "metadata", "labels", labels, "spec", pod_spec);
}

json_t *pgw_render_backup_job(const json_t *backup, const json_t *cluster, const struct pgw_render_ctx *ctx)
{
    const json_t *meta = json_object_get(backup, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *uid = json_string_value(json_object_get(meta, "uid"));
    const char *type = json_string_value(json_object_get(json_object_get(backup, "spec"), "type"));
    if (name == NULL)
        name = "";
    json_t *job = pgw_child_object(cluster, "batch/v1", "Job", name, "backup");
    json_t *labels = json_object_get(json_object_get(job, "metadata"), "labels");
    json_object_set_new(labels, PGW_LABEL_BACKUP, json_string(name));
    /* The PostgresBackup owns its Job: deleting the backup object cleans the Job up (never the backup data). */
    json_object_set_new(json_object_get(job, "metadata"), "ownerReferences",
                        pgw_json_pack("[{s:s,s:s,s:s,s:s,s:b,s:b}]", "apiVersion", "pgwarden.io/v1", "kind", "PostgresBackup",
                                      "name", name, "uid", uid != NULL ? uid : "", "controller", 1, "blockOwnerDeletion", 1));
    json_t *argv = pgw_render_backup_args(JOB_CONFIG, type != NULL ? type : "full");
    json_object_set_new(
        job, "spec",
        job_spec(pod_labels(labels), job_pod_spec(cluster, ctx, argv, type != NULL ? type : "full"), PGW_BACKUP_BACKOFF_LIMIT));
    return job;
}

json_t *pgw_render_stanza_job(const json_t *cluster, const struct pgw_render_ctx *ctx)
{
    if (pgw_cluster_spec(cluster, "backup.repository") == NULL)
        return NULL;
    char *name = pgw_child_name(cluster, PGW_SUFFIX_STANZA_CREATE);
    json_t *job = pgw_child_object(cluster, "batch/v1", "Job", name, "backup");
    free(name);
    json_t *labels = json_object_get(json_object_get(job, "metadata"), "labels");
    json_object_set_new(job, "spec",
                        job_spec(pod_labels(labels), job_pod_spec(cluster, ctx, pgw_render_stanza_create_args(JOB_CONFIG), NULL),
                                 PGW_STANZA_BACKOFF_LIMIT));
    return job;
}

void pgw_render_backup_cronjobs(const json_t *cluster, const struct pgw_render_ctx *ctx, json_t *out)
{
    if (pgw_cluster_spec(cluster, "backup.repository") == NULL)
        return;
    size_t i;
    json_t *s;
    json_array_foreach(pgw_cluster_spec(cluster, "backup.schedules"), i, s)
    {
        const char *sname = json_string_value(json_object_get(s, "name"));
        const char *schedule = json_string_value(json_object_get(s, "schedule"));
        const char *type = json_string_value(json_object_get(s, "type"));
        if (sname == NULL || schedule == NULL)
            continue; /* validation refuses it; render what is renderable */
        char *suffix = pgw_asprintf("-backup-%s", sname), *name = pgw_child_name(cluster, suffix);
        json_t *cj = pgw_child_object(cluster, "batch/v1", "CronJob", name, "backup");
        json_t *labels = json_object_get(json_object_get(cj, "metadata"), "labels");
        json_object_set_new(labels, PGW_LABEL_SCHEDULE, json_string(sname));
        json_t *argv = pgw_render_backup_args(JOB_CONFIG, type != NULL ? type : "full");
        json_t *spec =
            job_spec(pod_labels(labels), job_pod_spec(cluster, ctx, argv, type != NULL ? type : "full"), PGW_BACKUP_BACKOFF_LIMIT);
        /* Forbid: never two backups of one stanza at once; a missed run is skipped, not queued. */
        json_object_set_new(cj, "spec",
                            pgw_json_pack("{s:s,s:s,s:i,s:i,s:i,s:b,s:{s:{s:o},s:o}}", "schedule", schedule, "concurrencyPolicy",
                                          "Forbid", "startingDeadlineSeconds", PGW_BACKUP_STARTING_DEADLINE_SECONDS,
                                          "successfulJobsHistoryLimit", PGW_BACKUP_HISTORY_LIMIT, "failedJobsHistoryLimit",
                                          PGW_BACKUP_HISTORY_LIMIT, "suspend", 0, "jobTemplate", "metadata", "labels",
                                          json_deep_copy(labels), "spec", spec));
        json_array_append_new(out, cj);
        free(suffix);
        free(name);
    }
}

/* --- Restore ------------------------------------------------------------------ */

json_t *pgw_render_restore_cluster(const json_t *restore, const json_t *source_cluster)
{
    const json_t *rmeta = json_object_get(restore, "metadata"), *rspec = json_object_get(restore, "spec");
    const json_t *nc = json_object_get(rspec, "newCluster"), *source = json_object_get(rspec, "source");
    const char *rname = json_string_value(json_object_get(rmeta, "name"));
    const char *ns = json_string_value(json_object_get(rmeta, "namespace"));
    const char *name = json_string_value(json_object_get(nc, "name"));
    const char *from = json_string_value(json_object_get(source, "cluster"));
    if (rname == NULL)
        rname = "";
    if (name == NULL)
        name = rname;
    if (ns == NULL)
        ns = pgw_cluster_namespace(source_cluster);
    if (from == NULL)
        from = pgw_cluster_name(source_cluster);

    const json_t *sspec = json_object_get(source_cluster, "spec");
    json_t *spec = json_is_object(sspec) ? json_deep_copy(sspec) : json_object();
    json_object_del(spec, "bootstrap");
    json_object_del(spec, "tls");
    static const char *const overrides[] = {"instances", "storage", "resources", NULL};
    for (const char *const *k = overrides; *k != NULL; ++k) {
        json_t *v = json_object_get(nc, *k);
        if (v != NULL)
            json_object_set_new(spec, *k, json_deep_copy(v));
    }
    json_t *backup = json_object_get(spec, "backup");
    if (json_is_object(backup)) {
        char *path = pgw_asprintf("/%s/%s", ns, name);
        json_object_set_new(backup, "path", json_string(path));
        free(path);
    }
    json_t *how = pgw_json_pack("{s:s}", "fromCluster", from);
    json_t *b = json_object_get(source, "backup");
    if (json_is_string(b))
        json_object_set_new(how, "backup", json_deep_copy(b));
    json_t *target = json_object_get(rspec, "target");
    if (json_is_object(target)) {
        json_t *copy = json_deep_copy(target);
        if (json_is_false(json_object_get(copy, "immediate")))
            json_object_del(copy, "immediate");
        if (json_object_size(copy) != 0)
            json_object_set_new(how, "target", copy);
        else
            json_decref(copy);
    }
    json_object_set_new(spec, "bootstrap", pgw_json_pack("{s:o}", "restore", how));

    json_t *labels = pgw_json_pack("{s:s}", PGW_LABEL_RESTORE, rname);
    json_t *annotations = pgw_json_pack("{s:s}", PGW_ANNOTATION_RESTORED_FROM, from);
    const char *source_path = json_string_value(json_object_get(json_object_get(sspec, "backup"), "path"));
    char *default_path = pgw_asprintf("/%s/%s", pgw_cluster_namespace(source_cluster), from);
    json_object_set_new(annotations, PGW_ANNOTATION_RESTORE_REPO_PATH,
                        json_string(source_path != NULL ? source_path : default_path));
    free(default_path);
    /* A volume repository lives in the source's PVC: the restored cluster mounts that one. */
    const json_t *repo = json_object_get(json_object_get(sspec, "backup"), "repository");
    if (json_is_object(json_object_get(repo, "volume"))) {
        char *claim = pgw_render_pgbackrest_repo_claim_name(source_cluster);
        json_object_set_new(annotations, PGW_ANNOTATION_REPO_CLAIM, json_string(claim));
        free(claim);
    }
    return pgw_json_pack("{s:s,s:s,s:{s:s,s:s,s:o,s:o},s:o}", "apiVersion", "pgwarden.io/v1", "kind", "PostgresCluster", "metadata",
                         "name", name, "namespace", ns, "labels", labels, "annotations", annotations, "spec", spec);
}
