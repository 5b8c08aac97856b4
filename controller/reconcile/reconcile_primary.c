/*
 * Who the primary is, and an Event when that changed (reconcile_primary.h).
 *
 * One GET of Patroni's leader object per reconcile: the controller keeps no
 * store of Endpoints, and the pods' role labels alone name a primary lost with
 * its node long after a replica took over (decide/primary.h).
 *
 * The primary compared with is the one this controller last saw, kept in the
 * apply cache, before the stored status: a reconcile that follows right after
 * a status write may read the cluster from a store the watch has not updated
 * yet, and would raise the Event a second time. Priming on a leader change
 * empties the cache, so a new leader starts from the stored status.
 */
#include <stdlib.h>
#include <string.h>

#include "common/object.h"
#include "controller/decide/primary.h"
#include "controller/reconcile/reconcile_primary.h"
#include "controller/reconcile/reconcile_rollout.h"

#define SEEN_KIND "PrimarySeen"

void pgw_reconcile_primary(struct pgw_reconciler *r, const json_t *cluster, const json_t *pods, json_t *status, int *writes)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    const char *uid = pgw_obj_meta_str(cluster, "uid");
    char *seen = r->cache != NULL && uid != NULL ? pgw_apply_cache_lookup(r->cache, uid, SEEN_KIND, ns, name) : NULL;
    const char *previous = seen != NULL ? seen : json_string_value(json_object_get(json_object_get(cluster, "status"), "primary"));
    struct pgw_kresult res = {0};
    int o = pgw_kclient_get(r->client, pgw_resource_find("Endpoints"), ns, name, &res);
    const char *now;
    if (o == PGW_K_OK || o == PGW_K_NOT_FOUND) {
        const json_t *ann = json_object_get(pgw_obj_meta(res.body), "annotations");
        now = pgw_primary_pick(json_string_value(json_object_get(ann, PGW_PATRONI_LEADER_ANNOTATION)), pods, previous);
    } else {
        /* The key unknown this time: the primary seen before stays (no change, no Event); with none
         * seen yet, the labels say what they can. */
        now = previous != NULL ? previous : pgw_primary_pick(NULL, pods, NULL);
    }
    char *msg = pgw_primary_change_message(previous, now);
    if (msg != NULL) {
        /* A switchover this controller asked for is news, not trouble. */
        char *planned =
            r->cache != NULL && uid != NULL ? pgw_apply_cache_lookup(r->cache, uid, PGW_CACHE_SWITCHOVER_TO, ns, name) : NULL;
        int expected = planned != NULL && now != NULL && strcmp(planned, now) == 0;
        pgw_reconcile_event(r, cluster, expected ? "Normal" : "Warning", "PrimaryChanged", msg, writes);
        if (expected) /* once: a later failover to the same instance is trouble again */
            pgw_apply_cache_remember(r->cache, uid, PGW_CACHE_SWITCHOVER_TO, ns, name, "");
        free(planned);
    }
    if (now != NULL) {
        json_object_set_new(status, "primary", json_string(now));
        if (r->cache != NULL && uid != NULL)
            pgw_apply_cache_remember(r->cache, uid, SEEN_KIND, ns, name, now);
    }
    free(msg);
    free(seen);
    pgw_kresult_dispose(&res);
}
