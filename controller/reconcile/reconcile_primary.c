/*
 * Who the primary is, and an Event when that changed (reconcile_primary.h).
 *
 * One GET of Patroni's leader object per reconcile: the controller keeps no
 * store of Endpoints, and the pods' role labels alone name a primary lost with
 * its node long after a replica took over (decide/primary.h).
 */
#include <stdlib.h>

#include "common/object.h"
#include "controller/decide/primary.h"
#include "controller/reconcile/reconcile_primary.h"

void pgw_reconcile_primary(struct pgw_reconciler *r, const json_t *cluster, const json_t *pods, json_t *status, int *writes)
{
    const char *previous = json_string_value(json_object_get(json_object_get(cluster, "status"), "primary"));
    struct pgw_kresult res = {0};
    int o = pgw_kclient_get(r->client, pgw_resource_find("Endpoints"), pgw_obj_meta_str(cluster, "namespace"),
                            pgw_obj_meta_str(cluster, "name"), &res);
    const char *now;
    if (o == PGW_K_OK || o == PGW_K_NOT_FOUND) {
        const json_t *ann = json_object_get(pgw_obj_meta(res.body), "annotations");
        now = pgw_primary_pick(json_string_value(json_object_get(ann, PGW_PATRONI_LEADER_ANNOTATION)), pods, previous);
    } else {
        now = previous; /* unknown this time: neither a change nor a guess from the labels */
    }
    char *msg = pgw_primary_change_message(previous, now);
    if (msg != NULL)
        pgw_reconcile_event(r, cluster, "Warning", "PrimaryChanged", msg, writes);
    if (now != NULL)
        json_object_set_new(status, "primary", json_string(now));
    free(msg);
    pgw_kresult_dispose(&res);
}
