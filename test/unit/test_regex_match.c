/*
 * common/regex_match.c: matching with patterns compiled once, including past the cache's size.
 */
#include "helpers.h"

#include "common/regex_match.h"

static const struct {
    const char *s;
    const char *pattern;
    int want;
} rows[] = {
    {"eu-west-1", "^[A-Za-z0-9-]+$", 1},
    {"eu west 1", "^[A-Za-z0-9-]+$", 0},
    {"", "^[A-Za-z0-9-]+$", 0},
    {"app_owner", "^[a-z_][a-z0-9_]*$", 1},
    {"1owner", "^[a-z_][a-z0-9_]*$", 0},
    {"/team/db", "^(/[A-Za-z0-9._-]+)+$", 1},
    {"team/db", "^(/[A-Za-z0-9._-]+)+$", 0},
    {"abc", "(", 0}, /* does not compile: never a match */
    {"abc", "(", 0}, /* and stays so from the cache */
};

START_TEST(rows_match)
{
    /* Twice: the first call compiles, the second uses the cached pattern. */
    for (int round = 0; round != 2; ++round)
        ck_assert_msg(pgw_regex_match(rows[_i].s, rows[_i].pattern) == rows[_i].want, "\"%s\" ~ %s (round %d)", rows[_i].s,
                      rows[_i].pattern, round);
}
END_TEST

/* More distinct patterns than the cache holds are still answered right. */
START_TEST(beyond_the_cache)
{
    static char patterns[64][16];
    for (int i = 0; i != 64; ++i)
        snprintf(patterns[i], sizeof(patterns[i]), "^x%d$", i);
    for (int round = 0; round != 2; ++round) {
        for (int i = 0; i != 64; ++i) {
            char yes[16], no[16];
            snprintf(yes, sizeof(yes), "x%d", i);
            snprintf(no, sizeof(no), "x%d", i + 1);
            ck_assert_msg(pgw_regex_match(yes, patterns[i]) == 1, "%s ~ %s", yes, patterns[i]);
            ck_assert_msg(pgw_regex_match(no, patterns[i]) == 0, "%s !~ %s", no, patterns[i]);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("regex_match");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, rows_match, 0, sizeof(rows) / sizeof(rows[0]));
    tcase_add_test(tc, beyond_the_cache);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
