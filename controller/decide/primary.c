/*
 * The primary of a cluster from Patroni's leader key and the pods' role
 * labels (primary.h).
 */
#include <string.h>

#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/primary.h"

static const char *pod_name(const json_t *pod)
{
    return json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
}

const char *pgw_primary_pick(const char *leader, const json_t *pods, const char *previous)
{
    size_t i;
    json_t *pod;
    if (leader != NULL && leader[0] != '\0') {
        json_array_foreach(pods, i, pod)
        {
            const char *name = pod_name(pod);
            if (name != NULL && strcmp(name, leader) == 0)
                return name;
        }
    }
    json_array_foreach(pods, i, pod)
    {
        if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") == NULL && pgw_pod_is_primary(pod) &&
            pod_name(pod) != NULL)
            return pod_name(pod);
    }
    return previous;
}

char *pgw_primary_change_message(const char *previous, const char *now)
{
    if (previous == NULL || now == NULL || strcmp(previous, now) == 0)
        return NULL;
    return pgw_asprintf("primary changed from %s to %s", previous, now);
}
