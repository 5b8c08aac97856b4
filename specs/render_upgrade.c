/*
 * The Jobs of an in-place major upgrade (see render_upgrade.h for the steps
 * and docs/upgrades.md for the user's side).
 *
 * The scripts are plain /bin/sh and take everything from the environment the
 * Job sets (PGW_FROM, PGW_TO, PGW_PRIMARY, libpq's PG*), so they are fixed
 * strings a reviewer reads once. The new major's programs are found on PATH
 * (the image's postgres), the old major's in /usr/lib/postgresql/<old>/bin.
 * pg_upgrade insists on a new bin directory of its own minor version, so the
 * new one is where pg_upgrade really lives (a symbolic link on PATH is
 * followed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render_backup.h"
#include "specs/render_meta.h"
#include "specs/render_upgrade.h"
#include "specs/security_context.h"

#define TERMINATION_PATH "/dev/termination-log"
#define CHECK_DEADLINE_SECONDS 600
#define ANALYZE_BACKOFF_LIMIT 2

int pgw_upgrade_before_link(const char *reason)
{
    static const char *const safe[] = {PGW_UPGRADE_WAITING,      PGW_UPGRADE_CHECKING, PGW_UPGRADE_STOPPING, PGW_UPGRADE_CANCELLED,
                                       PGW_UPGRADE_CHECK_FAILED, PGW_UPGRADE_REFUSED,  PGW_UPGRADE_FAILED,   NULL};
    if (reason == NULL)
        return 1;
    for (const char *const *s = safe; *s != NULL; ++s) {
        if (strcmp(reason, *s) == 0)
            return 1;
    }
    return 0;
}

/* --- the scripts ---------------------------------------------------------------- */

/* Shared head: fail() writes the reason to the termination message; OLD and NEW are the bin directories. */
#define SCRIPT_HEAD                                                                                                                \
    "set -eu\n"                                                                                                                    \
    "T=" TERMINATION_PATH "\n"                                                                                                     \
    "OLD=/usr/lib/postgresql/$PGW_FROM/bin\n"                                                                                      \
    "NEW=$(command -v pg_upgrade || true); [ -z \"$NEW\" ] || NEW=$(readlink -f \"$NEW\"); NEW=${NEW%/*}\n"                        \
    "major() { \"$1/postgres\" -V | sed -n 's/^postgres (PostgreSQL) \\([0-9]*\\).*/\\1/p'; }\n"

static const char check_script[] = SCRIPT_HEAD
    "fail() { printf '%s\\n' \"$*\" >&2; printf '%s' \"$*\" > \"$T\"; exit 1; }\n"
    "for p in postgres pg_ctl pg_controldata psql; do\n"
    "  [ -x \"$OLD/$p\" ] || fail \"the image has no PostgreSQL $PGW_FROM programs ($OLD/$p is missing): pg_upgrade needs both "
    "majors; use an image that carries /usr/lib/postgresql/$PGW_FROM/bin\"\n"
    "done\n"
    "[ -n \"$NEW\" ] || fail \"the image of PostgreSQL $PGW_TO has no pg_upgrade on PATH\"\n"
    "for p in postgres initdb pg_upgrade pg_controldata; do [ -x \"$NEW/$p\" ] || fail \"$NEW/$p is missing\"; done\n"
    "[ \"$(major \"$OLD\")\" = \"$PGW_FROM\" ] || fail \"$OLD/postgres is not PostgreSQL $PGW_FROM\"\n"
    "[ \"$(major \"$NEW\")\" = \"$PGW_TO\" ] || fail \"$NEW/postgres is not PostgreSQL $PGW_TO: check the image of that major\"\n"
    "q() { \"$OLD/psql\" -X -At -v ON_ERROR_STOP=1 -d \"$1\" -c \"$2\"; }\n"
    "n=$(q postgres 'SELECT count(*) FROM pg_prepared_xacts' 2>/tmp/err) || fail \"cannot query the primary: $(cat /tmp/err)\"\n"
    "[ \"$n\" = 0 ] || fail \"$n prepared transaction(s) on the primary: commit or roll them back first\"\n"
    "share=$(\"$NEW/pg_config\" --sharedir 2>/dev/null || true)\n"
    "missing=\n"
    "for db in $(q postgres 'SELECT datname FROM pg_database WHERE datallowconn'); do\n"
    "  for e in $(q \"$db\" 'SELECT extname FROM pg_extension'); do\n"
    "    [ -z \"$share\" ] || [ -f \"$share/extension/$e.control\" ] || missing=\"$missing $db:$e\"\n"
    "  done\n"
    "done\n"
    "[ -z \"$missing\" ] || fail \"extensions with no PostgreSQL $PGW_TO version in the image:$missing\"\n"
    "printf 'PostgreSQL %s and %s programs found; the primary is ready to upgrade' \"$PGW_FROM\" \"$PGW_TO\" > \"$T\"\n";

