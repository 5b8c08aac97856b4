/*
 * Unit tests for controller/decide/backup_decide: the Job state, the termination
 * message of a Job's pods, the one-pgBackRest-per-stanza gate, a backup's
 * status from its Job, and the restore checks. Case tables throughout.
 */
#include "helpers.h"

#include "common/json_pack.h"
#include "controller/decide/backup_decide.h"

/* --- Job state ---------------------------------------------------------------------- */

static const struct {
    const char *job; /* NULL: no Job */
    enum pgw_job_state want;
    const char *reason;
} job_cases[] = {
    {NULL, PGW_JOB_ABSENT, NULL},
    {"{'metadata':{'name':'j'}}", PGW_JOB_PENDING, NULL},
    {"{'status':{}}", PGW_JOB_PENDING, NULL},
    {"{'status':{'startTime':'2025-01-01T00:00:00Z'}}", PGW_JOB_ACTIVE, NULL},
    {"{'status':{'active':1}}", PGW_JOB_ACTIVE, NULL},
    {"{'status':{'startTime':'t','conditions':[{'type':'Complete','status':'True'}]}}", PGW_JOB_SUCCEEDED, NULL},
    {"{'status':{'startTime':'t','conditions':[{'type':'Complete','status':'False'}]}}", PGW_JOB_ACTIVE, NULL},
    {"{'status':{'conditions':[{'type':'SuccessCriteriaMet','status':'True'}]}}", PGW_JOB_PENDING, NULL},
    {"{'status':{'conditions':[{'type':'FailureTarget','status':'True'},{'type':'Failed','status':'True',"
     "'reason':'BackoffLimitExceeded','message':'m'}]}}",
     PGW_JOB_FAILED, "BackoffLimitExceeded"},
    {"{'status':{'conditions':[{'type':'Failed','status':'True','reason':'DeadlineExceeded'}]}}", PGW_JOB_FAILED,
     "DeadlineExceeded"},
};

START_TEST(job_state_table)
{
    json_t *job = job_cases[_i].job != NULL ? q(job_cases[_i].job) : NULL;
    const char *reason = NULL, *message = NULL;
    enum pgw_job_state got = pgw_backup_decide_job_state(job, &reason, &message);
    ck_assert_msg(got == job_cases[_i].want, "case %d: got %d", _i, got);
    if (job_cases[_i].reason != NULL)
        ck_assert_str_eq(reason, job_cases[_i].reason);
    else
        ck_assert_ptr_null(reason);
    json_decref(job);
}
END_TEST

/* --- termination message ------------------------------------------------------------- */

#define POD(phase, cname, msg, when)                                                                                               \
    "{'status':{'phase':'" phase "','containerStatuses':[{'name':'" cname "','state':{'terminated':{'message':'" msg               \
    "','finishedAt':'" when "'}}}]}}"

static const struct {
    const char *pods;
    int succeeded;
    const char *want; /* NULL: none */
} message_cases[] = {
    {"[]", 1, NULL},
    {"[{'status':{'phase':'Running'}}]", 1, NULL},
    {"[" POD("Succeeded", "pgbackrest", "info", "2025-01-01T00:00:01Z") "]", 1, "info"},
    {"[" POD("Succeeded", "other", "info", "2025-01-01T00:00:01Z") "]", 1, NULL},
    {"[" POD("Running", "pgbackrest", "info", "2025-01-01T00:00:01Z") "]", 1, NULL},
    /* the matching phase wins over a newer pod of the other phase */
    {"[" POD("Failed", "pgbackrest", "err", "2025-01-01T00:00:09Z") "," POD("Succeeded", "pgbackrest", "ok",
                                                                            "2025-01-01T00:00:01Z") "]",
     1, "ok"},
    {"[" POD("Failed", "pgbackrest", "err", "2025-01-01T00:00:09Z") "," POD("Succeeded", "pgbackrest", "ok",
                                                                            "2025-01-01T00:00:01Z") "]",
     0, "err"},
    /* retries: the newest failure */
    {"[" POD("Failed", "pgbackrest", "first", "2025-01-01T00:00:01Z") "," POD("Failed", "pgbackrest", "last",
                                                                              "2025-01-01T00:00:05Z") "]",
     0, "last"},
    /* no pod of the asked phase: another one is better than nothing */
    {"[" POD("Failed", "pgbackrest", "err", "2025-01-01T00:00:01Z") "]", 1, "err"},
};

