/*
 * A thread-safe local copy of watched objects (client-go's informer store).
 *
 * The watch threads put and delete; reconcile workers read. Reading the
 * cluster, its StatefulSet and its pods from here instead of the API server
 * is what makes a steady-state reconcile cost no request at all.
 *
 * Objects are kept by reference: get/list return new references (decref
 * them), and stored objects are never modified in place.
 */
#ifndef PGW_CONTROLLER_KUBE_STORE_H
#define PGW_CONTROLLER_KUBE_STORE_H

#include <jansson.h>

struct pgw_store;

struct pgw_store *pgw_store_new(void);
void pgw_store_free(struct pgw_store *s);

/* Keeps a reference to obj under "namespace/name". */
void pgw_store_put(struct pgw_store *s, json_t *obj);
void pgw_store_delete(struct pgw_store *s, const json_t *obj);
/* New reference or NULL. */
json_t *pgw_store_get(struct pgw_store *s, const char *namespace_, const char *name);
/* New array of the objects in namespace_ whose label `key` equals `value`. */
json_t *pgw_store_select(struct pgw_store *s, const char *namespace_, const char *key, const char *value);
/* New array of every object in namespace_. */
json_t *pgw_store_list(struct pgw_store *s, const char *namespace_);
/* New array of "namespace/name" strings. */
json_t *pgw_store_keys(struct pgw_store *s);
long pgw_store_size(struct pgw_store *s);

#endif