static const char upgrade_script[] = SCRIPT_HEAD
    "D=$PGDATA; N=$PGDATA.new; O=$PGDATA.old\n"
    "msg() { printf %s \"$1\" | tr -d '\"\\\\' | tr '\\n\\t' '  ' | tr -s ' ' | cut -c1-1500; }\n"
    "out() { printf '{\"linked\":%s,\"systemIdentifier\":\"%s\",\"message\":\"%s\"}' \"$1\" \"$2\" \"$(msg \"$3\")\" > \"$T\"; "
    "printf '%s\\n' \"$3\"; }\n"
    /* Before the link step: Patroni's files back, the half-made new directory gone; the old data as it was. */
    "undo() {\n"
    "  [ ! -e \"$D/postgresql.conf.pgw-upgrade\" ] || mv -f \"$D/postgresql.conf.pgw-upgrade\" \"$D/postgresql.conf\"\n"
    "  [ ! -e \"$D/pg_hba.conf.pgw-upgrade\" ] || mv -f \"$D/pg_hba.conf.pgw-upgrade\" \"$D/pg_hba.conf\"\n"
    "  [ ! -d \"$N/pg_upgrade_output.d\" ] || { rm -rf \"$D.upgrade-logs\"; mv \"$N/pg_upgrade_output.d\" \"$D.upgrade-logs\"; }\n"
    "  rm -rf \"$N\"\n"
    "}\n"
    "fail() { \"$OLD/pg_ctl\" -D \"$D\" -m fast stop >/dev/null 2>&1 || true; undo; out false '' \"$*\"; exit 1; }\n"
    "fail_linked() { out true '' \"$*\"; exit 1; }\n"
    "sysid() { \"$NEW/pg_controldata\" \"$D\" | sed -n 's/^Database system identifier: *//p'; }\n"
    "[ -n \"$NEW\" ] || fail \"the image of PostgreSQL $PGW_TO has no pg_upgrade on PATH\"\n"
    "cd \"${D%/*}\"\n"
    /* A run that stopped between the two renames at the end. */
    "if [ ! -e \"$D\" ] && [ -f \"$N/PG_VERSION\" ] && [ -e \"$O\" ]; then mv \"$N\" \"$D\"; fi\n"
    "v=$(cat \"$D/PG_VERSION\" 2>/dev/null || true)\n"
    "if [ \"$v\" = \"$PGW_TO\" ]; then rm -rf \"$O\"; out true \"$(sysid)\" \"the data directory is PostgreSQL $PGW_TO already\"; "
    "exit 0; fi\n"
    "[ \"$v\" = \"$PGW_FROM\" ] || fail \"the data directory of $PGW_PRIMARY is PostgreSQL '$v', not $PGW_FROM\"\n"
    "[ ! -e \"$D/global/pg_control.old\" ] || fail_linked \"an earlier pg_upgrade got past its link step (global/pg_control.old "
    "exists)\"\n"
    "[ ! -L \"$D/pg_wal\" ] || fail \"pg_wal is on a separate volume, which in-place upgrades do not handle yet\"\n"
    "state=$(\"$OLD/pg_controldata\" \"$D\" | sed -n 's/^Database cluster state: *//p')\n"
    "[ \"$state\" = 'shut down' ] || fail \"the data directory of $PGW_PRIMARY was not shut down cleanly as a primary (state: "
    "$state)\"\n"
    "rm -rf \"$N\"\n"
    /* pg_upgrade starts the old server on this directory: Patroni's postgresql.conf and pg_hba.conf name
     * files this Job has not (certificates, archive_command) and ask for passwords; minimal ones stand in. */
    "mv \"$D/postgresql.conf\" \"$D/postgresql.conf.pgw-upgrade\"\n"
    "mv \"$D/pg_hba.conf\" \"$D/pg_hba.conf.pgw-upgrade\"\n"
    "printf \"include_if_exists 'postgresql.base.conf'\\n\" > \"$D/postgresql.conf\"\n"
    "printf 'local all all trust\\n' > \"$D/pg_hba.conf\"\n"
    "\"$OLD/pg_ctl\" -D \"$D\" -w -l /tmp/old.log -o \"-c listen_addresses= -c unix_socket_directories=/tmp -p 50432\" start "
    ">/dev/null || fail \"PostgreSQL $PGW_FROM does not start on the data directory: $(tail -n 5 /tmp/old.log)\"\n"
    "q() { \"$OLD/psql\" -X -At -v ON_ERROR_STOP=1 -h /tmp -p 50432 -d template1 -c \"$1\"; }\n"
    "su=$(q 'SELECT rolname FROM pg_authid WHERE oid = 10') || fail 'cannot query the old server'\n"
    "enc=$(q \"SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'template0'\")\n"
    "collate=$(q \"SELECT datcollate FROM pg_database WHERE datname = 'template0'\")\n"
    "ctype=$(q \"SELECT datctype FROM pg_database WHERE datname = 'template0'\")\n"
    "icu=\n"
    "if [ \"$PGW_FROM\" -ge 15 ] && [ \"$(q \"SELECT datlocprovider FROM pg_database WHERE datname = 'template0'\")\" = i ]; "
    "then\n"
    "  icu=\"--locale-provider=icu --icu-locale=$(q \"SELECT daticulocale FROM pg_database WHERE datname = 'template0'\")\"\n"
    "fi\n"
    "\"$OLD/pg_ctl\" -D \"$D\" -w -m fast stop >/dev/null || fail 'the old server does not stop'\n"
    "sums=$(\"$OLD/pg_controldata\" \"$D\" | sed -n 's/^Data page checksum version: *//p')\n"
    "if [ \"$sums\" != 0 ]; then sums=--data-checksums; elif [ \"$PGW_TO\" -ge 18 ]; then sums=--no-data-checksums; else sums=; "
    "fi\n"
    "\"$NEW/initdb\" -D \"$N\" -U \"$su\" -E \"$enc\" --lc-collate=\"$collate\" --lc-ctype=\"$ctype\" $icu $sums --auth=trust "
    ">/tmp/initdb.log 2>&1 || fail \"initdb of PostgreSQL $PGW_TO failed: $(tail -n 5 /tmp/initdb.log)\"\n"
    "set -- -b \"$OLD\" -B \"$NEW\" -d \"$D\" -D \"$N\" -U \"$su\" -s /tmp -p 50432 -P 50433\n"
    "\"$NEW/pg_upgrade\" --check \"$@\" >/tmp/check.log 2>&1 || fail \"pg_upgrade --check: $(grep -v ' ok$' /tmp/check.log | tail "
    "-n 12)\"\n"
    "if ! \"$NEW/pg_upgrade\" --link \"$@\" >/tmp/upgrade.log 2>&1; then\n"
    "  tail -n 40 /tmp/upgrade.log\n"
    "  [ -e \"$D/global/pg_control.old\" ] || fail \"pg_upgrade failed before its link step: $(tail -n 15 /tmp/upgrade.log)\"\n"
    "  fail_linked \"pg_upgrade failed after its link step: $(tail -n 15 /tmp/upgrade.log)\"\n"
    "fi\n"
    "cat /tmp/upgrade.log\n"
    /* The new directory takes the old one's place; Patroni writes postgresql.conf and includes initdb's
     * as postgresql.base.conf, as after its own bootstrap. The old one shares the files (hard links). */
    "mv \"$N/postgresql.conf\" \"$N/postgresql.base.conf\"\n"
    "[ ! -f \"$D/patroni.dynamic.json\" ] || cp \"$D/patroni.dynamic.json\" \"$N/\"\n"
    "mv \"$D\" \"$O\"\n"
    "mv \"$N\" \"$D\"\n"
    "rm -rf \"$O\" delete_old_cluster.sh\n"
    "out true \"$(sysid)\" \"the data of $PGW_PRIMARY was upgraded from PostgreSQL $PGW_FROM to $PGW_TO\"\n";

