/*
 * The guard: one place that knows, for each kind we admit, its defaulter and
 * its validator, and runs them. The webhook routes point at these kinds, and
 * `pgwarden render` and every reconciler call pgw_guard_check(), so the three
 * paths cannot drift apart (DESIGN.md §2: "the controller runs the same
 * defaulters and validators on every reconcile").
 *
 * The guard sits in validators/ because deciding whether an object is
 * acceptable is validation; it is the one file of this layer that includes
 * mutators/ (defaulting always runs first).
 */
#ifndef PGW_VALIDATORS_GUARD_H
#define PGW_VALIDATORS_GUARD_H

#include <jansson.h>

#include "common/errors.h"
#include "common/request.h"
#include "mutators/mutators.h"
#include "validators/validators.h"

struct pgw_config;

struct pgw_guard_kind {
    const char *group;          /* API group ("" for core) */
    const char *kind;           /* "PostgresCluster" */
    pgw_mutator_fn defaulter;   /* NULL: nothing to default */
    pgw_validator_fn validator; /* NULL: nothing to validate */
    /*
     * Rules about a request rather than the object (the day-2 annotations):
     * run after `validator` by the webhook and `pgwarden admit` only, never by
     * pgw_guard_run(), so a request gone stale cannot stop reconciling. NULL: none.
     */
    pgw_validator_fn request_validator;
    /* The copy the defaulter edits (the differ compares it with the object); NULL: json_deep_copy. */
    json_t *(*copy_for_edit)(const json_t *object);
};

extern const struct pgw_guard_kind pgw_guard_pod;
extern const struct pgw_guard_kind pgw_guard_postgrescluster;
extern const struct pgw_guard_kind pgw_guard_postgresbackup;
extern const struct pgw_guard_kind pgw_guard_postgresrestore;

/* A copy of `obj` prepared for kind's defaulter (new reference). */
json_t *pgw_guard_copy(const struct pgw_guard_kind *kind, const json_t *obj);

/*
 * The context for an object at rest (the controller and the CLI): a CREATE of
 * obj's namespace (default_namespace when it has none) and name ("" when it
 * has none), at the current time. Borrows from obj.
 */
struct pgw_request_ctx pgw_guard_ctx(const json_t *obj, const char *default_namespace, const struct pgw_config *config);

/*
 * Defaults a copy of `obj`, then validates it when defaulting raised no error.
 * Errors and warnings go to `errs`. Returns the defaulted copy (new reference),
 * or NULL when errs holds an error.
 */
json_t *pgw_guard_run(const struct pgw_guard_kind *kind, const json_t *obj, const struct pgw_request_ctx *ctx,
                      struct pgw_errors *errs);

/*
 * The reconciler's form: pgw_guard_run() in an at-rest context. Returns NULL
 * when `obj` is valid (then *defaulted is the defaulted copy, yours to
 * decref), or the joined field errors ("spec.instances: Invalid value: 0: must
 * be ...; spec.storage.size: Required value", caller frees) with *defaulted NULL.
 */
char *pgw_guard_check(const struct pgw_guard_kind *kind, const json_t *obj, const struct pgw_config *config, json_t **defaulted);

#endif
