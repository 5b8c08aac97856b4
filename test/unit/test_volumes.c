/*
 * Unit tests for controller/decide/volumes: which claims are a cluster's,
 * leftovers of an earlier cluster (blocked, adopted, never for a restore),
 * and growing claims to the spec's size (patched when the class allows,
 * reported when it does not, True once every claim has its size).
 */
#include "helpers.h"
#include <stdarg.h>

#include "controller/decide/volumes.h"

/* A bound claim: name, requested size, capacity (NULL: none yet), class, owner uid (NULL: no label). */
static char *claim(const char *name, const char *requested, const char *capacity, const char *class, const char *uid)
{
    char *labels = uid != NULL ? pgw_asprintf(",'labels':{'pgwarden.io/cluster-uid':'%s'}", uid) : pgw_strdup("");
    char *status = capacity != NULL ? pgw_asprintf("{'phase':'Bound','capacity':{'storage':'%s'}}", capacity)
                                    : pgw_strdup("{'phase':'Pending'}");
    char *out =
        pgw_asprintf("{'metadata':{'name':'%s'%s},'spec':{'storageClassName':'%s','resources':{'requests':{'storage':'%s'}}},"
                     "'status':%s}",
                     name, labels, class, requested, status);
    free(labels);
    free(status);
    return out;
}

/* "[a,b,...]" of claim() texts; takes them. */
static json_t *claims(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    char *text = pgw_strdup("[");
    for (int i = 0; i != n; ++i) {
        char *c = va_arg(ap, char *);
        char *next = pgw_asprintf("%s%s%s", text, i > 0 ? "," : "", c);
        free(text);
        free(c);
        text = next;
    }
    va_end(ap);
    char *closed = pgw_asprintf("%s]", text);
    json_t *v = q(closed);
    free(text);
    free(closed);
    return v;
}

static json_t *cluster(const char *extra_meta, const char *spec)
{
    char *text = pgw_asprintf("{'metadata':{'name':'db','namespace':'shop','uid':'u-new','generation':3%s},'spec':%s}",
                              extra_meta != NULL ? extra_meta : "", spec);
    json_t *v = q(text);
    free(text);
    return v;
}

START_TEST(claim_names)
{
    static const struct {
        const char *cluster, *claim, *want;
    } rows[] = {
        {"db", "pgdata-db-0", "pgdata"}, {"db", "pgwal-db-12", "pgwal"},      {"db", "pgdata-db-", NULL},
        {"db", "pgdata-db-01", NULL},    {"db", "pgdata-db-x", NULL},         {"db", "pgdata-db2-0", NULL},
        {"db", "pgdata-db-a-0", NULL},   {"db-a", "pgdata-db-a-0", "pgdata"}, {"db", "db-pgbackrest-repo", NULL},
        {"db", "data-db-0", NULL},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        const char *got = pgw_volumes_claim_template(rows[i].cluster, rows[i].claim);
        if (rows[i].want == NULL)
            ck_assert_msg(got == NULL, "%s: got %s", rows[i].claim, got);
        else
            ck_assert_msg(got != NULL && strcmp(got, rows[i].want) == 0, "%s: got %s", rows[i].claim, got ? got : "(null)");
    }
}
END_TEST

START_TEST(leftovers)
{
    static const struct {
        const char *what;
        const char *meta; /* extra metadata members */
        const char *spec;
        const char *owner0, *owner1; /* cluster-uid labels of pgdata-db-0 and pgwal-db-0; "-": none */
        enum pgw_volumes_verdict want;
        const char *message_has;
    } rows[] = {
        {"own claims", NULL, "{}", "u-new", "u-new", PGW_VOLUMES_OWN, NULL},
        {"no label: blocked", NULL, "{}", "-", "u-new", PGW_VOLUMES_BLOCKED,
         "claims pgdata-db-0 were not made by this cluster (an earlier cluster named db left them): delete them to start empty, "
         "or annotate the cluster pgwarden.io/adopt-volumes=true to start on their data"},
        {"another uid: blocked, sorted", NULL, "{}", "u-old", "u-old", PGW_VOLUMES_BLOCKED, "claims pgdata-db-0, pgwal-db-0 were"},
        {"adopted", ",'annotations':{'pgwarden.io/adopt-volumes':'true'}", "{}", "u-old", "u-new", PGW_VOLUMES_ADOPT,
         "starting on claims pgdata-db-0 of an earlier cluster named db"},
        {"annotation not true", ",'annotations':{'pgwarden.io/adopt-volumes':'yes'}", "{}", "u-old", "u-new", PGW_VOLUMES_BLOCKED,
         "delete them to start empty"},
        {"restore never adopts", ",'annotations':{'pgwarden.io/adopt-volumes':'true'}",
         "{'bootstrap':{'restore':{'fromCluster':'x'}}}", "u-old", "u-new", PGW_VOLUMES_BLOCKED,
         "a cluster that restores a backup (spec.bootstrap.restore) never starts on them"},
        {"restore on its own claims", NULL, "{'bootstrap':{'restore':{'fromCluster':'x'}}}", "u-new", "u-new", PGW_VOLUMES_OWN,
         NULL},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        json_t *c = cluster(rows[i].meta, rows[i].spec);
        const char *o0 = strcmp(rows[i].owner0, "-") == 0 ? NULL : rows[i].owner0;
        const char *o1 = strcmp(rows[i].owner1, "-") == 0 ? NULL : rows[i].owner1;
        /* another cluster's claims and the backup repository are not this cluster's business */
        json_t *all =
            claims(4, claim("pgwal-db-0", "1Gi", "1Gi", "local", o1), claim("pgdata-db-0", "1Gi", "1Gi", "local", o0),
                   claim("pgdata-other-0", "1Gi", "1Gi", "local", NULL), claim("db-pgbackrest-repo", "1Gi", "1Gi", "local", NULL));
        struct pgw_volumes_leftovers l;
        pgw_volumes_check_leftovers(c, all, &l);
        ck_assert_msg(l.verdict == rows[i].want, "%s: verdict %d", rows[i].what, l.verdict);
        if (rows[i].message_has != NULL)
            ck_assert_msg(l.message != NULL && strstr(l.message, rows[i].message_has) != NULL, "%s: %s", rows[i].what,
                          l.message ? l.message : "(null)");
        else
            ck_assert_ptr_null(l.message);
        pgw_volumes_leftovers_dispose(&l);
        json_decref(all);
        json_decref(c);
    }
}
END_TEST