static const char analyze_script[] =
    "set -eu\n"
    "T=" TERMINATION_PATH "\n"
    "fail() { printf '%s\\n' \"$*\" >&2; printf '%s' \"$*\" > \"$T\"; exit 1; }\n"
    "OLD=/usr/lib/postgresql/$PGW_FROM/bin\n"
    "only=; [ \"$PGW_TO\" -lt 18 ] || only=--missing-stats-only\n"
    /* pg_upgrade from 18 on carries the statistics over: only what is missing is computed. The old
     * major's client is the fallback for a new one built without TLS (the server takes hostssl only). */
    "if vacuumdb --all --analyze-in-stages $only 2>/tmp/err; then :\n"
    "elif [ -x \"$OLD/vacuumdb\" ] && \"$OLD/vacuumdb\" --all --analyze-in-stages 2>>/tmp/err; then :\n"
    "else fail \"vacuumdb --analyze-in-stages: $(tail -n 5 /tmp/err)\"; fi\n"
    "printf 'statistics rebuilt on PostgreSQL %s' \"$PGW_TO\" > \"$T\"\n";

const char *pgw_render_upgrade_check_script(void)
{
    return check_script;
}

const char *pgw_render_upgrade_script(void)
{
    return upgrade_script;
}

const char *pgw_render_upgrade_analyze_script(void)
{
    return analyze_script;
}

