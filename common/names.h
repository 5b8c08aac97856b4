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

#endif
