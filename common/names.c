/*
 * Kubernetes name and label syntax, checked the way apimachinery's
 * k8s.io/apimachinery/pkg/util/validation does it, with its exact messages.
 *
 * Users compare our denials with the ones the API server gives for core
 * objects, so the wording is apimachinery's, word for word (double space in
 * "'my-name',  or" included). Like apimachinery, a check can report several
 * problems at once (too long and bad characters); pgw_names_check returns all
 * of them, the single-answer functions the first.
 *
 * The regular expressions are matched by hand: each one is a run of allowed
 * characters with a constraint on the first and last character, so a few
 * loops say it more plainly than a regex engine would. Go's '$' matches only
 * at the very end, so a trailing newline is rejected as any other character.
 * All messages are static strings; nothing here allocates.
 */
#include <string.h>

#include "common/names.h"

static const char msg_dns1123_label[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
static const char msg_no_dots[] = "must not contain dots";
static const char msg_dns1123_subdomain[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char msg_dns1035_label[] =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation "
    "is '[a-z]([-a-z0-9]*[a-z0-9])?')";
static const char msg_max_63[] = "must be no more than 63 characters";
static const char msg_max_253[] = "must be no more than 253 characters";
static const char msg_prefix_empty[] = "prefix part must be non-empty";
static const char msg_prefix_max_253[] = "prefix part must be no more than 253 characters";
static const char msg_prefix_subdomain[] =
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char msg_name_empty[] = "name part must be non-empty";
static const char msg_name_max_63[] = "name part must be no more than 63 characters";
static const char msg_name_regex[] =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
static const char msg_qualified_name[] =
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
    "'example.com/MyName')";
static const char msg_label_value[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* '[a-z0-9]([-a-z0-9]*[a-z0-9])?' on s[0:n], or with first_letter '[a-z]([-a-z0-9]*[a-z0-9])?'. */
static int match_label(const char *s, size_t n, int first_letter)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return 0;
    if (first_letter && !(s[0] >= 'a' && s[0] <= 'z'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return 0;
    return 1;
}

/* Labels joined by single dots; each label of any length. */
static int match_subdomain(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!match_label(s + start, i - start, 0))
                return 0;
            start = i + 1;
        }
    }
    return 1;
}

/* '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]' */
static int match_qualified(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

static void add(const char **msgs, int max, int *count, const char *msg)
{
    if (*count < max)
        msgs[*count] = msg;
    (*count)++;
}

static int check_label_key(const char *s, size_t n, const char **msgs, int max)
{
    int count = 0;
    const char *slash = memchr(s, '/', n);
    const char *name = s;
    size_t name_len = n;
    if (slash != NULL) {
        if (memchr(slash + 1, '/', n - (size_t)(slash + 1 - s)) != NULL) {
            add(msgs, max, &count, msg_qualified_name);
            return count;
        }
        size_t prefix_len = (size_t)(slash - s);
        if (prefix_len == 0) {
            add(msgs, max, &count, msg_prefix_empty);
        } else {
            if (prefix_len > 253)
                add(msgs, max, &count, msg_prefix_max_253);
            if (!match_subdomain(s, prefix_len))
                add(msgs, max, &count, msg_prefix_subdomain);
        }
        name = slash + 1;
        name_len = n - prefix_len - 1;
    }
    if (name_len == 0)
        add(msgs, max, &count, msg_name_empty);
    else if (name_len > 63)
        add(msgs, max, &count, msg_name_max_63);
    if (!match_qualified(name, name_len))
        add(msgs, max, &count, msg_name_regex);
    return count;
}

int pgw_names_check(enum pgw_name_kind kind, const char *s, const char **msgs, int max)
{
    int count = 0;
    if (s == NULL)
        s = "";
    size_t n = strlen(s);
    switch (kind) {
    case PGW_NAME_DNS1123_LABEL:
        if (n > 63)
            add(msgs, max, &count, msg_max_63);
        if (!match_label(s, n, 0))
            add(msgs, max, &count, match_subdomain(s, n) ? msg_no_dots : msg_dns1123_label);
        break;
    case PGW_NAME_DNS1123_SUBDOMAIN:
        if (n > 253)
            add(msgs, max, &count, msg_max_253);
        if (!match_subdomain(s, n))
            add(msgs, max, &count, msg_dns1123_subdomain);
        break;
    case PGW_NAME_DNS1035_LABEL:
        if (n > 63)
            add(msgs, max, &count, msg_max_63);
        if (!match_label(s, n, 1))
            add(msgs, max, &count, msg_dns1035_label);
        break;
    case PGW_NAME_LABEL_KEY:
        count = check_label_key(s, n, msgs, max);
        break;
    case PGW_NAME_LABEL_VALUE:
        if (n > 63)
            add(msgs, max, &count, msg_max_63);
        if (n > 0 && !match_qualified(s, n))
            add(msgs, max, &count, msg_label_value);
        break;
    }
    return count;
}

static int first(enum pgw_name_kind kind, const char *s, const char **why)
{
    const char *msgs[1];
    if (pgw_names_check(kind, s, msgs, 1) == 0)
        return 0;
    if (why != NULL)
        *why = msgs[0];
    return -1;
}

int pgw_dns1123_label(const char *s, const char **why)
{
    return first(PGW_NAME_DNS1123_LABEL, s, why);
}

int pgw_dns1123_subdomain(const char *s, const char **why)
{
    return first(PGW_NAME_DNS1123_SUBDOMAIN, s, why);
}

int pgw_dns1035_label(const char *s, const char **why)
{
    return first(PGW_NAME_DNS1035_LABEL, s, why);
}

int pgw_label_key(const char *s, const char **why)
{
    return first(PGW_NAME_LABEL_KEY, s, why);
}

int pgw_label_value(const char *s, const char **why)
{
    return first(PGW_NAME_LABEL_VALUE, s, why);
}