/* --- the Jobs ----------------------------------------------------------------- */

static json_t *env_value(const char *name, const char *value)
{
    return pgw_json_pack("{s:s,s:s}", "name", name, "value", value);
}

static json_t *env_int(const char *name, long long value)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", value);
    return env_value(name, buf);
}

/* PGW_FROM and PGW_TO, and libpq's settings for the primary at `ip` (NULL: none, the Job works offline). */
static json_t *job_env(const json_t *cluster, int from, const char *ip)
{
    json_t *env = json_array();
    json_array_append_new(env, env_int("PGW_FROM", from));
    json_array_append_new(env, env_int("PGW_TO", pgw_cluster_spec_int(cluster, "postgresVersion", PGW_PG_MAJOR_MAX)));
    json_array_append_new(env, env_value("PGDATA", PGW_POD_PGDATA_DIR));
    if (ip != NULL) {
        char *superuser = pgw_child_name(cluster, PGW_SUFFIX_SUPERUSER);
        json_array_append_new(env, env_value("PGHOST", ip));
        json_array_append_new(env, env_int("PGPORT", PGW_POD_PORT_POSTGRES));
        json_array_append_new(env, env_value("PGUSER", "postgres"));
        json_array_append_new(env, env_value("PGDATABASE", "postgres"));
        json_array_append_new(env, env_value("PGSSLMODE", "require")); /* the server takes hostssl only */
        json_array_append_new(env, env_value("PGCONNECT_TIMEOUT", "10"));
        json_array_append_new(env, pgw_json_pack("{s:s,s:{s:{s:s,s:s}}}", "name", "PGPASSWORD", "valueFrom", "secretKeyRef", "name",
                                                 superuser, "key", "password"));
        free(superuser);
    }
    return env;
}

