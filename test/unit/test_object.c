/*
 * Unit tests for common/object: joining the strings of an array.
 */
#include "helpers.h"

#include "common/object.h"

START_TEST(join_strings)
{
    json_t *a = q("['a','b','c']"), *mixed = q("['x',1,null,'y']"), *empty = q("[]");
    char *s = pgw_obj_join_strings(a, ", ");
    ck_assert_str_eq(s, "a, b, c");
    free(s);
    s = pgw_obj_join_strings(mixed, " ");
    ck_assert_str_eq(s, "x y"); /* only strings count */
    free(s);
    s = pgw_obj_join_strings(empty, ", ");
    ck_assert_str_eq(s, "");
    free(s);
    s = pgw_obj_join_strings(NULL, ", ");
    ck_assert_str_eq(s, "");
    free(s);
    json_decref(a);
    json_decref(mixed);
    json_decref(empty);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("object");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, join_strings);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