START_TEST(termination_message_table)
{
    json_t *pods = q(message_cases[_i].pods);
    const char *got = pgw_backup_decide_termination_message(pods, "pgbackrest", message_cases[_i].succeeded);
    if (message_cases[_i].want == NULL)
        ck_assert_msg(got == NULL, "case %d: got %s", _i, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, message_cases[_i].want) == 0, "case %d: got %s", _i, got ? got : "(null)");
    json_decref(pods);
}
END_TEST

/* --- gate ---------------------------------------------------------------------------- */

#define BK(name, ts, cluster, phase)                                                                                               \
    "{'metadata':{'name':'" name "','uid':'u-" name "','creationTimestamp':'" ts "'},'spec':{'cluster':'" cluster                  \
    "','type':'full'},'status':{'phase':'" phase "'}}"
#define BK_NEW(name, ts, cluster)                                                                                                  \
    "{'metadata':{'name':'" name "','uid':'u-" name "','creationTimestamp':'" ts "'},'spec':{'cluster':'" cluster                  \
    "','type':'full'}}"
#define JOB(name, component, backup, status)                                                                                       \
    "{'metadata':{'name':'" name "','labels':{'app.kubernetes.io/component':'" component "','pgwarden.io/backup':'" backup         \
    "'}},'status':" status "}"
#define T1 "2025-01-01T00:00:01Z"
#define T2 "2025-01-01T00:00:02Z"
#define DONE "{'conditions':[{'type':'Complete','status':'True'}]}"
#define FAILED "{'conditions':[{'type':'Failed','status':'True'}]}"
#define ACTIVE "{'startTime':'t','active':1}"

static const struct {
    const char *name;
    const char *backup, *backups, *jobs;
    int wait;
    const char *why; /* substring */
} gate_cases[] = {
    {"alone", BK_NEW("b", T2, "c"), "[" BK_NEW("b", T2, "c") "]", "[]", 0, NULL},
    {"others finished", BK_NEW("b", T2, "c"), "[" BK("a", T1, "c", "Succeeded") "," BK("z", T1, "c", "Failed") "]", "[]", 0, NULL},
    {"another Running", BK_NEW("b", T1, "c"), "[" BK("z", T2, "c", "Running") "]", "[]", 1, "waiting for backup z"},
    {"another cluster's Running", BK_NEW("b", T1, "c"), "[" BK("z", T1, "d", "Running") "]", "[]", 0, NULL},
    {"queued before (time)", BK_NEW("b", T2, "c"), "[" BK("z", T1, "c", "Pending") "]", "[]", 1, "queued before"},
    {"queued before (name)", BK_NEW("b", T1, "c"), "[" BK_NEW("a", T1, "c") "]", "[]", 1, "backup a"},
    {"queued after", BK_NEW("a", T1, "c"), "[" BK_NEW("b", T1, "c") "," BK("z", T2, "c", "Pending") "]", "[]", 0, NULL},
    {"active Job of another backup", BK_NEW("b", T1, "c"), "[]", "[" JOB("x", "backup", "x", ACTIVE) "]", 1, "Job x"},
    {"pending Job of a schedule", BK_NEW("b", T1, "c"), "[]",
     "[{'metadata':{'name':'c-backup-nightly-1','labels':{'app.kubernetes.io/component':'backup'}},'status':{}}]", 1,
     "c-backup-nightly-1"},
    {"stanza-create running", BK_NEW("b", T1, "c"), "[]",
     "[{'metadata':{'name':'c-stanza-create','labels':{'app.kubernetes.io/component':'backup'}},'status':" ACTIVE "}]", 1,
     "c-stanza-create"},
    {"finished Jobs", BK_NEW("b", T1, "c"), "[]", "[" JOB("x", "backup", "x", DONE) "," JOB("y", "backup", "y", FAILED) "]", 0,
     NULL},
    {"its own Job", BK_NEW("b", T1, "c"), "[]", "[" JOB("b", "backup", "b", ACTIVE) "]", 0, NULL},
    {"not a backup Job", BK_NEW("b", T1, "c"), "[]", "[" JOB("x", "database", "", ACTIVE) "]", 0, NULL},
    {"deleted backup ahead", BK_NEW("b", T2, "c"),
     "[{'metadata':{'name':'a','uid':'u-a','creationTimestamp':'" T1 "','deletionTimestamp':'" T2 "'},'spec':{'cluster':'c'}}]",
     "[]", 0, NULL},
};

