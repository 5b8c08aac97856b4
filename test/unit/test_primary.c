/*
 * Unit tests for controller/decide/primary: the leader key beats a stale role
 * label (a primary lost with its node keeps it), the label is the fallback,
 * the last primary is kept when neither names one, and when a change is news.
 */
#include "helpers.h"

#include "controller/decide/primary.h"

#define POD(n, role) "{'metadata':{'name':'" n "','labels':{'pgwarden.io/role':'" role "'}}}"
#define POD_DELETING(n, role)                                                                                                      \
    "{'metadata':{'name':'" n "','deletionTimestamp':'2026-01-01T00:00:00Z','labels':{'pgwarden.io/role':'" role "'}}}"

static const struct {
    const char *name;
    const char *leader; /* NULL: no leader key */
    const char *pods;
    const char *previous;
    const char *want;
} cases[] = {
    {"leader key", "c-1", "[" POD("c-0", "replica") "," POD("c-1", "primary") "]", "c-1", "c-1"},
    {"lost primary keeps its label: the key wins", "c-1", "[" POD("c-0", "primary") "," POD("c-1", "primary") "]", "c-0", "c-1"},
    {"key not yet moved: the old leader stays", "c-0", "[" POD("c-0", "primary") "," POD("c-1", "replica") "]", "c-0", "c-0"},
    {"terminating leader still serves", "c-0", "[" POD_DELETING("c-0", "primary") "," POD("c-1", "replica") "]", "c-0", "c-0"},
    {"no key yet: the label", NULL, "[" POD("c-0", "replica") "," POD("c-1", "primary") "]", NULL, "c-1"},
    {"empty key: the label", "", "[" POD("c-0", "primary") "]", NULL, "c-0"},
    {"key names a pod that is gone: the label", "c-9", "[" POD("c-0", "replica") "," POD("c-1", "primary") "]", "c-9", "c-1"},
    {"terminating label is no primary", NULL, "[" POD_DELETING("c-0", "primary") "," POD("c-1", "replica") "]", "c-0", "c-0"},
    {"none known: the previous", NULL, "[" POD("c-0", "replica") "]", "c-2", "c-2"},
    {"nothing at all", NULL, "[]", NULL, NULL},
};

START_TEST(pick_table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        json_t *pods = q(cases[i].pods);
        const char *got = pgw_primary_pick(cases[i].leader, pods, cases[i].previous);
        if (cases[i].want == NULL)
            ck_assert_msg(got == NULL, "%s: got %s", cases[i].name, got);
        else
            ck_assert_msg(got != NULL && strcmp(got, cases[i].want) == 0, "%s: got %s, want %s", cases[i].name,
                          got ? got : "(null)", cases[i].want);
        json_decref(pods);
    }
}
END_TEST

START_TEST(change_message)
{
    char *m = pgw_primary_change_message("ha-0", "ha-1");
    ck_assert_str_eq(m, "primary changed from ha-0 to ha-1");
    free(m);
    ck_assert_ptr_null(pgw_primary_change_message("ha-0", "ha-0"));
    ck_assert_ptr_null(pgw_primary_change_message(NULL, "ha-0")); /* the first primary is no change */
    ck_assert_ptr_null(pgw_primary_change_message("ha-0", NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("primary");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pick_table);
    tcase_add_test(tc, change_message);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
