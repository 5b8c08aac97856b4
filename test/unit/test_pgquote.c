/*
 * Quoting (controller/pg/pgquote.c): identifiers always in double quotes with
 * " doubled; literals in single quotes with ' doubled, and the E'' form with
 * \ doubled as well when the text holds a backslash, so the literal reads the
 * same whatever standard_conforming_strings says.
 */
#include "helpers.h"
#include <check.h>
#include <stdlib.h>

#include "controller/pg/pgquote.h"

struct quote_case {
    const char *input, *expected;
};

static const struct quote_case idents[] = {
    {"analyst", "\"analyst\""},
    {"", "\"\""},
    {"na\"me", "\"na\"\"me\""},
    {"\"", "\"\"\"\""},
    {"Select", "\"Select\""}, /* case kept: quoted names are not folded */
    {"it's", "\"it's\""},     /* ' means nothing here */
    {"a\\b", "\"a\\b\""},     /* nor \ */
    {"pg_read_all_data", "\"pg_read_all_data\""},
    {"r\xc3\xb4le", "\"r\xc3\xb4le\""}, /* UTF-8 passes through */
};

static const struct quote_case literals[] = {
    {"pencil", "'pencil'"},
    {"", "''"},
    {"it's", "'it''s'"},
    {"''", "''''''"},
    {"say \"hi\"", "'say \"hi\"'"},
    {"a\\b", "E'a\\\\b'"},
    {"\\'", "E'\\\\'''"},
    {"\\", "E'\\\\'"},
    {"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkd+4Uo7Bke/ZkBFzpcXkuLmtbsT4qY=:x=",
     "'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkd+4Uo7Bke/ZkBFzpcXkuLmtbsT4qY=:x='"},
    {"line\nbreak", "'line\nbreak'"},
    {"2027-06-30T00:00:00Z", "'2027-06-30T00:00:00Z'"},
};

START_TEST(test_ident)
{
    char *got = pgw_pg_quote_ident(idents[_i].input);
    ck_assert_str_eq(got, idents[_i].expected);
    free(got);
}
END_TEST

START_TEST(test_literal)
{
    char *got = pgw_pg_quote_literal(literals[_i].input);
    ck_assert_str_eq(got, literals[_i].expected);
    free(got);
}
END_TEST

START_TEST(test_null)
{
    ck_assert_ptr_null(pgw_pg_quote_ident(NULL));
    ck_assert_ptr_null(pgw_pg_quote_literal(NULL));
}
END_TEST

static Suite *pgquote_suite(void)
{
    Suite *s = suite_create("pgquote");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_ident, 0, sizeof(idents) / sizeof(idents[0]));
    tcase_add_loop_test(tc, test_literal, 0, sizeof(literals) / sizeof(literals[0]));
    tcase_add_test(tc, test_null);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(pgquote_suite());
}