#define SPEC2 "{'instances':2,'storage':{'size':'2Gi'}}"
#define OLD_TRUE "{'conditions':[{'type':'VolumesResized','status':'False','reason':'Resizing','message':'x'}]}"
#define CLASSES "{'local':{'allowVolumeExpansion':true},'fixed':{'allowVolumeExpansion':false},'plain':{}}"

START_TEST(growth)
{
    static const struct {
        const char *what;
        const char *spec;
        const char *old_status;
        const char *c0[3], *c1[3]; /* requested, capacity (NULL: pending), class of pgdata-db-0 and -1 */
        const char *grow;          /* claims to patch, "a,b" */
        const char *status, *reason, *message;
        int settled;
    } rows[] = {
        {"at size, never resized: no condition",
         SPEC2,
         "{}",
         {"2Gi", "2Gi", "local"},
         {"2Gi", "2Gi", "local"},
         "",
         NULL,
         NULL,
         NULL,
         1},
        {"2048Mi is 2Gi", SPEC2, "{}", {"2048Mi", "2048Mi", "local"}, {"2Gi", "2Gi", "local"}, "", NULL, NULL, NULL, 1},
        {"bigger than the spec is fine (shrinking is denied)",
         SPEC2,
         "{}",
         {"3Gi", "3Gi", "local"},
         {"2Gi", "2Gi", "local"},
         "",
         NULL,
         NULL,
         NULL,
         1},
        {"grow both",
         SPEC2,
         "{}",
         {"1Gi", "1Gi", "local"},
         {"1Gi", "1Gi", "local"},
         "pgdata-db-0,pgdata-db-1",
         "False",
         "Resizing",
         "growing pgdata-db-0 (1Gi → 2Gi), pgdata-db-1 (1Gi → 2Gi)",
         0},
        {"requested, capacity not yet",
         SPEC2,
         "{}",
         {"2Gi", "1Gi", "local"},
         {"2Gi", "2Gi", "local"},
         "",
         "False",
         "Resizing",
         "growing pgdata-db-0 (1Gi → 2Gi)",
         0},
        {"done after resizing: True",
         SPEC2,
         OLD_TRUE,
         {"2Gi", "2Gi", "local"},
         {"2Gi", "2Gi", "local"},
         "",
         "True",
         "Resized",
         "every claim has the spec's size (storage.size 2Gi)",
         1},
        {"class without expansion",
         SPEC2,
         "{}",
         {"1Gi", "1Gi", "fixed"},
         {"1Gi", "1Gi", "fixed"},
         "",
         "False",
         "ExpansionNotSupported",
         "StorageClass fixed does not allow volume expansion (allowVolumeExpansion): claims pgdata-db-0, pgdata-db-1 stay below "
         "the spec's size",
         0},
        {"allowVolumeExpansion absent",
         SPEC2,
         "{}",
         {"1Gi", "1Gi", "plain"},
         {"2Gi", "2Gi", "plain"},
         "",
         "False",
         "ExpansionNotSupported",
         "StorageClass plain does not allow",
         0},
        {"a pending claim is left alone", SPEC2, "{}", {"1Gi", NULL, "local"}, {"2Gi", "2Gi", "local"}, "", NULL, NULL, NULL, 0},
        {"instance 1 has no claim yet",
         "{'instances':3,'storage':{'size':'2Gi'}}",
         "{}",
         {"2Gi", "2Gi", "local"},
         {"2Gi", "2Gi", "local"},
         "",
         NULL,
         NULL,
         NULL,
         0},
        {"a kept claim beyond instances grows too",
         "{'instances':1,'storage':{'size':'2Gi'}}",
         "{}",
         {"2Gi", "2Gi", "local"},
         {"1Gi", "1Gi", "local"},
         "pgdata-db-1",
         "False",
         "Resizing",
         "growing pgdata-db-1 (1Gi → 2Gi)",
         0},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        json_t *c = cluster(NULL, rows[i].spec), *old = q(rows[i].old_status), *classes = q(CLASSES);
        json_t *all = claims(3, claim("pgdata-db-0", rows[i].c0[0], rows[i].c0[1], rows[i].c0[2], "u-new"),
                             claim("pgdata-db-1", rows[i].c1[0], rows[i].c1[1], rows[i].c1[2], "u-new"),
                             claim("pgdata-other-0", "1Gi", "1Gi", "local", NULL));
        struct pgw_volumes_growth g;
        pgw_volumes_plan_growth(c, old, all, classes, &g);
        char *grow = pgw_strdup("");
        size_t k;
        json_t *e;
        json_array_foreach(g.grow, k, e)
        {
            ck_assert_str_eq(json_string_value(json_object_get(e, "size")), "2Gi");
            char *next = pgw_asprintf("%s%s%s", grow, k > 0 ? "," : "", json_string_value(json_object_get(e, "name")));
            free(grow);
            grow = next;
        }
        ck_assert_msg(strcmp(grow, rows[i].grow) == 0, "%s: grow %s", rows[i].what, grow);
        if (rows[i].status == NULL) {
            ck_assert_msg(g.status == NULL, "%s: status %s", rows[i].what, g.status);
        } else {
            ck_assert_msg(g.status != NULL && strcmp(g.status, rows[i].status) == 0, "%s: status %s", rows[i].what,
                          g.status ? g.status : "(null)");
            ck_assert_str_eq(g.reason, rows[i].reason);
            ck_assert_msg(strstr(g.message, rows[i].message) != NULL, "%s: message %s", rows[i].what, g.message);
        }
        ck_assert_msg(g.settled == rows[i].settled, "%s: settled %d", rows[i].what, g.settled);
        free(grow);
        pgw_volumes_growth_dispose(&g);
        json_decref(all);
        json_decref(classes);
        json_decref(old);
        json_decref(c);
    }
}
END_TEST

