/*
 * In-place major upgrades: the admission rule on spec.postgresVersion, the
 * step machine (controller/decide/upgrade.h) and the Jobs it creates
 * (specs/render_upgrade.h).
 */
#include "test/unit/helpers.h"

#include "common/config.h"
#include "controller/decide/upgrade.h"
#include "specs/render_upgrade.h"
#include "validators/validators.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

static const char base_json[] =
    "{'apiVersion':'pgwarden.io/v1','kind':'PostgresCluster','metadata':{'name':'demo','namespace':'shop',"
    "'uid':'u-1'},'spec':{'instances':3,'storage':{'size':'10Gi'}}}";

/* --- admission ------------------------------------------------------------------ */

static const struct {
    int now, before;    /* spec.postgresVersion of the new and the old object */
    const char *status; /* the stored status (merge patch), NULL: none */
    int denied;         /* a Forbidden error on spec.postgresVersion */
    const char *detail; /* text of the error, or of a warning when allowed (NULL: no warning wanted) */
} admission[] = {
    /* raising: allowed, with the warning that the database stops */
    {18, 15, NULL, 0, "15 to 18 is an in-place upgrade"},
    {18, 15, "{'status':{'runningPostgresVersion':15}}", 0, "the database stops for it"},
    {16, 15,
     "{'status':{'runningPostgresVersion':15,'conditions':[{'type':'MajorUpgrade','status':'False','reason':'Succeeded'}]}}", 0,
     "in-place upgrade"},
    /* unchanged: nothing to say */
    {15, 15, "{'status':{'runningPostgresVersion':15}}", 0, NULL},
    /* lowering: denied... */
    {15, 18, NULL, 1, "downgrading PostgreSQL from 18 to 15"},
    {15, 18, "{'status':{'runningPostgresVersion':18}}", 1, "downgrading PostgreSQL from 18 to 15"},
    {16, 18, "{'status':{'runningPostgresVersion':15}}", 1, "downgrading"},
    /* ...except back to the running major before the data is touched (a cancel) */
    {15, 18, "{'status':{'runningPostgresVersion':15}}", 0, "the upgrade is cancelled"},
    {15, 18, "{'status':{'runningPostgresVersion':15,'conditions':[{'type':'MajorUpgrade','status':'True','reason':'Waiting'}]}}",
     0, "cancelled"},
    {15, 18, "{'status':{'runningPostgresVersion':15,'conditions':[{'type':'MajorUpgrade','status':'True','reason':'Checking'}]}}",
     0, "cancelled"},
    {15, 18, "{'status':{'runningPostgresVersion':15,'conditions':[{'type':'MajorUpgrade','status':'True','reason':'Stopping'}]}}",
     0, "cancelled"},
    {15, 18,
     "{'status':{'runningPostgresVersion':15,'conditions':[{'type':'MajorUpgrade','status':'False','reason':'CheckFailed'}]}}", 0,
     "cancelled"},
    {15, 18, "{'status':{'runningPostgresVersion':15,'conditions':[{'type':'MajorUpgrade','status':'False','reason':'Failed'}]}}",
     0, "cancelled"},
    /* ...but not once pg_upgrade may have linked the data */
    {15, 18, "{'status':{'runningPostgresVersion':15,'conditions':[{'type':'MajorUpgrade','status':'True','reason':'Upgrading'}]}}",
     1, "has changed the data already (step Upgrading)"},
    {15, 18,
     "{'status':{'runningPostgresVersion':15,'conditions':[{'type':'MajorUpgrade','status':'False','reason':'FailedLinked'}]}}", 1,
     "restore a backup taken before the upgrade"},
    /* a second target while an upgrade is under way */
    {18, 17, "{'status':{'runningPostgresVersion':15,'conditions':[{'type':'MajorUpgrade','status':'True','reason':'Checking'}]}}",
     1, "an upgrade from 15 to 17 is under way (step Checking)"},
};

