/*
 * Unit tests for common/object: joining the strings of an array, finding an item by name.
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

START_TEST(find_named)
{
    json_t *a = q("[{'name':'a','v':1},'x',{'v':2},{'name':7},{'name':'b','v':3},{'name':'a','v':4}]");
    ck_assert_ptr_eq(pgw_obj_find_named(a, "a"), json_array_get(a, 0)); /* the first of two */
    ck_assert_ptr_eq(pgw_obj_find_named(a, "b"), json_array_get(a, 4));
    ck_assert_ptr_null(pgw_obj_find_named(a, "c"));
    ck_assert_ptr_null(pgw_obj_find_named(a, NULL));
    ck_assert_ptr_null(pgw_obj_find_named(NULL, "a"));
    json_t *notarray = q("{'name':'a'}");
    ck_assert_ptr_null(pgw_obj_find_named(notarray, "a"));
    json_decref(a);
    json_decref(notarray);
}
END_TEST

START_TEST(find_by_meta_name)
{
    json_t *pods = q("[{'metadata':{'name':'m-0'}},{'name':'m-1'},{'metadata':{}},{'metadata':{'name':'m-1'},'v':1},"
                     "{'metadata':{'name':'m-1'},'v':2}]");
    ck_assert_ptr_eq(pgw_obj_find_by_meta_name(pods, "m-0"), json_array_get(pods, 0));
    ck_assert_ptr_eq(pgw_obj_find_by_meta_name(pods, "m-1"), json_array_get(pods, 3)); /* metadata.name, the first */
    ck_assert_ptr_null(pgw_obj_find_by_meta_name(pods, "m-2"));
    ck_assert_ptr_null(pgw_obj_find_by_meta_name(pods, NULL));
    ck_assert_ptr_null(pgw_obj_find_by_meta_name(NULL, "m-0"));
    json_decref(pods);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("object");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, join_strings);
    tcase_add_test(tc, find_named);
    tcase_add_test(tc, find_by_meta_name);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
