/*
 * Day-2 operations on a PostgresCluster (specs/operations.h): the rollout
 * mode, what a scale-down does, and the switchover and restart requests made
 * with annotations.
 *
 * The annotations are requests, not state: the controller carries one out and
 * removes it. They are therefore judged only by admission
 * (pgw_validate_postgrescluster_request, wired as the guard kind's
 * request_validator), never by the guard the controller runs on every
 * reconcile: a request that has gone stale since it was admitted (its target
 * removed by a scale-down, or already the primary) must not stop the
 * reconciling of the whole cluster. The controller reports such a request
 * itself and drops it. For the same reason admission judges an annotation only
 * when a request adds or changes it: an update that leaves a pending request as
 * it was (the controller's own, removing a finalizer, say) is not refused for it.
 */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "specs/operations.h"
#include "validators/cluster.h"
#include "validators/fields.h"
#include "validators/validators.h"

#define ANNOTATIONS_PATH "metadata.annotations"

void pgw_cluster_validate_rollout(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    static const char *const fields[] = {"mode", NULL};
    static const char *const modes[] = {PGW_ROLLOUT_UNSUPERVISED, PGW_ROLLOUT_SUPERVISED, NULL};
    json_t *rollout = pgw_member(c->spec, "rollout");
    if (pgw_expect_object(errs, "spec.rollout", rollout) != 1)
        return;
    pgw_warn_unknown_fields(errs, "spec.rollout", rollout, fields);
    json_t *mode = pgw_member(rollout, "mode");
    if (mode != NULL)
        pgw_check_enum(errs, "spec.rollout.mode", mode, modes);
}

/* "demo-2" for (demo, 2). malloc'd. */
static char *instance_name(const char *cluster, long long ordinal)
{
    return pgw_asprintf("%s-%lld", cluster, ordinal);
}

void pgw_cluster_warn_scale_down(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    json_t *now = pgw_member(c->spec, "instances"), *before = pgw_member(c->old_spec, "instances");
    if (!json_is_integer(now) || !json_is_integer(before) || c->instances == 0)
        return;
    long long to = json_integer_value(now), from = json_integer_value(before);
    if (to >= from)
        return;
    char *first = instance_name(c->name, to), *last = instance_name(c->name, from - 1);
    if (from - to == 1)
        pgw_errors_warn(errs, "spec.instances: scaling down from %lld to %lld removes the highest ordinal, %s", from, to, first);
    else
        pgw_errors_warn(errs, "spec.instances: scaling down from %lld to %lld removes the highest ordinals, %s to %s", from, to,
                        first, last);
    free(first);
    free(last);
    pgw_errors_warn(errs, "spec.instances: when the primary is among the removed instances it is switched over first");
    const char *policy = json_string_value(pgw_member(pgw_member(c->spec, "storage"), "onScaleDown"));
    if (policy != NULL && strcmp(policy, PGW_SCALE_DOWN_DELETE) == 0)
        pgw_errors_warn(errs, "spec.storage.onScaleDown is Delete: the volume claims of the removed instances are deleted, "
                              "with their data");
    else
        pgw_errors_warn(errs, "spec.storage.onScaleDown is Retain: the volume claims of the removed instances are kept and "
                              "reused by a later scale-up");
}

/* Member `key` of metadata.annotations (borrowed), or NULL. */
static json_t *annotation(const json_t *object, const char *key)
{
    return pgw_member(pgw_member(pgw_member(object, "metadata"), "annotations"), key);
}

/* Reports and returns 0 unless `value` names one of the cluster's `instances` instances. */
static int check_instance(struct pgw_errors *errs, const char *path, const json_t *value, const char *cluster, long long instances)
{
    long long ordinal = pgw_instance_ordinal(cluster, json_string_value(value));
    if (ordinal >= 0 && ordinal < instances)
        return 1;
    char *first = instance_name(cluster, 0), *last = instance_name(cluster, instances - 1);
    if (instances == 1)
        pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "no such instance: %s has one instance, %s", cluster, first);
    else
        pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "no such instance: %s has instances %s … %s", cluster, first, last);
    free(first);
    free(last);
    return 0;
}

/* The annotation `key` when this request adds or changes it and it is a string; NULL otherwise. */
static json_t *requested(struct pgw_errors *errs, const char *key, const json_t *object, const json_t *old_object, char **path)
{
    json_t *value = annotation(object, key);
    if (value == NULL)
        return NULL;
    json_t *before = annotation(old_object, key);
    if (before != NULL && json_equal(value, before))
        return NULL; /* pending since an earlier request: the controller owns it now */
    *path = pgw_path_key(ANNOTATIONS_PATH, key);
    if (pgw_expect_string(errs, *path, value) != 1) {
        free(*path);
        *path = NULL;
        return NULL;
    }
    return value;
}

static void check_switchover(const json_t *object, const json_t *old_object, const char *cluster, long long instances,
                             struct pgw_errors *errs)
{
    char *path = NULL;
    json_t *value = requested(errs, PGW_ANNOTATION_SWITCHOVER, object, old_object, &path);
    if (value == NULL)
        return;
    if (old_object == NULL) {
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, value,
                       "a new cluster has no instances yet: request a switchover once the cluster is running");
    } else if (instances == 1) {
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, value, "a single instance has no replica to switch over to");
    } else if (check_instance(errs, path, value, cluster, instances)) {
        json_t *primary = pgw_member(pgw_member(old_object, "status"), "primary");
        if (json_is_string(primary) && json_equal(primary, value))
            pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "%s is already the primary", json_string_value(value));
    }
    free(path);
}

static void check_restart(const json_t *object, const json_t *old_object, const char *cluster, long long instances,
                          struct pgw_errors *errs)
{
    char *path = NULL;
    json_t *value = requested(errs, PGW_ANNOTATION_RESTART, object, old_object, &path);
    if (value == NULL)
        return;
    if (strcmp(json_string_value(value), PGW_RESTART_ALL) != 0 && pgw_instance_ordinal(cluster, json_string_value(value)) < 0)
        pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "must be \"%s\" or the name of one instance (%s-0, %s-1, ...)",
                       PGW_RESTART_ALL, cluster, cluster);
    else if (strcmp(json_string_value(value), PGW_RESTART_ALL) != 0)
        check_instance(errs, path, value, cluster, instances);
    free(path);
}

void pgw_validate_postgrescluster_request(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                                          struct pgw_errors *errs)
{
    if (object == NULL)
        return; /* DELETE */
    const char *cluster = json_string_value(pgw_member(pgw_member(object, "metadata"), "name"));
    if (cluster == NULL)
        cluster = ctx->name != NULL ? ctx->name : "";
    json_t *iv = pgw_member(pgw_member(object, "spec"), "instances");
    long long instances = iv == NULL ? 1 : json_is_integer(iv) ? json_integer_value(iv) : 0;
    if (cluster[0] == '\0' || instances < PGW_INSTANCES_MIN || instances > PGW_INSTANCES_MAX)
        return; /* the object's own validator reports these */
    check_switchover(object, old_object, cluster, instances, errs);
    check_restart(object, old_object, cluster, instances, errs);
    pgw_cluster_check_rotate_password(object, old_object, cluster, errs); /* validators/cluster_roles.c */
}