START_TEST(test_admission)
{
    char patch[64], old_patch[64];
    snprintf(patch, sizeof(patch), "{'spec':{'postgresVersion':%d}}", admission[_i].now);
    snprintf(old_patch, sizeof(old_patch), "{'spec':{'postgresVersion':%d}}", admission[_i].before);
    json_t *obj = defaulted_cluster(base_json, patch, "UPDATE", NOW), *old = defaulted_cluster(base_json, old_patch, "CREATE", NOW);
    if (admission[_i].status != NULL) {
        json_t *st = q(admission[_i].status);
        merge(obj, st);
        merge(old, st);
        json_decref(st);
    }
    struct pgw_request_ctx ctx = {.operation = "UPDATE", .namespace = "shop", .name = "demo", .now = NOW};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_validate_postgrescluster(obj, old, &ctx, &errs);
    char *text = errors_text(&errs);
    if (admission[_i].denied) {
        ck_assert_msg(has_error(&errs, "spec.postgresVersion", PGW_ERR_FORBIDDEN, admission[_i].detail),
                      "row %d: expected a Forbidden error with \"%s\", got:%s", _i, admission[_i].detail, text);
    } else {
        ck_assert_msg(errs.count == 0, "row %d: expected no error, got:%s", _i, text);
        if (admission[_i].detail != NULL)
            ck_assert_msg(has_warning(&errs, admission[_i].detail), "row %d: missing warning \"%s\"", _i, admission[_i].detail);
        else
            ck_assert_msg(!has_warning(&errs, "postgresVersion"), "row %d: unexpected warning", _i);
    }
    for (size_t w = 0; w != errs.warning_count; ++w)
        ck_assert_msg(strlen(errs.warnings[w]) <= 120, "row %d: warning over 120 characters: %s", _i, errs.warnings[w]);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(obj);
    json_decref(old);
}
END_TEST

/* --- the step machine --------------------------------------------------------------- */

#define LINKED_OK "{\"linked\":true,\"systemIdentifier\":\"7715544524313211598\",\"message\":\"upgraded\"}"
#define UNLINKED "{\"linked\":false,\"systemIdentifier\":\"\",\"message\":\"pg_upgrade --check: bad\"}"
#define LINKED_BAD "{\"linked\":true,\"systemIdentifier\":\"\",\"message\":\"failed after link\"}"

/* A healthy 3-instance cluster of 15 asked to run 18. Each row changes some facts. */
static struct pgw_upgrade_facts base_facts(void)
{
    return (struct pgw_upgrade_facts){.target = 18,
                                      .running = 15,
                                      .phase = "Running",
                                      .instances = 3,
                                      .ready = 3,
                                      .primary = "demo-1",
                                      .pods = 3,
                                      .check_job = PGW_JOB_ABSENT,
                                      .upgrade_job = PGW_JOB_ABSENT,
                                      .analyze_job = PGW_JOB_ABSENT};
}

enum field {
    F_NONE,
    F_TARGET,
    F_STEP,
    F_PHASE,
    F_READY,
    F_PRIMARY_NONE,
    F_WAL,
    F_RESTORING,
    F_PODS,
    F_CHECK,
    F_UPGRADE,
    F_ANALYZE
};