/* Classes not given yet are asked for, once each, and nothing is grown before they are known. */
START_TEST(classes_asked_for)
{
    json_t *c = cluster(NULL, SPEC2), *old = q("{}"), *none = q("{}");
    json_t *all =
        claims(2, claim("pgdata-db-0", "1Gi", "1Gi", "local", "u-new"), claim("pgdata-db-1", "1Gi", "1Gi", "local", "u-new"));
    struct pgw_volumes_growth g;
    pgw_volumes_plan_growth(c, old, all, none, &g);
    ck_assert_uint_eq(json_array_size(g.classes), 1);
    ck_assert_str_eq(json_string_value(json_array_get(g.classes, 0)), "local");
    ck_assert_uint_eq(json_array_size(g.grow), 0);
    ck_assert_ptr_null(g.status);
    ck_assert_int_eq(g.settled, 0);
    pgw_volumes_growth_dispose(&g);
    json_decref(all);
    json_decref(none);
    json_decref(old);
    json_decref(c);
}
END_TEST

/* The WAL claims grow to walSize, the data claims to size. */
START_TEST(wal_claims)
{
    json_t *c = cluster(NULL, "{'instances':1,'storage':{'size':'2Gi','walSize':'4Gi'}}"), *old = q("{}"), *classes = q(CLASSES);
    json_t *all =
        claims(2, claim("pgdata-db-0", "2Gi", "2Gi", "local", "u-new"), claim("pgwal-db-0", "1Gi", "1Gi", "local", "u-new"));
    struct pgw_volumes_growth g;
    pgw_volumes_plan_growth(c, old, all, classes, &g);
    ck_assert_uint_eq(json_array_size(g.grow), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(g.grow, 0), "name")), "pgwal-db-0");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(g.grow, 0), "size")), "4Gi");
    ck_assert_str_eq(g.reason, "Resizing");
    pgw_volumes_growth_dispose(&g);
    json_decref(all);
    json_decref(classes);
    json_decref(old);
    json_decref(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("volumes");
    TCase *tc = tcase_create("volumes");
    tcase_add_test(tc, claim_names);
    tcase_add_test(tc, leftovers);
    tcase_add_test(tc, growth);
    tcase_add_test(tc, classes_asked_for);
    tcase_add_test(tc, wal_claims);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
