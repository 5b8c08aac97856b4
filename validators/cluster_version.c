/*
 * spec.postgresVersion, spec.image and spec.instances.
 *
 * The image check follows the distribution reference grammar
 * ([registry[:port]/]path[:tag][@algorithm:hex]). A mutable `latest` tag (or no
 * tag at all, which means latest) is denied because a pod restart could then
 * silently change the server binary; a bare digest is denied because it names
 * no repository to pull from. A digest pinned to a repository is the safest
 * form and is accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/regex_match.h"
#include "common/xalloc.h"
#include "validators/cluster.h"
#include "validators/fields.h"

static const char domain_re[] = "^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)(\\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]+)?$";
static const char component_re[] = "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*$";
static const char tag_re[] = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";
static const char digest_re[] = "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$";

/* 1 when `name` (no tag, no digest) is a valid repository name. */
static int valid_repository(const char *name)
{
    if (name[0] == '\0' || strlen(name) > 255)
        return 0;
    char *copy = pgw_strdup(name), *save = NULL;
    int ok = 1, first = 1;
    int has_domain =
        strchr(name, '/') != NULL && (strcspn(name, ".:") < strcspn(name, "/") || strncmp(name, "localhost/", 10) == 0);
    for (char *part = strtok_r(copy, "/", &save); part != NULL; part = strtok_r(NULL, "/", &save)) {
        if (first && has_domain)
            ok = ok && pgw_regex_match(part, domain_re);
        else
            ok = ok && pgw_regex_match(part, component_re);
        first = 0;
    }
    /* "a//b", leading or trailing "/" leave empty components that strtok skips. */
    if (strstr(name, "//") != NULL || name[0] == '/' || name[strlen(name) - 1] == '/')
        ok = 0;
    free(copy);
    return ok;
}

static void check_image(const struct pgw_cluster_view *c, const json_t *v, struct pgw_errors *errs)
{
    static const char path[] = "spec.image";
    if (v == NULL)
        return;
    if (!pgw_require_string(errs, path, v))
        return;
    const char *image = json_string_value(v);
    if (image[0] == '@' || pgw_regex_match(image, "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v,
                       "a bare digest names no repository: use repository@sha256:<digest> or repository:tag");
        return;
    }
    char *name = pgw_strdup(image);
    char *digest = strchr(name, '@');
    if (digest != NULL)
        *digest++ = '\0';
    char *slash = strrchr(name, '/'), *colon = strrchr(name, ':');
    char *tag = NULL;
    if (colon != NULL && (slash == NULL || colon > slash)) {
        *colon = '\0';
        tag = colon + 1;
    }
    if (!valid_repository(name) || (tag != NULL && !pgw_regex_match(tag, tag_re)) ||
        (digest != NULL && !pgw_regex_match(digest, digest_re))) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v,
                       "must be a valid image reference such as registry.example.com/postgres:17.6 or "
                       "repository@sha256:<digest>");
    } else if (tag != NULL && strcmp(tag, "latest") == 0) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v,
                       "the \"latest\" tag is denied: pin a version tag (such as 17.6) or a digest");
    } else if (tag == NULL && digest == NULL) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v,
                       "an image without a tag means \"latest\", which is denied: pin a version tag or a digest");
    } else if (tag != NULL && c->major != 0) {
        /* "16.4-bookworm" under postgresVersion 17 is almost certainly a mistake. */
        char *end = NULL;
        long tag_major = strtol(tag, &end, 10);
        if (end != tag && tag_major >= 10 && tag_major <= 99 && tag_major != c->major)
            pgw_errors_warn(errs, "spec.image: tag \"%s\" does not look like PostgreSQL %d (spec.postgresVersion)", tag, c->major);
    }
    free(name);
}

int pgw_cluster_check_instances(struct pgw_errors *errs, const char *path, const json_t *v)
{
    if (v == NULL)
        return 0;
    if (!pgw_check_int_range(errs, path, v, PGW_INSTANCES_MIN, PGW_INSTANCES_MAX))
        return 0;
    if (json_integer_value(v) == 1)
        pgw_errors_warn(errs, "%s: 1 instance means no high availability; use 2 or more for automatic failover", path);
    return 1;
}

void pgw_cluster_validate_version(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    json_t *version = pgw_member(c->spec, "postgresVersion");
    if (version == NULL)
        pgw_errors_add(errs, PGW_ERR_REQUIRED, "spec.postgresVersion", NULL, NULL);
    else if (pgw_check_int_range(errs, "spec.postgresVersion", version, PGW_PG_MAJOR_MIN, PGW_PG_MAJOR_MAX) &&
             json_integer_value(version) == 14)
        pgw_errors_warn(errs, "spec.postgresVersion: PostgreSQL 14 is past end of life; plan a major upgrade");

    check_image(c, pgw_member(c->spec, "image"), errs);

    json_t *instances = pgw_member(c->spec, "instances");
    if (instances == NULL)
        pgw_errors_add(errs, PGW_ERR_REQUIRED, "spec.instances", NULL, NULL);
    else
        pgw_cluster_check_instances(errs, "spec.instances", instances);
}
