/*
 * Applying rendered children (DESIGN.md §6, "Apply").
 *
 * Every child goes out with server-side apply (fieldManager pgwarden,
 * force=true), except Secrets, which are created only when absent: a password
 * that exists is never overwritten (409 AlreadyExists is success). Two kinds
 * of Secret get more: certificates are renewed when due, and PgBouncer's
 * Secret gets the TLS keys it lacks (apply_secrets.c).
 *
 * Zero writes in steady state. The hash of the desired object (SHA-256 of its
 * canonical JSON, 16 hex digits) is stamped on the child as the annotation
 * pgwarden.io/desired-hash, and remembered in an in-memory cache keyed by
 * owner uid + kind + namespace + name. Why both:
 *   - the cache makes the steady state free: a reconcile whose render did not
 *     change costs no request at all, not even a read;
 *   - the annotation makes a cold cache cheap and safe: after a restart or a
 *     leader handover the child is read once, and when its annotation already
 *     carries the hash we skip the write and fill the cache;
 *   - the owner uid in the key means a cluster deleted and re-created under the
 *     same name never inherits the old entries.
 *   - priming fills the cache from one LIST per child kind, so a cold start
 *     (restart, new leader, periodic resync) costs a handful of LISTs instead
 *     of one GET per child, and a miss in a primed cache is written at once.
 * A child changed by someone else keeps our annotation, so the cache does not
 * notice such drift; owned StatefulSets are watched, and a deleted child is
 * re-applied after the next priming (leader change or resync). Trade-off
 * accepted: drift on fields we own is repaired when our desired state changes
 * or on restart, not continuously, and steady state stays at zero writes.
 *
 * The decision for one child is pure (pgw_apply_decide) and unit-tested; the
 * loop around it does the I/O.
 */
#ifndef PGW_CONTROLLER_RECONCILE_APPLY_H
#define PGW_CONTROLLER_RECONCILE_APPLY_H

#include <jansson.h>
#include <time.h>

#include "controller/kube/kclient.h"

#define PGW_ANNOTATION_DESIRED_HASH "pgwarden.io/desired-hash"
#define PGW_APPLY_HASH_LEN 16

/* 16 lowercase hex digits (+ NUL) of SHA-256 over `obj` serialised with sorted keys, ignoring
 * metadata.annotations[pgwarden.io/desired-hash]. out: at least PGW_APPLY_HASH_LEN + 1 bytes. */
void pgw_apply_hash(const json_t *obj, char *out);

enum pgw_apply_action {
    PGW_APPLY_SKIP,      /* unchanged: no request */
    PGW_APPLY_READ_LIVE, /* cache cold: read the child, then decide again */
    PGW_APPLY_PATCH,     /* server-side apply */
    PGW_APPLY_CREATE     /* POST, AlreadyExists is fine (Secrets, a backup repository's PVC) */
};
/* Live state as known to the caller. */
enum pgw_live_state { PGW_LIVE_UNKNOWN, PGW_LIVE_ABSENT, PGW_LIVE_PRESENT };

/*
 * What to do for one child. cached: the hash in the cache or NULL; live_hash:
 * the live child's desired-hash annotation (NULL when absent or unknown).
 */
enum pgw_apply_action pgw_apply_decide(const char *kind, const char *desired_hash, const char *cached, enum pgw_live_state live,
                                       const char *live_hash);

/* The cache (thread-safe). */
struct pgw_apply_cache;
struct pgw_apply_cache *pgw_apply_cache_new(void);
void pgw_apply_cache_free(struct pgw_apply_cache *c);
/* Drops every entry of one owner (a deleted cluster). */
void pgw_apply_cache_forget_owner(struct pgw_apply_cache *c, const char *owner_uid);
/* Drops one child's entry (the child was deleted by someone). */
void pgw_apply_cache_forget(struct pgw_apply_cache *c, const char *owner_uid, const char *kind, const char *namespace_,
                            const char *name);
long pgw_apply_cache_size(struct pgw_apply_cache *c);
/* Empties the cache and marks it unprimed: every miss is read before it is written. */
void pgw_apply_cache_reset(struct pgw_apply_cache *c);
/* The entries now cover every child we applied: a miss is written without a read. */
void pgw_apply_cache_set_primed(struct pgw_apply_cache *c);
int pgw_apply_cache_primed(struct pgw_apply_cache *c);
/* The uid of obj's controller (the ownerReference with controller: true) when it is a `kind`, or NULL. Borrowed. */
const char *pgw_controller_uid(const json_t *obj, const char *kind);
/* Whether obj carries any ownerReference (priming attributes one without to its cluster by label). */
int pgw_apply_owned(const json_t *obj);
/* A live object's pgwarden.io/desired-hash annotation (borrowed), or NULL. */
const char *pgw_apply_live_hash(const json_t *live);