static const struct {
    const char *name;
    const char *step; /* the stored step */
    enum field f1;    /* changed facts */
    long long v1;
    const char *msg;       /* the termination message of the Job changed */
    const char *want_step; /* NULL: no condition */
    enum pgw_upgrade_action want_action;
    const char *want_phase; /* NULL: the computed one */
    long long want_running;
    int want_warning;
    const char *want_text; /* in the message */
} steps[] = {
    {"nothing to do", NULL, F_TARGET, 15, NULL, NULL, PGW_UPGRADE_NOTHING, NULL, 15, 0, NULL},
    {"a finished upgrade stays recorded", PGW_UPGRADE_SUCCEEDED, F_TARGET, 15, NULL, PGW_UPGRADE_SUCCEEDED, PGW_UPGRADE_NOTHING,
     NULL, 15, 0, NULL},
    {"a raise starts with the check", NULL, F_NONE, 0, NULL, PGW_UPGRADE_CHECKING, PGW_UPGRADE_CREATE_CHECK, NULL, 15, 0,
     "demo-1 can be upgraded from PostgreSQL 15 to 18"},
    {"a raise after an earlier upgrade", PGW_UPGRADE_SUCCEEDED, F_NONE, 0, NULL, PGW_UPGRADE_CHECKING, PGW_UPGRADE_CREATE_CHECK,
     NULL, 15, 0, NULL},
    {"not Running: wait", NULL, F_PHASE, 0, NULL, PGW_UPGRADE_WAITING, PGW_UPGRADE_NOTHING, NULL, 15, 0, "phase Degraded"},
    {"an instance not ready: wait", NULL, F_READY, 2, NULL, PGW_UPGRADE_WAITING, PGW_UPGRADE_NOTHING, NULL, 15, 0, "2/3 ready"},
    {"no primary: wait", NULL, F_PRIMARY_NONE, 0, NULL, PGW_UPGRADE_WAITING, PGW_UPGRADE_NOTHING, NULL, 15, 0, NULL},
    {"a restore in progress: wait", NULL, F_RESTORING, 1, NULL, PGW_UPGRADE_WAITING, PGW_UPGRADE_NOTHING, NULL, 15, 0, "restore"},
    {"a separate WAL volume: refused", NULL, F_WAL, 1, NULL, PGW_UPGRADE_REFUSED, PGW_UPGRADE_NOTHING, NULL, 15, 1, "walSize"},
    {"waiting, then healthy: check", PGW_UPGRADE_WAITING, F_NONE, 0, NULL, PGW_UPGRADE_CHECKING, PGW_UPGRADE_CREATE_CHECK, NULL, 15,
     0, NULL},
    {"check Job gone: create it again", PGW_UPGRADE_CHECKING, F_NONE, 0, NULL, PGW_UPGRADE_CHECKING, PGW_UPGRADE_CREATE_CHECK, NULL,
     15, 0, NULL},
    {"check running", PGW_UPGRADE_CHECKING, F_CHECK, PGW_JOB_ACTIVE, NULL, PGW_UPGRADE_CHECKING, PGW_UPGRADE_NOTHING, NULL, 15, 0,
     NULL},
    {"check failed: nothing touched", PGW_UPGRADE_CHECKING, F_CHECK, PGW_JOB_FAILED, "no 15 binaries", PGW_UPGRADE_CHECK_FAILED,
     PGW_UPGRADE_NOTHING, NULL, 15, 1, "no 15 binaries"},
    {"check failed stays", PGW_UPGRADE_CHECK_FAILED, F_NONE, 0, NULL, PGW_UPGRADE_CHECK_FAILED, PGW_UPGRADE_NOTHING, NULL, 15, 0,
     NULL},
    {"check passed: stop", PGW_UPGRADE_CHECKING, F_CHECK, PGW_JOB_SUCCEEDED, "ok", PGW_UPGRADE_STOPPING, PGW_UPGRADE_NOTHING,
     "Upgrading", 15, 0, "demo-1"},
    {"stopping: pods left", PGW_UPGRADE_STOPPING, F_PODS, 2, NULL, PGW_UPGRADE_STOPPING, PGW_UPGRADE_NOTHING, "Upgrading", 15, 0,
     "2 pod(s) left"},
    {"stopped: pg_upgrade", PGW_UPGRADE_STOPPING, F_PODS, 0, NULL, PGW_UPGRADE_UPGRADING, PGW_UPGRADE_CREATE_UPGRADE, "Upgrading",
     15, 0, "on the data of demo-1"},
    {"upgrading: Job runs", PGW_UPGRADE_UPGRADING, F_UPGRADE, PGW_JOB_ACTIVE, NULL, PGW_UPGRADE_UPGRADING, PGW_UPGRADE_NOTHING,
     "Upgrading", 15, 0, NULL},
    {"upgrading: Job gone, made again (idempotent)", PGW_UPGRADE_UPGRADING, F_NONE, 0, NULL, PGW_UPGRADE_UPGRADING,
     PGW_UPGRADE_CREATE_UPGRADE, "Upgrading", 15, 0, NULL},
    {"upgraded: finish", PGW_UPGRADE_UPGRADING, F_UPGRADE, PGW_JOB_SUCCEEDED, LINKED_OK, PGW_UPGRADE_STARTING, PGW_UPGRADE_FINISH,
     "Upgrading", 18, 0, "starting PostgreSQL 18"},
    {"succeeded without an identifier: stays stopped", PGW_UPGRADE_UPGRADING, F_UPGRADE, PGW_JOB_SUCCEEDED, "garbage",
     PGW_UPGRADE_FAILED_LINKED, PGW_UPGRADE_NOTHING, "Failed", 15, 1, "stays stopped"},
    {"failed before the link: old major again", PGW_UPGRADE_UPGRADING, F_UPGRADE, PGW_JOB_FAILED, UNLINKED, PGW_UPGRADE_FAILED,
     PGW_UPGRADE_NOTHING, NULL, 15, 1, "before its link step"},
    {"failed after the link: stays stopped", PGW_UPGRADE_UPGRADING, F_UPGRADE, PGW_JOB_FAILED, LINKED_BAD,
     PGW_UPGRADE_FAILED_LINKED, PGW_UPGRADE_NOTHING, "Failed", 15, 1, "restore a backup"},
    {"failed with an unreadable message: assume linked", PGW_UPGRADE_UPGRADING, F_UPGRADE, PGW_JOB_FAILED, "Error: killed",
     PGW_UPGRADE_FAILED_LINKED, PGW_UPGRADE_NOTHING, "Failed", 15, 1, "Error: killed"},
    {"failed linked stays", PGW_UPGRADE_FAILED_LINKED, F_NONE, 0, NULL, PGW_UPGRADE_FAILED_LINKED, PGW_UPGRADE_NOTHING, "Failed",
     15, 0, NULL},
    {"starting: not ready yet", PGW_UPGRADE_STARTING, F_READY, 1, NULL, PGW_UPGRADE_STARTING, PGW_UPGRADE_NOTHING, "Upgrading", 15,
     0, "1/3"},
    {"started: analyze", PGW_UPGRADE_STARTING, F_NONE, 0, NULL, PGW_UPGRADE_ANALYZING, PGW_UPGRADE_CREATE_ANALYZE, NULL, 15, 0,
     NULL},
    {"analyzing", PGW_UPGRADE_ANALYZING, F_ANALYZE, PGW_JOB_ACTIVE, NULL, PGW_UPGRADE_ANALYZING, PGW_UPGRADE_NOTHING, NULL, 15, 0,
     NULL},
    {"analyzed: done", PGW_UPGRADE_ANALYZING, F_ANALYZE, PGW_JOB_SUCCEEDED, NULL, PGW_UPGRADE_SUCCEEDED, PGW_UPGRADE_CLEANUP, NULL,
     15, 0, "statistics rebuilt"},
    {"analyze failed: done, with a warning", PGW_UPGRADE_ANALYZING, F_ANALYZE, PGW_JOB_FAILED, "timeout", PGW_UPGRADE_SUCCEEDED,
     PGW_UPGRADE_CLEANUP, NULL, 15, 1, "run vacuumdb"},
    {"cancelled while checking", PGW_UPGRADE_CHECKING, F_TARGET, 15, NULL, PGW_UPGRADE_CANCELLED, PGW_UPGRADE_CLEANUP, NULL, 15, 0,
     "back at 15"},
    {"cancelled while stopping", PGW_UPGRADE_STOPPING, F_TARGET, 15, NULL, PGW_UPGRADE_CANCELLED, PGW_UPGRADE_CLEANUP, NULL, 15, 0,
     NULL},
    {"cancelled after a failure", PGW_UPGRADE_FAILED, F_TARGET, 15, NULL, PGW_UPGRADE_CANCELLED, PGW_UPGRADE_CLEANUP, NULL, 15, 0,
     NULL},
    {"cancelled stays", PGW_UPGRADE_CANCELLED, F_TARGET, 15, NULL, PGW_UPGRADE_CANCELLED, PGW_UPGRADE_NOTHING, NULL, 15, 0, NULL},
    {"a cancel racing pg_upgrade waits for it", PGW_UPGRADE_UPGRADING, F_TARGET, 15, NULL, PGW_UPGRADE_UPGRADING,
     PGW_UPGRADE_NOTHING, "Upgrading", 15, 0, "set it back"},
    {"below the data's major: refused", NULL, F_TARGET, 14, NULL, PGW_UPGRADE_REFUSED, PGW_UPGRADE_NOTHING, NULL, 15, 1,
     "below the data's major 15"},
};