START_TEST(gate_table)
{
    json_t *b = q(gate_cases[_i].backup), *bs = q(gate_cases[_i].backups), *js = q(gate_cases[_i].jobs);
    char *why = NULL;
    int got = pgw_backup_decide_gate(b, bs, js, &why);
    ck_assert_msg(got == gate_cases[_i].wait, "%s: got %d (%s)", gate_cases[_i].name, got, why ? why : "");
    if (gate_cases[_i].why != NULL)
        ck_assert_msg(why != NULL && strstr(why, gate_cases[_i].why) != NULL, "%s: %s", gate_cases[_i].name, why);
    else
        ck_assert_ptr_null(why);
    free(why);
    json_decref(b);
    json_decref(bs);
    json_decref(js);
}
END_TEST

/* Two reconciles of two queued backups agree on exactly one winner. */
START_TEST(gate_picks_one)
{
    json_t *a = q(BK_NEW("a", T1, "c")), *b = q(BK_NEW("b", T1, "c"));
    json_t *all = pgw_json_pack("[O,O]", a, b), *none = json_array();
    char *wa = NULL, *wb = NULL;
    ck_assert_int_eq(pgw_backup_decide_gate(a, all, none, &wa) + pgw_backup_decide_gate(b, all, none, &wb), 1);
    free(wa);
    free(wb);
    json_decref(a);
    json_decref(b);
    json_decref(all);
    json_decref(none);
}
END_TEST

/* --- status from the Job -------------------------------------------------------------- */

/* One set as `pgbackrest info --output=json --set=...` prints it (fields as in test/fixtures/pgbackrest/info.json). */
#define INFO                                                                                                                       \
    "[{'name':'db','backup':[{'label':'20261121-152229F','type':'full','error':false,'info':{'size':23025116,"                     \
    "'repository':{'delta':2824673,'size':2824673}},'lsn':{'start':'0/2000028','stop':'0/2000100'},"                               \
    "'timestamp':{'start':1795274549,'stop':1795274552}}]}]"

static const struct {
    const char *name;
    const char *old, *job, *message;
    const char *phase, *started, *completed, *label, *message_has;
    long long size; /* -1: absent */
} status_cases[] = {
    {"created", NULL, "{'metadata':{'name':'b'}}", NULL, "Running", "NOW", NULL, NULL, "Job b is running", -1},
    {"started", NULL, "{'metadata':{'name':'b'},'status':{'startTime':'2025-01-01T00:00:00Z'}}", NULL, "Running",
     "2025-01-01T00:00:00Z", NULL, NULL, "running", -1},
    {"startedAt kept", "{'phase':'Running','startedAt':'2025-01-01T00:00:07Z'}",
     "{'metadata':{'name':'b'},'status':{'startTime':'2025-01-01T00:00:00Z'}}", NULL, "Running", "2025-01-01T00:00:07Z", NULL, NULL,
     NULL, -1},
    {"succeeded with info", NULL,
     "{'metadata':{'name':'b'},'status':{'startTime':'s','conditions':[{'type':'Complete','status':'True'}]}}", INFO, "Succeeded",
     "2026-11-21T15:22:29Z", "2026-11-21T15:22:32Z", "20261121-152229F", "backup 20261121-152229F completed", 2824673},
    {"succeeded, no message", "{'phase':'Running','startedAt':'2025-01-01T00:00:07Z'}",
     "{'metadata':{'name':'b'},'status':{'completionTime':'2025-01-01T00:09:00Z','conditions':[{'type':'Complete','status':"
     "'True'}]}}",
     NULL, "Succeeded", "2025-01-01T00:00:07Z", "2025-01-01T00:09:00Z", NULL, "holds no backup details", -1},
    {"succeeded, message not info", NULL, "{'metadata':{'name':'b'},'status':{'conditions':[{'type':'Complete','status':'True'}]}}",
     "truncated [{", "Succeeded", "NOW", "NOW", NULL, "not JSON", -1},
    {"failed", "{'phase':'Running','startedAt':'2025-01-01T00:00:07Z'}",
     "{'metadata':{'name':'b'},'status':{'conditions':[{'type':'Failed','status':'True','reason':'BackoffLimitExceeded',"
     "'message':'Job has reached the specified backoff limit','lastTransitionTime':'2025-01-01T00:05:00Z'}]}}",
     "ERROR: [056]: unable to find primary cluster", "Failed", "2025-01-01T00:00:07Z", "2025-01-01T00:05:00Z", NULL,
     "Job b failed (BackoffLimitExceeded: Job has reached the specified backoff limit); pgBackRest: ERROR: [056]", -1},
    {"failed, no message", NULL,
     "{'metadata':{'name':'b'},'status':{'conditions':[{'type':'Failed','status':'True','reason':'DeadlineExceeded'}]}}", NULL,
     "Failed", "NOW", "NOW", NULL, "(DeadlineExceeded: no message)", -1},
};