static const char *target_image(const json_t *cluster, const struct pgw_render_ctx *ctx)
{
    const char *image = json_string_value(pgw_cluster_spec(cluster, "image"));
    if (image == NULL && ctx->config != NULL)
        image = pgw_config_postgres_image(ctx->config, (int)pgw_cluster_spec_int(cluster, "postgresVersion", PGW_PG_MAJOR_MAX));
    return image != NULL ? image : "";
}

/*
 * A Job named <cluster><suffix> running `script` with the new major's image.
 * `claim`: the data claim to mount at the data directory's volume, or NULL.
 */
static json_t *upgrade_job(const json_t *cluster, const struct pgw_render_ctx *ctx, const char *suffix, const char *script,
                           int from, json_t *env, const char *claim, int backoff_limit, int deadline)
{
    char *name = pgw_child_name(cluster, suffix);
    json_t *job = pgw_child_object(cluster, "batch/v1", "Job", name, "upgrade");
    free(name);
    json_t *labels = json_object_get(json_object_get(job, "metadata"), "labels");
    char to[16];
    snprintf(to, sizeof(to), "%lld", pgw_cluster_spec_int(cluster, "postgresVersion", PGW_PG_MAJOR_MAX));
    json_object_set_new(labels, PGW_LABEL_UPGRADE_TO, json_string(to));
    snprintf(to, sizeof(to), "%d", from);
    json_object_set_new(labels, PGW_LABEL_UPGRADE_FROM, json_string(to));
    /* Job pods do not carry pgwarden.io/cluster: it selects the database pods (Services, PDB, injection). */
    json_t *pod_labels = json_deep_copy(labels);
    json_object_del(pod_labels, PGW_POD_LABEL_CLUSTER);

    json_t *volumes = pgw_json_pack("[{s:s,s:{}}]", "name", PGW_POD_VOLUME_TMP, "emptyDir");
    json_t *mounts = pgw_json_pack("[{s:s,s:s}]", "name", PGW_POD_VOLUME_TMP, "mountPath", PGW_POD_TMP_DIR);
    if (claim != NULL) {
        json_array_append_new(
            volumes, pgw_json_pack("{s:s,s:{s:s}}", "name", PGW_POD_VOLUME_PGDATA, "persistentVolumeClaim", "claimName", claim));
        json_array_append_new(mounts, pgw_json_pack("{s:s,s:s}", "name", PGW_POD_VOLUME_PGDATA, "mountPath", PGW_POD_PGDATA_MOUNT));
    }
    const char *pull =
        ctx->config != NULL && ctx->config->image_pull_policy != NULL ? ctx->config->image_pull_policy : "IfNotPresent";
    json_t *container =
        pgw_json_pack("{s:s,s:s,s:s,s:[s,s,s],s:o,s:o,s:o,s:s,s:s}", "name", PGW_CONTAINER_UPGRADE, "image",
                      target_image(cluster, ctx), "imagePullPolicy", pull, "command", "/bin/sh", "-c", script, "env", env,
                      "volumeMounts", mounts, "securityContext", pgw_container_security_context(), "terminationMessagePath",
                      TERMINATION_PATH, "terminationMessagePolicy", "FallbackToLogsOnError");
    json_t *resources = pgw_cluster_spec(cluster, "resources");
    if (json_is_object(resources))
        json_object_set_new(container, "resources", json_deep_copy(resources));
    json_t *pod = pgw_json_pack("{s:s,s:b,s:o,s:[o],s:o}", "restartPolicy", "Never", "automountServiceAccountToken", 0,
                                "securityContext", pgw_pod_security_context(claim != NULL ? "OnRootMismatch" : NULL), "containers",
                                container, "volumes", volumes);
    json_t *spec = pgw_json_pack("{s:i,s:{s:{s:o},s:o}}", "backoffLimit", backoff_limit, "template", "metadata", "labels",
                                 pod_labels, "spec", pod);
    if (deadline > 0)
        json_object_set_new(spec, "activeDeadlineSeconds", json_integer(deadline));
    json_object_set_new(job, "spec", spec);
    return job;
}

