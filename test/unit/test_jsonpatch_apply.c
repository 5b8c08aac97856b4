/*
 * JSON Patch applier: RFC 6902 operations and RFC 6901 pointers (including the
 * examples of RFC 6902 appendix A), failures that leave the input untouched,
 * and round trips with the project's differ.
 */
#include "helpers.h"
#include "test/unit/helpers.h"

#include "common/jsonpatch.h"
#include "common/jsonpatch_apply.h"

static const struct {
    const char *doc, *patch, *expected; /* expected NULL: the patch must fail */
} rows[] = {
    {"{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux'}]", "{'foo':'bar','baz':'qux'}"},
    {"{'foo':['bar','baz']}", "[{'op':'add','path':'/foo/1','value':'qux'}]", "{'foo':['bar','qux','baz']}"},
    {"{'foo':['bar']}", "[{'op':'add','path':'/foo/-','value':'x'}]", "{'foo':['bar','x']}"},
    {"{'baz':'qux','foo':'bar'}", "[{'op':'remove','path':'/baz'}]", "{'foo':'bar'}"},
    {"{'foo':['bar','qux','baz']}", "[{'op':'remove','path':'/foo/1'}]", "{'foo':['bar','baz']}"},
    {"{'baz':'qux','foo':'bar'}", "[{'op':'replace','path':'/baz','value':'boo'}]", "{'baz':'boo','foo':'bar'}"},
    {"{'foo':{'bar':'baz','waldo':'fred'},'qux':{'corge':'grault'}}", "[{'op':'move','from':'/foo/waldo','path':'/qux/thud'}]",
     "{'foo':{'bar':'baz'},'qux':{'corge':'grault','thud':'fred'}}"},
    {"{'foo':['all','grass','cows','eat']}", "[{'op':'move','from':'/foo/1','path':'/foo/3'}]",
     "{'foo':['all','cows','eat','grass']}"},
    {"{'a':{'b':1}}", "[{'op':'copy','from':'/a','path':'/c'}]", "{'a':{'b':1},'c':{'b':1}}"},
    {"{'baz':'qux','foo':['a',2,'c']}", "[{'op':'test','path':'/baz','value':'qux'},{'op':'test','path':'/foo/1','value':2}]",
     "{'baz':'qux','foo':['a',2,'c']}"},
    {"{'baz':'qux'}", "[{'op':'test','path':'/baz','value':'bar'}]", NULL},
    {"{'a/b':1,'m~n':2}", "[{'op':'replace','path':'/a~1b','value':3},{'op':'remove','path':'/m~0n'}]", "{'a/b':3}"},
    {"{'':1}", "[{'op':'replace','path':'/','value':2}]", "{'':2}"},
    {"{'a':1}", "[{'op':'replace','path':'','value':[1]}]", "[1]"},
    {"{'foo':'bar'}", "[{'op':'add','path':'/baz/bat','value':'qux'}]", NULL},
    {"{'foo':'bar'}", "[{'op':'remove','path':'/nope'}]", NULL},
    {"{'foo':'bar'}", "[{'op':'replace','path':'/nope','value':1}]", NULL},
    {"{'foo':[1]}", "[{'op':'add','path':'/foo/2','value':1}]", NULL},
    {"{'foo':[1,2]}", "[{'op':'remove','path':'/foo/01'}]", NULL},
    {"{'foo':[1]}", "[{'op':'remove','path':'/foo/-'}]", NULL},
    {"{'foo':1}", "[{'op':'add','path':'foo','value':1}]", NULL},
    {"{'foo':1}", "[{'op':'add','path':'/a~2','value':1}]", NULL},
    {"{'foo':1}", "[{'op':'frobnicate','path':'/foo'}]", NULL},
    {"{'foo':1}", "[{'op':'add','path':'/bar'}]", NULL},
    {"{'a':{'b':{}}}", "[{'op':'move','from':'/a','path':'/a/b/c'}]", NULL},
    {"{'foo':1}", "{'op':'add'}", NULL},
    /* the whole patch is atomic: a failing second operation applies nothing */
    {"{'foo':1}", "[{'op':'add','path':'/x','value':1},{'op':'remove','path':'/missing'}]", NULL},
};

START_TEST(test_apply)
{
    json_t *doc = q(rows[_i].doc), *patch = q(rows[_i].patch), *before = json_deep_copy(doc);
    char *err = NULL;
    json_t *got = pgw_jsonpatch_apply(doc, patch, &err);
    if (rows[_i].expected == NULL) {
        ck_assert_msg(got == NULL, "row %d: expected failure", _i);
        ck_assert_ptr_nonnull(err);
    } else {
        json_t *want = q(rows[_i].expected);
        ck_assert_msg(got != NULL, "row %d: %s", _i, err ? err : "");
        ck_assert_msg(json_equal(got, want), "row %d: wrong result", _i);
        json_decref(want);
    }
    ck_assert(json_equal(doc, before)); /* input untouched */
    free(err);
    json_decref(got);
    json_decref(doc);
    json_decref(patch);
    json_decref(before);
}
END_TEST

static const struct {
    const char *before, *after;
} pairs[] = {
    {"{'spec':{}}", "{'spec':{'instances':1,'pooler':{'enabled':true}}}"},
    {"{'a':[1,2,3],'b':'x'}", "{'a':[1,9],'c':{'d~/e':[{}]}}"},
    {"{'m~n':{'a/b':1}}", "{'m~n':{'a/b':2,'x':null}}"},
    {"[1,{'a':2}]", "[{'a':2}]"},
};

START_TEST(test_round_trip_with_differ)
{
    json_t *before = q(pairs[_i].before), *after = q(pairs[_i].after);
    json_t *patch = pgw_jsonpatch_diff(before, after);
    char *err = NULL;
    json_t *got = pgw_jsonpatch_apply(before, patch, &err);
    ck_assert_msg(got != NULL && json_equal(got, after), "pair %d: %s", _i, err ? err : "mismatch");
    free(err);
    json_decref(got);
    json_decref(patch);
    json_decref(before);
    json_decref(after);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonpatch_apply");
    TCase *tc = tcase_create("apply");
    tcase_add_loop_test(tc, test_apply, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_loop_test(tc, test_round_trip_with_differ, 0, (int)(sizeof(pairs) / sizeof(pairs[0])));
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