static void apply_field(struct pgw_upgrade_facts *f, enum field which, long long v, const char *msg)
{
    switch (which) {
    case F_NONE:
        break;
    case F_TARGET:
        f->target = v;
        break;
    case F_STEP:
        break;
    case F_PHASE:
        f->phase = "Degraded";
        break;
    case F_READY:
        f->ready = v;
        break;
    case F_PRIMARY_NONE:
        f->primary = NULL;
        break;
    case F_WAL:
        f->wal_volume = (int)v;
        break;
    case F_RESTORING:
        f->restoring = (int)v;
        break;
    case F_PODS:
        f->pods = v;
        break;
    case F_CHECK:
        f->check_job = (enum pgw_job_state)v;
        f->check_message = msg;
        break;
    case F_UPGRADE:
        f->upgrade_job = (enum pgw_job_state)v;
        f->upgrade_message = msg;
        break;
    case F_ANALYZE:
        f->analyze_job = (enum pgw_job_state)v;
        f->analyze_message = msg;
        break;
    }
}

START_TEST(test_steps)
{
    struct pgw_upgrade_facts f = base_facts();
    f.step = steps[_i].step;
    f.message = "the stored message";
    apply_field(&f, steps[_i].f1, steps[_i].v1, steps[_i].msg);
    struct pgw_upgrade_decision d;
    pgw_upgrade_decide(&f, &d);
    const char *name = steps[_i].name;
    if (steps[_i].want_step == NULL)
        ck_assert_msg(d.step == NULL, "%s: step %s", name, d.step);
    else
        ck_assert_msg(d.step != NULL && strcmp(d.step, steps[_i].want_step) == 0, "%s: step %s, want %s", name,
                      d.step ? d.step : "NULL", steps[_i].want_step);
    ck_assert_msg(d.action == steps[_i].want_action, "%s: action %d, want %d", name, d.action, steps[_i].want_action);
    if (steps[_i].want_phase == NULL)
        ck_assert_msg(d.phase == NULL, "%s: phase %s", name, d.phase);
    else
        ck_assert_msg(d.phase != NULL && strcmp(d.phase, steps[_i].want_phase) == 0, "%s: phase %s", name,
                      d.phase ? d.phase : "NULL");
    ck_assert_msg(d.running == steps[_i].want_running, "%s: running %lld", name, d.running);
    ck_assert_msg(d.warning == steps[_i].want_warning, "%s: warning %d", name, d.warning);
    if (steps[_i].want_text != NULL)
        ck_assert_msg(strstr(d.message, steps[_i].want_text) != NULL, "%s: message \"%s\" lacks \"%s\"", name, d.message,
                      steps[_i].want_text);
    if (d.step != NULL) {
        int done = !pgw_upgrade_before_link(d.step)
                       ? strcmp(d.step, PGW_UPGRADE_SUCCEEDED) == 0 || strcmp(d.step, PGW_UPGRADE_FAILED_LINKED) == 0
                       : strcmp(d.step, PGW_UPGRADE_WAITING) != 0 && strcmp(d.step, PGW_UPGRADE_CHECKING) != 0 &&
                             strcmp(d.step, PGW_UPGRADE_STOPPING) != 0;
        ck_assert_str_eq(d.condition_status, done ? "False" : "True");
    }
    if (d.action == PGW_UPGRADE_FINISH)
        ck_assert_str_eq(d.system_identifier, "7715544524313211598");
}
END_TEST