json_t *pgw_render_upgrade_check_job(const json_t *cluster, const struct pgw_render_ctx *ctx, int from, const char *primary_ip)
{
    return upgrade_job(cluster, ctx, PGW_SUFFIX_UPGRADE_CHECK, check_script, from, job_env(cluster, from, primary_ip), NULL, 0,
                       CHECK_DEADLINE_SECONDS);
}

json_t *pgw_render_upgrade_job(const json_t *cluster, const struct pgw_render_ctx *ctx, int from, const char *primary)
{
    json_t *env = job_env(cluster, from, NULL);
    json_array_append_new(env, env_value("PGW_PRIMARY", primary));
    char *claim = pgw_asprintf("%s-%s", PGW_POD_VOLUME_PGDATA, primary); /* <template>-<pod>: the StatefulSet's claim */
    /* No retry and no deadline: a failure is looked at by a person, and a large database takes its time. */
    json_t *job = upgrade_job(cluster, ctx, PGW_SUFFIX_UPGRADE, upgrade_script, from, env, claim, 0, 0);
    free(claim);
    return job;
}

json_t *pgw_render_upgrade_analyze_job(const json_t *cluster, const struct pgw_render_ctx *ctx, int from, const char *primary_ip)
{
    return upgrade_job(cluster, ctx, PGW_SUFFIX_UPGRADE_ANALYZE, analyze_script, from, job_env(cluster, from, primary_ip), NULL,
                       ANALYZE_BACKOFF_LIMIT, 0);
}

json_t *pgw_render_upgrade_stanza_job(const json_t *cluster, const struct pgw_render_ctx *ctx, int from)
{
    json_t *job = pgw_render_stanza_job(cluster, ctx);
    if (job == NULL)
        return NULL;
    json_t *meta = json_object_get(job, "metadata");
    char *name = pgw_child_name(cluster, PGW_SUFFIX_UPGRADE_STANZA);
    json_object_set_new(meta, "name", json_string(name));
    free(name);
    char v[16];
    snprintf(v, sizeof(v), "%lld", pgw_cluster_spec_int(cluster, "postgresVersion", PGW_PG_MAJOR_MAX));
    json_object_set_new(json_object_get(meta, "labels"), PGW_LABEL_UPGRADE_TO, json_string(v));
    snprintf(v, sizeof(v), "%d", from);
    json_object_set_new(json_object_get(meta, "labels"), PGW_LABEL_UPGRADE_FROM, json_string(v));
    json_t *containers =
        json_object_get(json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "spec"), "containers");
    json_t *command = json_object_get(json_array_get(containers, 0), "command");
    size_t n = json_array_size(command);
    if (n > 0)
        json_array_set_new(command, n - 1, json_string("stanza-upgrade")); /* the last argument is the command */
    return job;
}

void pgw_render_upgrade_set_replicas(json_t *children, long long replicas)
{
    size_t i;
    json_t *child;
    json_array_foreach(children, i, child)
    {
        const char *kind = json_string_value(json_object_get(child, "kind"));
        if (kind != NULL && strcmp(kind, "StatefulSet") == 0)
            json_object_set_new(json_object_get(child, "spec"), "replicas", json_integer(replicas));
    }
}
