/*
 * The Lease store of leader election (controller/kube/leader.h) over the API
 * server: coordination.k8s.io/v1 Lease get/create/update, with the
 * resourceVersion carried for optimistic concurrency (a lost race is a 409,
 * reported as PGW_LEASE_CONFLICT).
 *
 * The JSON conversions are separate and pure so they can be tested alone.
 */
#ifndef PGW_CONTROLLER_KUBE_LEASE_H
#define PGW_CONTROLLER_KUBE_LEASE_H

#include <jansson.h>

#include "controller/kube/kclient.h"
#include "controller/kube/leader.h"

struct pgw_lease_kube {
    struct pgw_kclient *client; /* borrowed; should not be gated by may_write */
    char *namespace_, *name;    /* owned */
};

/* Fills `store` to read and write Lease namespace/name through client. lk is the store's ctx; dispose it after the elector. */
void pgw_lease_kube_init(struct pgw_lease_kube *lk, struct pgw_kclient *client, const char *namespace_, const char *name,
                         struct pgw_lease_store *store);
void pgw_lease_kube_dispose(struct pgw_lease_kube *lk);

/* Lease object → record (out is overwritten; dispose it). 0, or -1 when it is not a Lease. */
int pgw_lease_from_json(const json_t *lease, struct pgw_lease_record *out);
/* Record → Lease object named namespace/name (caller decrefs). */
json_t *pgw_lease_to_json(const struct pgw_lease_record *rec, const char *namespace_, const char *name);

#endif
