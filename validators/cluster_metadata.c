/*
 * spec.metadata (labels and annotations copied onto every child object) and
 * spec.tls.
 *
 * Keys under pgwarden.io/, kubernetes.io/ and k8s.io/ (and their subdomains,
 * such as app.kubernetes.io/) are reserved: the operator and Kubernetes set
 * them on the children, and a user value would either be overwritten on every
 * reconcile or, worse, change what a selector matches.
 */
#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "validators/cluster.h"
#include "validators/fields.h"

#define ANNOTATIONS_MAX_BYTES (256 * 1024)

static const char *const reserved_domains[] = {"pgwarden.io", "kubernetes.io", "k8s.io", NULL};

/* The reserved domain that `key`'s prefix falls under, or NULL. */
static const char *reserved_prefix(const char *key)
{
    const char *slash = strchr(key, '/');
    if (slash == NULL)
        return NULL;
    size_t n = (size_t)(slash - key);
    for (const char *const *d = reserved_domains; *d; ++d) {
        size_t dn = strlen(*d);
        if (n == dn && strncmp(key, *d, n) == 0)
            return *d;
        if (n > dn && key[n - dn - 1] == '.' && strncmp(key + n - dn, *d, dn) == 0)
            return *d;
    }
    return NULL;
}

static void check_map(const json_t *map, const char *path, int labels, struct pgw_errors *errs)
{
    if (pgw_expect_object(errs, path, map) != 1)
        return;
    size_t total = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)map, key, value)
    {
        const char *why = NULL, *domain;
        json_t *k = json_string(key);
        if (pgw_label_key(key, &why) != 0)
            pgw_errors_add(errs, PGW_ERR_INVALID, path, k, "%s", why);
        else if ((domain = reserved_prefix(key)) != NULL)
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, k, "%s key \"%s\" uses the reserved prefix %s/",
                           labels ? "label" : "annotation", key, domain);
        json_decref(k);
        char *p = pgw_path_key(path, key);
        if (pgw_expect_string(errs, p, value) == 1) {
            total += strlen(key) + json_string_length(value);
            if (labels && pgw_label_value(json_string_value(value), &why) != 0)
                pgw_errors_add(errs, PGW_ERR_INVALID, p, value, "%s", why);
        }
        free(p);
    }
    if (!labels && total > ANNOTATIONS_MAX_BYTES)
        pgw_errors_add(errs, PGW_ERR_TOO_LONG, path, NULL, "may not be more than %d bytes", ANNOTATIONS_MAX_BYTES);
}

void pgw_cluster_validate_metadata(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    static const char *const meta_fields[] = {"labels", "annotations", NULL};
    static const char *const tls_fields[] = {"secretName", NULL};
    json_t *meta = pgw_member(c->spec, "metadata");
    if (pgw_expect_object(errs, "spec.metadata", meta) == 1) {
        pgw_warn_unknown_fields(errs, "spec.metadata", meta, meta_fields);
        check_map(pgw_member(meta, "labels"), "spec.metadata.labels", 1, errs);
        check_map(pgw_member(meta, "annotations"), "spec.metadata.annotations", 0, errs);
    }
    json_t *tls = pgw_member(c->spec, "tls");
    if (pgw_expect_object(errs, "spec.tls", tls) == 1) {
        pgw_warn_unknown_fields(errs, "spec.tls", tls, tls_fields);
        pgw_check_object_name(errs, "spec.tls.secretName", pgw_member(tls, "secretName"));
    }
    pgw_expect_bool(errs, "spec.deletionProtection", pgw_member(c->spec, "deletionProtection"));
}