/* The kinds pgw_render_cluster() emits, NULL-terminated: what priming lists. */
extern const char *const pgw_apply_child_kinds[];

/*
 * Priming (apply_prime.c): resets the cache, then lists every child kind with
 * label app.kubernetes.io/managed-by=pgwarden in each of `namespaces`
 * (comma-separated; "" or NULL: all namespaces) and remembers each object that
 * a PostgresCluster controls and that carries our desired-hash annotation.
 * Only when every LIST succeeded is the cache marked primed; otherwise it
 * keeps what it found but stays unprimed (misses are read first), and -1 is
 * returned with *err. *children: the entries remembered.
 * Callers keep reconciles out while it runs.
 */
int pgw_apply_cache_prime(struct pgw_apply_cache *c, struct pgw_kclient *client, const char *namespaces, long *children,
                          char **err);
/* Free-form entries for other once-per-change work (the CronJob prune): 1 when
 * `hash` is what was remembered under owner/kind/namespace/name. */
int pgw_apply_cache_seen(struct pgw_apply_cache *c, const char *owner_uid, const char *kind, const char *namespace_,
                         const char *name, const char *hash);
void pgw_apply_cache_remember(struct pgw_apply_cache *c, const char *owner_uid, const char *kind, const char *namespace_,
                              const char *name, const char *hash);

struct pgw_apply_stats {
    int writes;  /* requests that write (apply, create) */
    int reads;   /* cold-cache reads */
    int skipped; /* children left alone */
};

/*
 * Secrets beyond create-once (apply_secrets.c): certificate Secrets
 * (specs/render_certs.h) are issued when absent and renewed when due, and a
 * Secret with pgwarden.io/tls-from gets tls.crt and tls.key from its source
 * when they are missing or the source was renewed. One pass over a cluster's
 * children shares what each certificate Secret holds.
 */
struct pgw_apply_pass {
    json_t *sources; /* Secret name → {data: {key: PEM}, renewed: bool}, certificates seen so far */
    time_t now;      /* 0: the current time */
};
/* A certificate judged good is read again on a reconcile this long after, at the latest. */
#define PGW_APPLY_CERT_RECHECK_SECONDS 60
/* A Secret cached under this prefix was seen by priming with these keys (",a,b,"), not written by us. */
#define PGW_APPLY_KEYS_PREFIX "keys:"
int pgw_apply_certificate(struct pgw_kclient *client, struct pgw_apply_cache *cache, const char *owner_uid, const json_t *child,
                          const char *hash, struct pgw_apply_pass *pass, struct pgw_apply_stats *stats, char **err);
int pgw_apply_tls_copy(struct pgw_kclient *client, struct pgw_apply_cache *cache, const char *owner_uid, const json_t *child,
                       const char *hash, struct pgw_apply_pass *pass, struct pgw_apply_stats *stats, char **err);
/* A live Secret's data, base64-decoded: {key: text}; binary values are left out. Caller decrefs. */
json_t *pgw_apply_secret_data(const json_t *secret);
/* PGW_APPLY_KEYS_PREFIX and the sorted keys of a live Secret's data, ",a,b,". malloc'd. */
char *pgw_apply_secret_keys(const json_t *secret);
/* Remembers that the certificate in Secret ns/name is good until renew_at. */
void pgw_apply_remember_certificate(struct pgw_apply_cache *cache, const char *owner_uid, const char *ns, const char *name,
                                    time_t renew_at);
/* The value remembered under owner/kind/namespace/name (malloc'd), or NULL. */
char *pgw_apply_cache_lookup(struct pgw_apply_cache *c, const char *owner_uid, const char *kind, const char *namespace_,
                             const char *name);
/* A copy of child carrying the desired-hash annotation. Caller decrefs. */
json_t *pgw_apply_stamped(const json_t *child, const char *hash);

/*
 * Applies `children` (an array of objects; borrowed) owned by owner_uid.
 * Stops at the first failure: returns -1 with *err (caller frees) naming the
 * child and the API's message; 0 when every child is in place.
 */
int pgw_apply_children(struct pgw_kclient *client, struct pgw_apply_cache *cache, const char *owner_uid, const json_t *children,
                       struct pgw_apply_stats *stats, char **err);

#endif
