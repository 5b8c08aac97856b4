/*
 * Names and labels: accepting and rejecting rows for every rule, boundary
 * lengths (63/64, 253/254), and apimachinery's exact messages, in order.
 */
#include "helpers.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/names.h"

static const char label_msg[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
static const char subdomain_msg[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char dns1035_msg[] =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation "
    "is '[a-z]([-a-z0-9]*[a-z0-9])?')";
static const char max63[] = "must be no more than 63 characters";
static const char max253[] = "must be no more than 253 characters";
static const char dots[] = "must not contain dots";
static const char prefix_empty[] = "prefix part must be non-empty";
static const char prefix_max253[] = "prefix part must be no more than 253 characters";
static const char prefix_msg[] =
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char name_empty[] = "name part must be non-empty";
static const char name_max63[] = "name part must be no more than 63 characters";
static const char name_msg[] = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                               "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                               "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
static const char qualified_msg[] =
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
    "'example.com/MyName')";
static const char value_msg[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/*
 * Input = head + `fill` repeated `count` times + tail, so boundary lengths
 * stay readable. Expected messages in order; NULL-terminated (none = valid).
 */
struct name_case {
    enum pgw_name_kind kind;
    const char *head;
    char fill;
    int count;
    const char *tail;
    const char *msgs[PGW_NAMES_MAX_ERRORS + 1];
};

static const struct name_case cases[] = {
    /* DNS-1123 label */
    {PGW_NAME_DNS1123_LABEL, "a", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1123_LABEL, "my-name", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1123_LABEL, "123-abc", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1123_LABEL, "0", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1123_LABEL, "a--b", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1123_LABEL, "", 'a', 63, "", {NULL}},
    {PGW_NAME_DNS1123_LABEL, "", 'a', 64, "", {max63, NULL}},
    {PGW_NAME_DNS1123_LABEL, "", 0, 0, "", {label_msg, NULL}},
    {PGW_NAME_DNS1123_LABEL, "-a", 0, 0, "", {label_msg, NULL}},
    {PGW_NAME_DNS1123_LABEL, "a-", 0, 0, "", {label_msg, NULL}},
    {PGW_NAME_DNS1123_LABEL, "My-Name", 0, 0, "", {label_msg, NULL}},
    {PGW_NAME_DNS1123_LABEL, "a_b", 0, 0, "", {label_msg, NULL}},
    {PGW_NAME_DNS1123_LABEL, "a b", 0, 0, "", {label_msg, NULL}},
    {PGW_NAME_DNS1123_LABEL, "a\n", 0, 0, "", {label_msg, NULL}},
    {PGW_NAME_DNS1123_LABEL, "a.b", 0, 0, "", {dots, NULL}},
    {PGW_NAME_DNS1123_LABEL, "a..b", 0, 0, "", {label_msg, NULL}},
    {PGW_NAME_DNS1123_LABEL, "", 'a', 64, ".b", {max63, dots, NULL}},
    {PGW_NAME_DNS1123_LABEL, "-", 'a', 64, "", {max63, label_msg, NULL}},
    /* DNS-1123 subdomain */
    {PGW_NAME_DNS1123_SUBDOMAIN, "example.com", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "a", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "a-1.b-2.c", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "", 'a', 100, ".b", {NULL}}, /* labels longer than 63 are fine in a subdomain */
    {PGW_NAME_DNS1123_SUBDOMAIN, "", 'a', 253, "", {NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "", 'a', 254, "", {max253, NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "b.", 'a', 251, "", {NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "b.", 'a', 252, "", {max253, NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "", 0, 0, "", {subdomain_msg, NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, ".a", 0, 0, "", {subdomain_msg, NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "a.", 0, 0, "", {subdomain_msg, NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "a..b", 0, 0, "", {subdomain_msg, NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "a.-b", 0, 0, "", {subdomain_msg, NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "a-.b", 0, 0, "", {subdomain_msg, NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "Example.com", 0, 0, "", {subdomain_msg, NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "a_b.com", 0, 0, "", {subdomain_msg, NULL}},
    {PGW_NAME_DNS1123_SUBDOMAIN, "-", 'a', 254, "", {max253, subdomain_msg, NULL}},
    /* DNS-1035 label */
    {PGW_NAME_DNS1035_LABEL, "my-name", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1035_LABEL, "abc-123", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1035_LABEL, "a", 0, 0, "", {NULL}},
    {PGW_NAME_DNS1035_LABEL, "", 'a', 63, "", {NULL}},
    {PGW_NAME_DNS1035_LABEL, "", 'a', 64, "", {max63, NULL}},
    {PGW_NAME_DNS1035_LABEL, "1abc", 0, 0, "", {dns1035_msg, NULL}},
    {PGW_NAME_DNS1035_LABEL, "0", 0, 0, "", {dns1035_msg, NULL}},
    {PGW_NAME_DNS1035_LABEL, "", 0, 0, "", {dns1035_msg, NULL}},
    {PGW_NAME_DNS1035_LABEL, "abc-", 0, 0, "", {dns1035_msg, NULL}},
    {PGW_NAME_DNS1035_LABEL, "a.b", 0, 0, "", {dns1035_msg, NULL}},
    {PGW_NAME_DNS1035_LABEL, "Abc", 0, 0, "", {dns1035_msg, NULL}},
    {PGW_NAME_DNS1035_LABEL, "1", 'a', 63, "", {max63, dns1035_msg, NULL}},
    /* label keys (qualified names) */
    {PGW_NAME_LABEL_KEY, "app", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_KEY, "MyName", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_KEY, "my.name", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_KEY, "my_name-1", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_KEY, "a", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_KEY, "pgwarden.io/cluster", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_KEY, "app.kubernetes.io/name", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_KEY, "example.com/", 'a', 63, "", {NULL}},
    {PGW_NAME_LABEL_KEY, "example.com/", 'a', 64, "", {name_max63, NULL}},
    {PGW_NAME_LABEL_KEY, "", 'a', 63, "", {NULL}},
    {PGW_NAME_LABEL_KEY, "", 'a', 64, "", {name_max63, NULL}},
    {PGW_NAME_LABEL_KEY, "", 'a', 253, "/x", {NULL}},
    {PGW_NAME_LABEL_KEY, "", 'a', 254, "/x", {prefix_max253, NULL}},
    {PGW_NAME_LABEL_KEY, "", 0, 0, "", {name_empty, name_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "example.com/", 0, 0, "", {name_empty, name_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "/name", 0, 0, "", {prefix_empty, NULL}},
    {PGW_NAME_LABEL_KEY, "/", 0, 0, "", {prefix_empty, name_empty, name_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "Example.com/name", 0, 0, "", {prefix_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "example_com/name", 0, 0, "", {prefix_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "a/b/c", 0, 0, "", {qualified_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "-name", 0, 0, "", {name_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "name-", 0, 0, "", {name_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "_name", 0, 0, "", {name_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "na me", 0, 0, "", {name_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "na:me", 0, 0, "", {name_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "-", 'a', 254, "/-", {prefix_max253, prefix_msg, name_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "-", 'a', 254, "/-x", {prefix_max253, prefix_msg, name_msg, NULL}},
    {PGW_NAME_LABEL_KEY, "-x/-", 'a', 64, "", {prefix_msg, name_max63, name_msg, NULL}},
    /* label values */
    {PGW_NAME_LABEL_VALUE, "", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_VALUE, "MyValue", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_VALUE, "my_value", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_VALUE, "12345", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_VALUE, "a.b-c_d", 0, 0, "", {NULL}},
    {PGW_NAME_LABEL_VALUE, "", 'a', 63, "", {NULL}},
    {PGW_NAME_LABEL_VALUE, "", 'a', 64, "", {max63, NULL}},
    {PGW_NAME_LABEL_VALUE, "-a", 0, 0, "", {value_msg, NULL}},
    {PGW_NAME_LABEL_VALUE, "a-", 0, 0, "", {value_msg, NULL}},
    {PGW_NAME_LABEL_VALUE, ".a", 0, 0, "", {value_msg, NULL}},
    {PGW_NAME_LABEL_VALUE, "a/b", 0, 0, "", {value_msg, NULL}},
    {PGW_NAME_LABEL_VALUE, "a b", 0, 0, "", {value_msg, NULL}},
    {PGW_NAME_LABEL_VALUE, "_", 0, 0, "", {value_msg, NULL}},
    {PGW_NAME_LABEL_VALUE, "\xc3\xa9", 0, 0, "", {value_msg, NULL}},
    {PGW_NAME_LABEL_VALUE, "-", 'a', 64, "", {max63, value_msg, NULL}},
};

static char *build(const struct name_case *c)
{
    size_t hl = strlen(c->head), tl = strlen(c->tail);
    char *s = malloc(hl + (size_t)c->count + tl + 1);
    memcpy(s, c->head, hl);
    memset(s + hl, c->fill, (size_t)c->count);
    memcpy(s + hl + (size_t)c->count, c->tail, tl + 1);
    return s;
}

static int single(enum pgw_name_kind kind, const char *s, const char **why)
{
    switch (kind) {
    case PGW_NAME_DNS1123_LABEL:
        return pgw_dns1123_label(s, why);
    case PGW_NAME_DNS1123_SUBDOMAIN:
        return pgw_dns1123_subdomain(s, why);
    case PGW_NAME_DNS1035_LABEL:
        return pgw_dns1035_label(s, why);
    case PGW_NAME_LABEL_KEY:
        return pgw_label_key(s, why);
    case PGW_NAME_LABEL_VALUE:
        return pgw_label_value(s, why);
    }
    return 0;
}

START_TEST(test_names)
{
    const struct name_case *c = &cases[_i];
    char *s = build(c);
    const char *msgs[PGW_NAMES_MAX_ERRORS];
    int expected = 0;
    while (c->msgs[expected] != NULL)
        expected++;
    int n = pgw_names_check(c->kind, s, msgs, PGW_NAMES_MAX_ERRORS);
    ck_assert_msg(n == expected, "row %d (%.40s… length %zu): %d messages, expected %d (first: %s)", _i, s, strlen(s), n, expected,
                  n > 0 ? msgs[0] : "-");
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(msgs[i], c->msgs[i]);

    const char *why = NULL;
    int rc = single(c->kind, s, &why);
    if (expected == 0) {
        ck_assert_int_eq(rc, 0);
        ck_assert_ptr_null(why);
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_str_eq(why, c->msgs[0]);
    }
    free(s);
}
END_TEST

START_TEST(test_limits)
{
    /* max bounds what is written, not what is counted */
    const char *one[1] = {NULL};
    ck_assert_int_eq(pgw_names_check(PGW_NAME_DNS1123_LABEL, "-x.y-", one, 1), 1);
    ck_assert_str_eq(one[0], label_msg);
    char long_bad[80];
    memset(long_bad, '_', 70);
    long_bad[70] = '\0';
    ck_assert_int_eq(pgw_names_check(PGW_NAME_LABEL_VALUE, long_bad, one, 1), 2);
    ck_assert_str_eq(one[0], max63);
    ck_assert_int_eq(pgw_names_check(PGW_NAME_LABEL_VALUE, long_bad, NULL, 0), 2);
    /* NULL is checked as the empty string; why may be NULL */
    ck_assert_int_eq(pgw_label_value(NULL, NULL), 0);
    ck_assert_int_eq(pgw_dns1123_label(NULL, NULL), -1);
}
END_TEST

/*
 * Random strings: the single-answer functions agree with pgw_names_check,
 * and what passes as a DNS-1123 label also passes as subdomain and label value.
 */
START_TEST(test_random_inputs)
{
    static const char alphabet[] = "abcz09-._/A Z-a.";
    unsigned state = 31337;
    char input[80];
    int labels = 0;
    for (int round = 0; round < 100000; round++) {
        state = state * 1103515245u + 12345u;
        int len = (int)((state >> 16) % 70);
        for (int i = 0; i < len; i++) {
            state = state * 1103515245u + 12345u;
            input[i] = alphabet[(state >> 16) % (sizeof(alphabet) - 1)];
        }
        input[len] = '\0';
        for (int kind = PGW_NAME_DNS1123_LABEL; kind <= PGW_NAME_LABEL_VALUE; kind++) {
            const char *msgs[PGW_NAMES_MAX_ERRORS], *why = NULL;
            int n = pgw_names_check((enum pgw_name_kind)kind, input, msgs, PGW_NAMES_MAX_ERRORS);
            if (!(n >= 0 && n <= PGW_NAMES_MAX_ERRORS))
                ck_abort_msg("assertion failed: %s", "n >= 0 && n <= PGW_NAMES_MAX_ERRORS");
            int rc = single((enum pgw_name_kind)kind, input, &why);
            if (!((rc) == (n == 0 ? 0 : -1)))
                ck_abort_msg("rc == n == 0 ? 0 : -1 failed: %lld vs %lld", (long long)(rc), (long long)(n == 0 ? 0 : -1));
            if (n > 0)
                if ((why) != (msgs[0]))
                    ck_abort_msg("why != msgs[0]");
        }
        if (pgw_dns1123_label(input, NULL) == 0) {
            labels++;
            if (!((pgw_dns1123_subdomain(input, NULL)) == (0)))
                ck_abort_msg("pgw_dns1123_subdomain(input, NULL) == 0 failed: %lld vs %lld",
                             (long long)(pgw_dns1123_subdomain(input, NULL)), (long long)(0));
            if (!((pgw_label_value(input, NULL)) == (0)))
                ck_abort_msg("pgw_label_value(input, NULL) == 0 failed: %lld vs %lld", (long long)(pgw_label_value(input, NULL)),
                             (long long)(0));
            if (!((pgw_label_key(input, NULL)) == (0)))
                ck_abort_msg("pgw_label_key(input, NULL) == 0 failed: %lld vs %lld", (long long)(pgw_label_key(input, NULL)),
                             (long long)(0));
        }
    }
    if (!((labels) > (100)))
        ck_abort_msg("labels > 100 failed: %lld vs %lld", (long long)(labels), (long long)(100));
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_names, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_random_inputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(names_suite());
}
