/*
 * pgw_json_pack: a good pack is json_pack's value; a bad one returns NULL,
 * is counted, and is reported with the caller's file and line.
 */
#include "helpers.h"
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/json_pack.h"

START_TEST(test_good_pack)
{
    unsigned long before = pgw_json_pack_failures();
    json_t *v = pgw_json_pack("{s:s,s:i,s:[b]}", "a", "x", "b", 2, "c", 1);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "a")), "x");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "b")), 2);
    ck_assert(json_is_true(json_array_get(json_object_get(v, "c"), 0)));
    json_decref(v);
    ck_assert_uint_eq(pgw_json_pack_failures(), before);
}
END_TEST

START_TEST(test_bad_pack_reports_file_and_line)
{
    unsigned long before = pgw_json_pack_failures();
    /* capture stderr, where the log goes */
    char path[] = "/tmp/pgw-json-pack-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    const char *missing = NULL;
    int line = __LINE__ + 1;
    json_t *v = pgw_json_pack("{s:s}", "spec", missing);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(pgw_json_pack_failures(), before + 1);
    char text[4096] = "";
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    unlink(path);
    ck_assert_int_gt(n, 0);
    char where[64];
    snprintf(where, sizeof(where), "\"line\":%d", line);
    ck_assert_msg(strstr(text, "test_json_pack.c") != NULL, "no file in: %s", text);
    ck_assert_msg(strstr(text, where) != NULL, "no %s in: %s", where, text);
    ck_assert_msg(strstr(text, "json_pack failed") != NULL, "no message in: %s", text);
}
END_TEST

static Suite *json_pack_suite(void)
{
    Suite *s = suite_create("json_pack");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_good_pack);
    tcase_add_test(tc, test_bad_pack_reports_file_and_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(json_pack_suite());
}