/* A failure that keeps its message (the stored one) when nothing changes. */
START_TEST(test_keeps_message)
{
    struct pgw_upgrade_facts f = base_facts();
    f.step = PGW_UPGRADE_CHECK_FAILED;
    f.message = "the pre-upgrade check failed: x";
    struct pgw_upgrade_decision d;
    pgw_upgrade_decide(&f, &d);
    ck_assert_str_eq(d.message, "the pre-upgrade check failed: x");
    ck_assert_int_eq(d.warning, 0); /* the Warning Event was raised on the transition */
}
END_TEST

/* With a backup repository the stanza is upgraded (archive-push refuses new WAL until then), before ANALYZE. */
static const struct {
    const char *step;
    enum pgw_job_state stanza, analyze;
    const char *want_step;
    enum pgw_upgrade_action want_action;
    int want_warning;
    const char *want_text;
} stanza_steps[] = {
    {PGW_UPGRADE_STARTING, PGW_JOB_ABSENT, PGW_JOB_ABSENT, PGW_UPGRADE_ANALYZING, PGW_UPGRADE_CREATE_STANZA, 0,
     "pgBackRest stanza"},
    {PGW_UPGRADE_ANALYZING, PGW_JOB_ABSENT, PGW_JOB_ABSENT, PGW_UPGRADE_ANALYZING, PGW_UPGRADE_CREATE_STANZA, 0, NULL},
    {PGW_UPGRADE_ANALYZING, PGW_JOB_ACTIVE, PGW_JOB_ABSENT, PGW_UPGRADE_ANALYZING, PGW_UPGRADE_CREATE_ANALYZE, 0, NULL},
    {PGW_UPGRADE_ANALYZING, PGW_JOB_ACTIVE, PGW_JOB_SUCCEEDED, PGW_UPGRADE_ANALYZING, PGW_UPGRADE_NOTHING, 0, NULL},
    {PGW_UPGRADE_ANALYZING, PGW_JOB_SUCCEEDED, PGW_JOB_SUCCEEDED, PGW_UPGRADE_SUCCEEDED, PGW_UPGRADE_CLEANUP, 0,
     "the pgBackRest stanza was upgraded; statistics rebuilt"},
    {PGW_UPGRADE_ANALYZING, PGW_JOB_FAILED, PGW_JOB_SUCCEEDED, PGW_UPGRADE_SUCCEEDED, PGW_UPGRADE_CLEANUP, 1,
     "stanza-upgrade failed (boom): WAL archiving and backups fail"},
};

