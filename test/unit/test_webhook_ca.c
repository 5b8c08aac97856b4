/*
 * Unit tests for certs/webhook_ca: the caBundle patch is empty when every
 * webhook carries the CA, and otherwise sets exactly the drifted ones, each
 * guarded by a test of the webhook's name.
 */
#include "helpers.h"

#include "certs/upkeep/webhook_ca.h"

static const struct {
    const char *config, *want; /* want: the JSON patch, or NULL */
} cases[] = {
    {"{'webhooks':[{'name':'a','clientConfig':{'caBundle':'CA'}}]}", NULL},
    {"{'webhooks':[]}", NULL},
    {"{'webhooks':[{'name':'a','clientConfig':{'caBundle':'OLD'}}]}",
     "[{'op':'test','path':'/webhooks/0/name','value':'a'},{'op':'replace','path':'/webhooks/0/clientConfig/"
     "caBundle','value':'CA'}]"},
    {"{'webhooks':[{'name':'a','clientConfig':{'caBundle':'CA'}},{'name':'b','clientConfig':{'service':{}}}]}",
     "[{'op':'test','path':'/webhooks/1/name','value':'b'},{'op':'add','path':'/webhooks/1/clientConfig/caBundle','value':'CA'}]"},
    {"{'webhooks':[{'name':'c'}]}", "[{'op':'test','path':'/webhooks/0/name','value':'c'},{'op':'add','path':'/webhooks/0/"
                                    "clientConfig','value':{'caBundle':'CA'}}]"},
};

START_TEST(patch_table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        json_t *config = q(cases[i].config);
        json_t *got = pgw_webhook_ca_patch(config, "CA");
        if (cases[i].want == NULL) {
            ck_assert_msg(got == NULL, "row %zu: expected no patch", i);
        } else {
            json_t *want = q(cases[i].want);
            char *text = json_dumps(got, JSON_COMPACT);
            ck_assert_msg(got != NULL && json_equal(got, want), "row %zu: got %s", i, text != NULL ? text : "NULL");
            free(text);
            json_decref(want);
        }
        json_decref(got);
        json_decref(config);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("webhook_ca");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, patch_table);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
