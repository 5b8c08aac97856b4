/*
 * The primary of a cluster from Patroni's leader key and the pods' role
 * labels (primary.h).
 */
#include <string.h>

#include "common/object.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/primary.h"

const char *pgw_primary_pick(const char *leader, const json_t *pods, const char *previous)
{
    size_t i;
    json_t *pod;
    const json_t *leading = leader != NULL && leader[0] != '\0' ? pgw_obj_find_by_meta_name(pods, leader) : NULL;
    if (leading != NULL)
        return pgw_obj_meta_str(leading, "name");
    json_array_foreach(pods, i, pod)
    {
        if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") == NULL && pgw_pod_is_primary(pod) &&
            pgw_obj_meta_str(pod, "name") != NULL)
            return pgw_obj_meta_str(pod, "name");
    }
    return previous;
}

char *pgw_primary_change_message(const char *previous, const char *now)
{
    if (previous == NULL || now == NULL || strcmp(previous, now) == 0)
        return NULL;
    return pgw_asprintf("primary changed from %s to %s", previous, now);
}
