/*
 * Kubernetes name and label syntax (k8s.io/apimachinery/pkg/util/validation).
 *
 * Each check returns 0 when valid, or -1 with a static message in *why written
 * as apimachinery writes it, e.g. "a lowercase RFC 1123 label must consist of
 * lower case alphanumeric characters or '-', and must start and end with an
 * alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for
 * validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".
 */
#ifndef PGW_COMMON_NAMES_H
#define PGW_COMMON_NAMES_H

#include <stddef.h>

int pgw_dns1123_label(const char *s, const char **why);     /* ≤ 63 */
int pgw_dns1123_subdomain(const char *s, const char **why); /* ≤ 253 */
int pgw_dns1035_label(const char *s, const char **why);     /* ≤ 63, starts with a letter */
int pgw_label_key(const char *s, const char **why);         /* [prefix/]name, qualified name rules */
int pgw_label_value(const char *s, const char **why);       /* ≤ 63, may be empty */

enum pgw_name_kind {
    PGW_NAME_DNS1123_LABEL,
    PGW_NAME_DNS1123_SUBDOMAIN,
    PGW_NAME_DNS1035_LABEL,
    PGW_NAME_LABEL_KEY,
    PGW_NAME_LABEL_VALUE,
};

/* A check reports at most this many problems (label key: two for the prefix, two for the name). */
#define PGW_NAMES_MAX_ERRORS 4

/*
 * Every message apimachinery gives for `s`, in its order (e.g. "must be no
 * more than 63 characters" and then the regex message): up to `max` static
 * strings into msgs. Returns how many there are (0 when valid).
 */
int pgw_names_check(enum pgw_name_kind kind, const char *s, const char **msgs, int max);

#endif
