/*
 * A cluster's volume claims: whose they are, and whether they have the size
 * the spec asks for (docs/operations.md, "Growing volumes"). Pure: the claims
 * and StorageClasses come in as JSON, decisions go out; the requests are made
 * by controller/reconcile/reconcile_volumes.c.
 *
 * The StatefulSet's claim templates are immutable, so a bigger
 * spec.storage.size (or walSize) is carried out claim by claim: each bound
 * claim that requests less is patched, when its StorageClass allows expansion.
 * The claims are those the StatefulSet makes, <template>-<cluster>-<ordinal>,
 * every ordinal (a claim kept after a scale-down is grown too, for the day the
 * instance comes back).
 *
 * Leftovers: the claims of a deleted cluster are kept, and a new cluster of
 * the same name would mount them without a word. Claims made by this cluster
 * carry its uid (PGW_LABEL_CLUSTER_UID); before the StatefulSet exists, any
 * other claim of the cluster's names blocks it, unless the cluster is
 * annotated PGW_ANNOTATION_ADOPT_VOLUMES=true. A restore never adopts: it
 * would start on the old data and skip the restore.
 */
#ifndef PGW_CONTROLLER_DECIDE_VOLUMES_H
#define PGW_CONTROLLER_DECIDE_VOLUMES_H

#include <jansson.h>

#define PGW_CONDITION_VOLUMES_RESIZED "VolumesResized"
#define PGW_CONDITION_VOLUMES_READY "VolumesReady"
#define PGW_REASON_RESIZED "Resized"
#define PGW_REASON_RESIZING "Resizing"
#define PGW_REASON_EXPANSION_NOT_SUPPORTED "ExpansionNotSupported"
#define PGW_REASON_LEFTOVER_CLAIMS "LeftoverClaims"
#define PGW_REASON_ADOPTED "Adopted"

/* The claim template ("pgdata", "pgwal") whose claims include `claim` for the cluster named `cluster`
 * (<template>-<cluster>-<ordinal>), or NULL. Static string. */
const char *pgw_volumes_claim_template(const char *cluster, const char *claim);

/* --- leftovers ---------------------------------------------------------------- */

enum pgw_volumes_verdict {
    PGW_VOLUMES_OWN,     /* no claim of an earlier cluster: go on */
    PGW_VOLUMES_ADOPT,   /* some, and the cluster adopts them: go on, relabel them */
    PGW_VOLUMES_BLOCKED, /* some: the StatefulSet is not created */
};

struct pgw_volumes_leftovers {
    enum pgw_volumes_verdict verdict;
    json_t *claims; /* names of the leftover claims, sorted (owned) */
    char *message;  /* for ADOPT and BLOCKED (owned) */
};

/*
 * Judges `claims` (the namespace's PersistentVolumeClaims, borrowed; others'
 * are ignored) for `cluster` (its metadata.uid, its annotations,
 * spec.bootstrap.restore). Free with pgw_volumes_leftovers_dispose.
 */
void pgw_volumes_check_leftovers(const json_t *cluster, const json_t *claims, struct pgw_volumes_leftovers *out);
void pgw_volumes_leftovers_dispose(struct pgw_volumes_leftovers *l);

/* --- growth ------------------------------------------------------------------- */

struct pgw_volumes_growth {
    json_t *grow;       /* [{"name": claim, "size": quantity}]: claims to patch (owned) */
    json_t *classes;    /* names of the StorageClasses to read before deciding again, when not given (owned) */
    const char *status; /* VolumesResized: "True", "False", or NULL to leave the condition as it is */
    const char *reason;
    char *message; /* owned */
    int settled;   /* every claim of every instance exists, is bound and has the spec's size */
};

/*
 * What to do about the sizes of a (defaulted) cluster's claims. `claims`: the
 * namespace's claims; `classes`: {name: StorageClass} for the classes of the
 * claims that ask for less than the spec (borrowed; a name missing from it is
 * listed in out->classes, and nothing is grown while any is). The condition is
 * reported once a claim was short, and kept (True) after: `old_status` is the
 * stored status. Free with pgw_volumes_growth_dispose.
 */
void pgw_volumes_plan_growth(const json_t *cluster, const json_t *old_status, const json_t *claims, const json_t *classes,
                             struct pgw_volumes_growth *out);
void pgw_volumes_growth_dispose(struct pgw_volumes_growth *g);

#endif
