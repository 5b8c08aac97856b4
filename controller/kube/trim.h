/*
 * What the controller's caches keep of a watched object.
 *
 * Every watched object stays in memory for the life of the process, so the
 * fields no reconcile reads are dropped before it is stored (as client-go
 * informers do with a transform): metadata.managedFields and kubectl's
 * last-applied-configuration annotation on every kind, a Pod's spec and
 * container statuses, a StatefulSet's or Job's pod template and claim
 * templates. What stays: metadata otherwise whole, and the status the
 * status computation and the backup gate read. Reads that need a full object
 * (a Job's pod termination message) go to the API, not the cache.
 */
#ifndef PGW_CONTROLLER_KUBE_TRIM_H
#define PGW_CONTROLLER_KUBE_TRIM_H

#include <jansson.h>

/* Trims obj in place (kind from obj's "kind"). */
void pgw_trim_cached_object(json_t *obj);

#endif