START_TEST(test_stanza_steps)
{
    struct pgw_upgrade_facts f = base_facts();
    f.target = f.running = 18;
    f.repository = 1;
    f.step = stanza_steps[_i].step;
    f.message = "stored";
    f.stanza_job = stanza_steps[_i].stanza;
    f.stanza_message = "boom";
    f.analyze_job = stanza_steps[_i].analyze;
    struct pgw_upgrade_decision d;
    pgw_upgrade_decide(&f, &d);
    ck_assert_str_eq(d.step, stanza_steps[_i].want_step);
    ck_assert_int_eq(d.action, stanza_steps[_i].want_action);
    ck_assert_int_eq(d.warning, stanza_steps[_i].want_warning);
    if (stanza_steps[_i].want_text != NULL)
        ck_assert_msg(strstr(d.message, stanza_steps[_i].want_text) != NULL, "row %d: %s", _i, d.message);
}
END_TEST

START_TEST(test_replicas)
{
    ck_assert_int_eq(pgw_upgrade_replicas(NULL, 3), 3);
    ck_assert_int_eq(pgw_upgrade_replicas(PGW_UPGRADE_CHECKING, 3), 3);
    ck_assert_int_eq(pgw_upgrade_replicas(PGW_UPGRADE_STOPPING, 3), 0);
    ck_assert_int_eq(pgw_upgrade_replicas(PGW_UPGRADE_UPGRADING, 3), 0);
    ck_assert_int_eq(pgw_upgrade_replicas(PGW_UPGRADE_FAILED_LINKED, 3), 0);
    ck_assert_int_eq(pgw_upgrade_replicas(PGW_UPGRADE_FAILED, 3), 3); /* the old major starts again */
    ck_assert_int_eq(pgw_upgrade_replicas(PGW_UPGRADE_STARTING, 3), 3);
}
END_TEST

START_TEST(test_running_major)
{
    const char *images[] = {"ghcr.io/pgwarden/postgres:14", "ghcr.io/pgwarden/postgres:15", NULL, "x/pg:17",
                            "ghcr.io/pgwarden/postgres:18"};
    ck_assert_int_eq(pgw_upgrade_running_major(16, "ghcr.io/pgwarden/postgres:15", images, 14, 5, 18), 16);
    ck_assert_int_eq(pgw_upgrade_running_major(0, "ghcr.io/pgwarden/postgres:15", images, 14, 5, 18), 15);
    ck_assert_int_eq(pgw_upgrade_running_major(0, "x/pg:17", images, 14, 5, 18), 17);
    ck_assert_int_eq(pgw_upgrade_running_major(0, "registry:5000/my/pg:16.4-bookworm", images, 14, 5, 18), 16);
    ck_assert_int_eq(pgw_upgrade_running_major(0, "registry:5000/my/pg@sha256:abc", images, 14, 5, 18), 0);
    ck_assert_int_eq(pgw_upgrade_running_major(0, "my/pg:latest", images, 14, 5, 18), 0);
    ck_assert_int_eq(pgw_upgrade_running_major(0, NULL, images, 14, 5, 18), 18); /* a new cluster */
}
END_TEST