static const char *sget(const json_t *s, const char *k)
{
    return json_string_value(json_object_get(s, k));
}

/* The message as the pod reports it: the table's ' are " (like q()). Caller frees. */
static char *dq(const char *text)
{
    if (text == NULL)
        return NULL;
    char *s = pgw_strdup(text);
    for (char *p = s; *p; ++p)
        if (*p == '\'')
            *p = '"';
    return s;
}

START_TEST(status_table)
{
    json_t *old = status_cases[_i].old != NULL ? q(status_cases[_i].old) : NULL, *job = q(status_cases[_i].job);
    char *message = dq(status_cases[_i].message);
    json_t *st = pgw_backup_decide_status(old, job, message, "NOW");
    const char *n = status_cases[_i].name;
    ck_assert_msg(strcmp(sget(st, "phase"), status_cases[_i].phase) == 0, "%s: phase %s", n, sget(st, "phase"));
    ck_assert_msg(strcmp(sget(st, "startedAt"), status_cases[_i].started) == 0, "%s: startedAt %s", n, sget(st, "startedAt"));
    if (status_cases[_i].completed != NULL)
        ck_assert_msg(sget(st, "completedAt") != NULL && strcmp(sget(st, "completedAt"), status_cases[_i].completed) == 0,
                      "%s: completedAt %s", n, sget(st, "completedAt"));
    else
        ck_assert_ptr_null(json_object_get(st, "completedAt"));
    if (status_cases[_i].label != NULL) {
        ck_assert_str_eq(sget(st, "backupLabel"), status_cases[_i].label);
        ck_assert_str_eq(sget(st, "lsnStart"), "0/2000028");
        ck_assert_str_eq(sget(st, "lsnStop"), "0/2000100");
    } else
        ck_assert_ptr_null(json_object_get(st, "backupLabel"));
    if (status_cases[_i].size >= 0)
        ck_assert_int_eq(json_integer_value(json_object_get(st, "sizeBytes")), status_cases[_i].size);
    else
        ck_assert_ptr_null(json_object_get(st, "sizeBytes"));
    ck_assert_ptr_null(json_object_get(st, "type")); /* not a status field */
    if (status_cases[_i].message_has != NULL)
        ck_assert_msg(strstr(sget(st, "message"), status_cases[_i].message_has) != NULL, "%s: %s", n, sget(st, "message"));
    /* While running, recomputing from what was written changes nothing (no write loop; finished phases are final). */
    json_t *again = pgw_backup_decide_status(st, job, message, "LATER");
    if (strcmp(status_cases[_i].phase, "Running") == 0)
        ck_assert_msg(json_equal(again, st), "%s: recomputed status differs", n);
    json_decref(again);
    json_decref(st);
    json_decref(job);
    json_decref(old);
    free(message);
}
END_TEST

/* A long failure output is cut to its end (where pgBackRest's error is). */
START_TEST(failure_detail_cut)
{
    char *long_msg = pgw_malloc(5000);
    memset(long_msg, 'x', 4999);
    long_msg[4999] = '\0';
    memcpy(long_msg + 4980, "ERROR: the end", 14);
    json_t *job = q("{'metadata':{'name':'b'},'status':{'conditions':[{'type':'Failed','status':'True'}]}}");
    json_t *st = pgw_backup_decide_status(NULL, job, long_msg, "NOW");
    const char *m = sget(st, "message");
    ck_assert_ptr_nonnull(strstr(m, "ERROR: the end"));
    ck_assert_uint_lt(strlen(m), 1200);
    json_decref(st);
    json_decref(job);
    free(long_msg);
}
END_TEST

/* --- restore checks ----------------------------------------------------------------- */

