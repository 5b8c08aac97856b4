/*
 * Trimming watched objects before they are cached (contract in trim.h).
 *
 * Why: every watched object stays in memory for the life of the process, so
 * fields no reconcile reads (managedFields, last-applied annotations, pod
 * specs, templates) are dropped on the way in, as client-go transforms do.
 * Reads that need a whole object go to the API server, not the cache.
 */
#include <string.h>

#include "controller/kube/trim.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

void pgw_trim_cached_object(json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");
    json_object_del(meta, "managedFields");
    json_object_del(json_object_get(meta, "annotations"), LAST_APPLIED);
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind == NULL)
        return;
    json_t *spec = json_object_get(obj, "spec");
    if (strcmp(kind, "Pod") == 0) {
        json_t *status = json_object_get(obj, "status");
        json_object_del(obj, "spec");
        json_object_del(status, "containerStatuses");
        json_object_del(status, "initContainerStatuses");
        json_object_del(status, "ephemeralContainerStatuses");
    } else if (strcmp(kind, "StatefulSet") == 0) {
        json_object_del(spec, "template");
        json_object_del(spec, "volumeClaimTemplates");
    } else if (strcmp(kind, "Job") == 0) {
        json_object_del(spec, "template");
    }
}