START_TEST(test_parse_result)
{
    int linked = -1;
    char sysid[32], text[64];
    ck_assert_int_eq(pgw_upgrade_parse_result(LINKED_OK, &linked, sysid, sizeof(sysid), text, sizeof(text)), 0);
    ck_assert_int_eq(linked, 1);
    ck_assert_str_eq(sysid, "7715544524313211598");
    ck_assert_str_eq(text, "upgraded");
    ck_assert_int_eq(pgw_upgrade_parse_result(UNLINKED, &linked, sysid, sizeof(sysid), text, sizeof(text)), 0);
    ck_assert_int_eq(linked, 0);
    ck_assert_str_eq(sysid, "");
    ck_assert_int_eq(pgw_upgrade_parse_result("{\"linked\":true,\"systemIdentifier\":\"12a\"}", &linked, sysid, sizeof(sysid), text,
                                              sizeof(text)),
                     -1);
    ck_assert_int_eq(pgw_upgrade_parse_result("not json", &linked, sysid, sizeof(sysid), text, sizeof(text)), -1);
    ck_assert_int_eq(pgw_upgrade_parse_result(NULL, &linked, sysid, sizeof(sysid), text, sizeof(text)), -1);
}
END_TEST

/* --- the Jobs ------------------------------------------------------------------------ */

static const char *env_of(const json_t *job, const char *name)
{
    json_t *c = json_array_get(
        json_object_get(json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "spec"), "containers"), 0);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(c, "env"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            return json_string_value(json_object_get(e, "value"));
    }
    return NULL;
}

START_TEST(test_jobs)
{
    struct pgw_config config, *cfg = &config;
    pgw_config_init_defaults(cfg);
    struct pgw_render_ctx ctx = {.config = cfg};
    json_t *cluster = defaulted_cluster(base_json, "{'spec':{'postgresVersion':18}}", "CREATE", NOW);

    json_t *job = pgw_render_upgrade_job(cluster, &ctx, 15, "demo-1");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(job, "metadata"), "name")), "demo-upgrade");
    ck_assert_str_eq(env_of(job, "PGW_FROM"), "15");
    ck_assert_str_eq(env_of(job, "PGW_TO"), "18");
    ck_assert_str_eq(env_of(job, "PGW_PRIMARY"), "demo-1");
    ck_assert_ptr_null(env_of(job, "PGHOST")); /* offline: the database is stopped */
    json_t *spec = json_object_get(job, "spec");
    ck_assert_int_eq(json_integer_value(json_object_get(spec, "backoffLimit")), 0);
    json_t *pod = json_object_get(json_object_get(spec, "template"), "spec");
    json_t *vol = json_array_get(json_object_get(pod, "volumes"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(vol, "persistentVolumeClaim"), "claimName")),
                     "pgdata-demo-1");
    json_t *c = json_array_get(json_object_get(pod, "containers"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c, "image")), pgw_config_postgres_image(cfg, 18));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_object_get(job, "metadata"), "labels"), PGW_LABEL_UPGRADE_TO)),
        "18");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_object_get(job, "metadata"), "labels"), PGW_LABEL_UPGRADE_FROM)),
        "15");
    /* the pod does not carry the label that selects the database pods */
    ck_assert_ptr_null(json_object_get(json_object_get(json_object_get(json_object_get(spec, "template"), "metadata"), "labels"),
                                       "pgwarden.io/cluster"));
    json_decref(job);

    job = pgw_render_upgrade_check_job(cluster, &ctx, 15, "10.88.0.7");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(job, "metadata"), "name")), "demo-upgrade-check");
    ck_assert_str_eq(env_of(job, "PGHOST"), "10.88.0.7");
    ck_assert_str_eq(env_of(job, "PGSSLMODE"), "require");
    json_decref(job);

    job = pgw_render_upgrade_analyze_job(cluster, &ctx, 15, "10.88.0.7");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(job, "metadata"), "name")), "demo-upgrade-analyze");
    json_decref(job);

    /* spec.image wins over the configured image */
    json_t *custom = defaulted_cluster(base_json, "{'spec':{'postgresVersion':18,'image':'my.registry/pg:18.1'}}", "CREATE", NOW);
    job = pgw_render_upgrade_job(custom, &ctx, 15, "demo-0");
    c = json_array_get(
        json_object_get(json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "spec"), "containers"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c, "image")), "my.registry/pg:18.1");
    json_decref(job);
    json_decref(custom);
    json_decref(cluster);
    pgw_config_dispose(cfg);
}
END_TEST