#define SRC "{'metadata':{'name':'orders'},'spec':{'backup':{'repository':{'volume':{'size':'1Gi'}}}}}"
#define SRC_NO_REPO "{'metadata':{'name':'orders'},'spec':{}}"
#define R(extra) "{'metadata':{'name':'r1'},'spec':{'source':{'cluster':'orders'" extra "},'newCluster':{'name':'n1'}}}"
#define BACKUP(cluster, phase) "{'metadata':{'name':'b1'},'spec':{'cluster':'" cluster "'},'status':{'phase':'" phase "'}}"

static const struct {
    const char *name;
    const char *restore, *source, *backup, *existing;
    enum pgw_restore_action want;
    const char *why; /* substring, or NULL for CREATE */
} restore_cases[] = {
    {"all good", R(""), SRC, NULL, NULL, PGW_RESTORE_CREATE, NULL},
    {"all good with backup", R(",'backup':'b1'"), SRC, BACKUP("orders", "Succeeded"), NULL, PGW_RESTORE_CREATE, NULL},
    {"source missing", R(""), NULL, NULL, NULL, PGW_RESTORE_WAIT, "source cluster orders does not exist"},
    {"source without repository", R(""), SRC_NO_REPO, NULL, NULL, PGW_RESTORE_WAIT, "has no backup repository"},
    {"backup missing", R(",'backup':'b1'"), SRC, NULL, NULL, PGW_RESTORE_WAIT, "backup b1 does not exist"},
    {"backup running", R(",'backup':'b1'"), SRC, BACKUP("orders", "Running"), NULL, PGW_RESTORE_WAIT,
     "has not succeeded yet (phase Running)"},
    {"backup failed", R(",'backup':'b1'"), SRC, BACKUP("orders", "Failed"), NULL, PGW_RESTORE_FAIL, "backup b1 failed"},
    {"backup of another cluster", R(",'backup':'b1'"), SRC, BACKUP("other", "Succeeded"), NULL, PGW_RESTORE_FAIL,
     "is a backup of cluster other, not of orders"},
    {"name taken", R(""), SRC, NULL, "{'metadata':{'name':'n1'}}", PGW_RESTORE_WAIT, "already exists and was not created"},
    {"name taken by another restore", R(""), SRC, NULL, "{'metadata':{'name':'n1','labels':{'pgwarden.io/restore':'r2'}}}",
     PGW_RESTORE_WAIT, "not created by this restore"},
    {"ours", R(""), NULL, NULL, "{'metadata':{'name':'n1','labels':{'pgwarden.io/restore':'r1'}}}", PGW_RESTORE_FOLLOW,
     "created by this restore"},
    {"onto the source", "{'metadata':{'name':'r1'},'spec':{'source':{'cluster':'orders'},'newCluster':{'name':'orders'}}}", SRC,
     NULL, NULL, PGW_RESTORE_FAIL, "must differ"},
    {"no source named", "{'metadata':{'name':'r1'},'spec':{}}", SRC, NULL, NULL, PGW_RESTORE_FAIL, "source.cluster"},
};

START_TEST(restore_table)
{
    json_t *r = q(restore_cases[_i].restore);
    json_t *src = restore_cases[_i].source ? q(restore_cases[_i].source) : NULL;
    json_t *b = restore_cases[_i].backup ? q(restore_cases[_i].backup) : NULL;
    json_t *e = restore_cases[_i].existing ? q(restore_cases[_i].existing) : NULL;
    char *why = NULL;
    enum pgw_restore_action got = pgw_backup_decide_restore(r, src, b, e, &why);
    ck_assert_msg(got == restore_cases[_i].want, "%s: got %d (%s)", restore_cases[_i].name, got, why ? why : "");
    if (restore_cases[_i].why != NULL)
        ck_assert_msg(why != NULL && strstr(why, restore_cases[_i].why) != NULL, "%s: %s", restore_cases[_i].name, why);
    else
        ck_assert_ptr_null(why);
    free(why);
    json_decref(r);
    json_decref(src);
    json_decref(b);
    json_decref(e);
}
END_TEST