START_TEST(test_stanza_job)
{
    struct pgw_config config;
    pgw_config_init_defaults(&config);
    struct pgw_render_ctx ctx = {.config = &config};
    json_t *none = defaulted_cluster(base_json, "{'spec':{'postgresVersion':18}}", "CREATE", NOW);
    ck_assert_ptr_null(pgw_render_upgrade_stanza_job(none, &ctx, 15));
    json_t *cluster = defaulted_cluster(
        base_json, "{'spec':{'postgresVersion':18,'backup':{'repository':{'volume':{'size':'5Gi'}}}}}", "CREATE", NOW);
    json_t *job = pgw_render_upgrade_stanza_job(cluster, &ctx, 15);
    ck_assert_ptr_nonnull(job);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(job, "metadata"), "name")), "demo-upgrade-stanza");
    json_t *command = json_object_get(
        json_array_get(
            json_object_get(json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "spec"), "containers"), 0),
        "command");
    ck_assert_str_eq(json_string_value(json_array_get(command, json_array_size(command) - 1)), "stanza-upgrade");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_object_get(job, "metadata"), "labels"), PGW_LABEL_UPGRADE_FROM)),
        "15");
    json_decref(job);
    json_decref(cluster);
    json_decref(none);
    pgw_config_dispose(&config);
}
END_TEST

START_TEST(test_set_replicas)
{
    json_t *children = q("[{'kind':'Service','spec':{}},{'kind':'StatefulSet','spec':{'replicas':3}}]");
    pgw_render_upgrade_set_replicas(children, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_array_get(children, 1), "spec"), "replicas")), 0);
    ck_assert_ptr_null(json_object_get(json_object_get(json_array_get(children, 0), "spec"), "replicas"));
    json_decref(children);
}
END_TEST

START_TEST(test_scripts)
{
    /* The promises the step machine relies on. */
    const char *up = pgw_render_upgrade_script();
    ck_assert_ptr_nonnull(strstr(up, "pg_upgrade\" --check"));
    ck_assert_ptr_nonnull(strstr(up, "pg_upgrade\" --link"));
    ck_assert_ptr_nonnull(strstr(up, "global/pg_control.old")); /* how a failure tells the link step */
    ck_assert_ptr_nonnull(strstr(up, "'shut down'"));           /* a replica's or a crashed directory is refused */
    ck_assert_ptr_nonnull(strstr(up, "readlink -f"));
    ck_assert_ptr_nonnull(strstr(pgw_render_upgrade_analyze_script(), "--analyze-in-stages"));
    ck_assert_ptr_nonnull(strstr(pgw_render_upgrade_check_script(), "pg_prepared_xacts"));
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
    Suite *s = suite_create("upgrade");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_admission, 0, N(admission));
    tcase_add_loop_test(tc, test_steps, 0, N(steps));
    tcase_add_loop_test(tc, test_stanza_steps, 0, N(stanza_steps));
    tcase_add_test(tc, test_stanza_job);
    tcase_add_test(tc, test_keeps_message);
    tcase_add_test(tc, test_replicas);
    tcase_add_test(tc, test_running_major);
    tcase_add_test(tc, test_parse_result);
    tcase_add_test(tc, test_jobs);
    tcase_add_test(tc, test_set_replicas);
    tcase_add_test(tc, test_scripts);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