static const struct {
    const char *restore, *name, *restored_to;
} target_cases[] = {
    {"{'metadata':{'name':'r'},'spec':{}}", "r", "latest (the end of the archived WAL)"},
    {"{'metadata':{'name':'r'},'spec':{'newCluster':{'name':'n'},'target':{'time':'2025-06-01T09:30:00Z'}}}", "n",
     "time 2025-06-01T09:30:00Z"},
    {"{'metadata':{'name':'r'},'spec':{'target':{'lsn':'0/16B3748'}}}", "r", "lsn 0/16B3748"},
    {"{'metadata':{'name':'r'},'spec':{'target':{'xid':1234}}}", "r", "xid 1234"},
    {"{'metadata':{'name':'r'},'spec':{'target':{'name':'before-migration'}}}", "r", "name before-migration"},
    {"{'metadata':{'name':'r'},'spec':{'target':{'immediate':true}}}", "r", "immediate (the end of the backup)"},
    {"{'metadata':{'name':'r'},'spec':{'target':{'immediate':false}}}", "r", "latest (the end of the archived WAL)"},
};

START_TEST(restore_names_and_targets)
{
    json_t *r = q(target_cases[_i].restore);
    ck_assert_str_eq(pgw_backup_decide_restore_name(r), target_cases[_i].name);
    char *to = pgw_backup_decide_restored_to(r);
    ck_assert_str_eq(to, target_cases[_i].restored_to);
    free(to);
    json_decref(r);
}
END_TEST

/* Scheduled backups move lastBackup: the newest succeeded Job of one of the cluster's schedules. */
static const struct {
    const char *jobs;
    const char *want;
} last_scheduled_cases[] = {
    {"[]", NULL},
    /* succeeded, scheduled, of the cluster: the newest wins */
    {"[{'metadata':{'labels':{'pgwarden.io/cluster':'c','pgwarden.io/backup-schedule':'n'}},'status':{'completionTime':"
     "'2026-01-02T00:00:00Z','conditions':[{'type':'Complete','status':'True'}]}},"
     "{'metadata':{'labels':{'pgwarden.io/cluster':'c','pgwarden.io/backup-schedule':'h'}},'status':{'completionTime':"
     "'2026-01-03T00:00:00Z','conditions':[{'type':'Complete','status':'True'}]}}]",
     "2026-01-03T00:00:00Z"},
    /* failed, running, on-demand (no schedule label), the stanza Job, another cluster: none counts */
    {"[{'metadata':{'labels':{'pgwarden.io/cluster':'c','pgwarden.io/backup-schedule':'n'}},'status':{'completionTime':"
     "'2026-01-09T00:00:00Z','conditions':[{'type':'Failed','status':'True'}]}},"
     "{'metadata':{'labels':{'pgwarden.io/cluster':'c','pgwarden.io/backup-schedule':'n'}},'status':{'active':1}},"
     "{'metadata':{'labels':{'pgwarden.io/cluster':'c','pgwarden.io/backup':'b'}},'status':{'completionTime':"
     "'2026-01-09T00:00:00Z','conditions':[{'type':'Complete','status':'True'}]}},"
     "{'metadata':{'labels':{'pgwarden.io/cluster':'other','pgwarden.io/backup-schedule':'n'}},'status':{'completionTime':"
     "'2026-01-09T00:00:00Z','conditions':[{'type':'Complete','status':'True'}]}}]",
     NULL},
};

START_TEST(last_scheduled_table)
{
    json_t *jobs = q(last_scheduled_cases[_i].jobs);
    const char *got = pgw_backup_decide_last_scheduled(jobs, "c");
    if (last_scheduled_cases[_i].want == NULL)
        ck_assert_msg(got == NULL, "row %d: got %s", _i, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, last_scheduled_cases[_i].want) == 0, "row %d: got %s", _i, got ? got : "NULL");
    ck_assert_ptr_null(pgw_backup_decide_last_scheduled(jobs, NULL));
    json_decref(jobs);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
    Suite *s = suite_create("backup_decide");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, job_state_table, 0, N(job_cases));
    tcase_add_loop_test(tc, last_scheduled_table, 0, N(last_scheduled_cases));
    tcase_add_loop_test(tc, termination_message_table, 0, N(message_cases));
    tcase_add_loop_test(tc, gate_table, 0, N(gate_cases));
    tcase_add_test(tc, gate_picks_one);
    tcase_add_loop_test(tc, status_table, 0, N(status_cases));
    tcase_add_test(tc, failure_detail_cut);
    tcase_add_loop_test(tc, restore_table, 0, N(restore_cases));
    tcase_add_loop_test(tc, restore_names_and_targets, 0, N(target_cases));
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
