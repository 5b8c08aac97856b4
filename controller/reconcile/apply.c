/*
 * Applying a cluster's children (the full story is in apply.h).
 *
 * Why a desired-hash cache: the steady state must cost zero requests. Each
 * child's desired hash is stamped as an annotation and remembered per owner
 * uid, kind, namespace and name; an unchanged render writes nothing and reads
 * nothing. Secrets are created only when absent, so a password that exists is
 * never overwritten. The per-child decision is pure (pgw_apply_decide); the
 * loop around it does the I/O.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/sha256.h"
#include "common/xalloc.h"
#include "controller/reconcile/apply.h"
#include "specs/render_certs.h"

struct pgw_apply_cache {
    pthread_mutex_t lock;
    json_t *entries; /* key → json string hash */
    int primed;      /* entries hold every child we applied (see pgw_apply_cache_prime) */
};

void pgw_apply_hash(const json_t *obj, char *out)
{
    json_t *copy = json_deep_copy(obj);
    json_t *ann = json_object_get(json_object_get(copy, "metadata"), "annotations");
    if (json_is_object(ann)) {
        json_object_del(ann, PGW_ANNOTATION_DESIRED_HASH);
        if (json_object_size(ann) == 0) /* stamped or not, the same object */
            json_object_del(json_object_get(copy, "metadata"), "annotations");
    }
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(copy);
    pgw_sha256_hex(text != NULL ? text : "", text != NULL ? strlen(text) : 0, PGW_APPLY_HASH_LEN / 2, out);
    free(text);
}

enum pgw_apply_action pgw_apply_decide(const char *kind, const char *desired_hash, const char *cached, enum pgw_live_state live,
                                       const char *live_hash)
{
    /* Create-only kinds: a generated Secret is never overwritten, and a backup repository's claim,
     * which no cluster owns (it outlives it), is made once and left to its user after that. */
    int secret = strcmp(kind, "Secret") == 0 || strcmp(kind, "PersistentVolumeClaim") == 0;
    if (cached != NULL && (secret || strcmp(cached, desired_hash) == 0))
        return PGW_APPLY_SKIP;
    if (secret) {
        if (live == PGW_LIVE_PRESENT)
            return PGW_APPLY_SKIP; /* never overwritten */
        return live == PGW_LIVE_ABSENT ? PGW_APPLY_CREATE : PGW_APPLY_READ_LIVE;
    }
    if (cached != NULL)
        return PGW_APPLY_PATCH; /* we applied something else before: the render changed */
    if (live == PGW_LIVE_UNKNOWN)
        return PGW_APPLY_READ_LIVE;
    if (live == PGW_LIVE_PRESENT && live_hash != NULL && strcmp(live_hash, desired_hash) == 0)
        return PGW_APPLY_SKIP;
    return PGW_APPLY_PATCH;
}

struct pgw_apply_cache *pgw_apply_cache_new(void)
{
    struct pgw_apply_cache *c = pgw_calloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->entries = json_object();
    return c;
}

void pgw_apply_cache_free(struct pgw_apply_cache *c)
{
    if (c == NULL)
        return;
    json_decref(c->entries);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static char *cache_key(const char *owner_uid, const char *kind, const char *ns, const char *name)
{
    return pgw_asprintf("%s/%s/%s/%s", owner_uid, kind, ns != NULL ? ns : "", name);
}

/* The cached hash (malloc'd) or NULL. */
static char *cache_get(struct pgw_apply_cache *c, const char *key)
{
    pthread_mutex_lock(&c->lock);
    const char *v = json_string_value(json_object_get(c->entries, key));
    char *out = v != NULL ? pgw_strdup(v) : NULL;
    pthread_mutex_unlock(&c->lock);
    return out;
}

static void cache_put(struct pgw_apply_cache *c, const char *key, const char *hash)
{
    pthread_mutex_lock(&c->lock);
    json_object_set_new(c->entries, key, json_string(hash));
    pthread_mutex_unlock(&c->lock);
}

void pgw_apply_cache_forget(struct pgw_apply_cache *c, const char *owner_uid, const char *kind, const char *namespace_,
                            const char *name)
{
    char *key = cache_key(owner_uid, kind, namespace_, name);
    pthread_mutex_lock(&c->lock);
    json_object_del(c->entries, key);
    pthread_mutex_unlock(&c->lock);
    free(key);
}

void pgw_apply_cache_forget_owner(struct pgw_apply_cache *c, const char *owner_uid)
{
    size_t n = strlen(owner_uid);
    const char *key;
    json_t *v;
    void *tmp;
    pthread_mutex_lock(&c->lock);
    json_object_foreach_safe(c->entries, tmp, key, v)
    {
        if (strncmp(key, owner_uid, n) == 0 && key[n] == '/')
            json_object_del(c->entries, key);
    }
    pthread_mutex_unlock(&c->lock);
}

void pgw_apply_cache_reset(struct pgw_apply_cache *c)
{
    pthread_mutex_lock(&c->lock);
    json_object_clear(c->entries);
    c->primed = 0;
    pthread_mutex_unlock(&c->lock);
}

void pgw_apply_cache_set_primed(struct pgw_apply_cache *c)
{
    pthread_mutex_lock(&c->lock);
    c->primed = 1;
    pthread_mutex_unlock(&c->lock);
}

int pgw_apply_cache_primed(struct pgw_apply_cache *c)
{
    pthread_mutex_lock(&c->lock);
    int primed = c->primed;
    pthread_mutex_unlock(&c->lock);
    return primed;
}

long pgw_apply_cache_size(struct pgw_apply_cache *c)
{
    pthread_mutex_lock(&c->lock);
    long n = (long)json_object_size(c->entries);
    pthread_mutex_unlock(&c->lock);
    return n;
}

int pgw_apply_cache_seen(struct pgw_apply_cache *c, const char *owner_uid, const char *kind, const char *namespace_,
                         const char *name, const char *hash)
{
    char *key = cache_key(owner_uid, kind, namespace_, name);
    char *cached = cache_get(c, key);
    int seen = cached != NULL && strcmp(cached, hash) == 0;
    free(cached);
    free(key);
    return seen;
}

char *pgw_apply_cache_lookup(struct pgw_apply_cache *c, const char *owner_uid, const char *kind, const char *namespace_,
                             const char *name)
{
    char *key = cache_key(owner_uid, kind, namespace_, name);
    char *v = cache_get(c, key);
    free(key);
    return v;
}

void pgw_apply_cache_remember(struct pgw_apply_cache *c, const char *owner_uid, const char *kind, const char *namespace_,
                              const char *name, const char *hash)
{
    char *key = cache_key(owner_uid, kind, namespace_, name);
    cache_put(c, key, hash);
    free(key);
}

const char *pgw_controller_uid(const json_t *obj, const char *kind)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, ref)
    {
        if (!json_is_true(json_object_get(ref, "controller")))
            continue;
        const char *k = json_string_value(json_object_get(ref, "kind"));
        return k != NULL && strcmp(k, kind) == 0 ? json_string_value(json_object_get(ref, "uid")) : NULL;
    }
    return NULL;
}

int pgw_apply_owned(const json_t *obj)
{
    return json_array_size(json_object_get(json_object_get(obj, "metadata"), "ownerReferences")) > 0;
}

const char *pgw_apply_live_hash(const json_t *live)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(live, "metadata"), "annotations"), PGW_ANNOTATION_DESIRED_HASH));
}

json_t *pgw_apply_stamped(const json_t *child, const char *hash)
{
    json_t *copy = json_deep_copy(child);
    json_t *meta = json_object_get(copy, "metadata");
    json_t *ann = json_object_get(meta, "annotations");
    if (!json_is_object(ann)) {
        ann = json_object();
        json_object_set_new(meta, "annotations", ann);
    }
    json_object_set_new(ann, PGW_ANNOTATION_DESIRED_HASH, json_string(hash));
    return copy;
}

static char *failure(const char *verb, const char *kind, const char *name, const struct pgw_kresult *r)
{
    return pgw_asprintf("%s %s %s: %s (HTTP %ld)", verb, kind, name, r->message != NULL ? r->message : "request failed",
                        r->http_status);
}

static int apply_one(struct pgw_kclient *client, struct pgw_apply_cache *cache, const char *owner_uid, const json_t *child,
                     struct pgw_apply_pass *pass, struct pgw_apply_stats *stats, char **err)
{
    const char *kind = json_string_value(json_object_get(child, "kind"));
    const json_t *meta = json_object_get(child, "metadata");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    const struct pgw_resource *res = kind != NULL ? pgw_resource_find(kind) : NULL;
    if (res == NULL || name == NULL) {
        *err = pgw_asprintf("cannot apply a child of kind %s", kind != NULL ? kind : "(none)");
        return -1;
    }
    char hash[PGW_APPLY_HASH_LEN + 1];
    pgw_apply_hash(child, hash);
    if (strcmp(kind, "Secret") == 0 && pgw_render_certificate_kind(child) != NULL)
        return pgw_apply_certificate(client, cache, owner_uid, child, hash, pass, stats, err);
    if (strcmp(kind, "Secret") == 0 &&
        json_is_string(json_object_get(json_object_get(meta, "annotations"), PGW_ANNOTATION_TLS_FROM)))
        return pgw_apply_tls_copy(client, cache, owner_uid, child, hash, pass, stats, err);
    char *key = cache_key(owner_uid, kind, ns, name);
    char *cached = cache_get(cache, key);
    /* Primed, a miss means no child of ours is there: write without reading first. */
    enum pgw_live_state live = pgw_apply_cache_primed(cache) ? PGW_LIVE_ABSENT : PGW_LIVE_UNKNOWN;
    struct pgw_kresult r = {0};
    enum pgw_apply_action action = pgw_apply_decide(kind, hash, cached, live, NULL);
    int rc = 0;
    if (action == PGW_APPLY_READ_LIVE) {
        stats->reads++;
        int o = pgw_kclient_get(client, res, ns, name, &r);
        if (o == PGW_K_OK)
            live = PGW_LIVE_PRESENT;
        else if (o == PGW_K_NOT_FOUND)
            live = PGW_LIVE_ABSENT;
        else {
            *err = failure("read", kind, name, &r);
            rc = -1;
            goto out;
        }
        action = pgw_apply_decide(kind, hash, cached, live, live == PGW_LIVE_PRESENT ? pgw_apply_live_hash(r.body) : NULL);
        pgw_kresult_dispose(&r);
    }
    if (action == PGW_APPLY_SKIP) {
        stats->skipped++;
        cache_put(cache, key, hash);
        goto out;
    }
    json_t *obj = pgw_apply_stamped(child, hash);
    stats->writes++;
    int o = action == PGW_APPLY_CREATE ? pgw_kclient_create(client, res, ns, obj, &r)
                                       : pgw_kclient_apply(client, res, ns, name, NULL, obj, &r);
    json_decref(obj);
    if (o == PGW_K_OK ||
        (action == PGW_APPLY_CREATE && o == PGW_K_CONFLICT && r.reason != NULL && strcmp(r.reason, "AlreadyExists") == 0)) {
        cache_put(cache, key, hash);
    } else {
        *err = failure(action == PGW_APPLY_CREATE ? "create" : "apply", kind, name, &r);
        rc = -1;
    }
out:
    pgw_kresult_dispose(&r);
    free(cached);
    free(key);
    return rc;
}

int pgw_apply_children(struct pgw_kclient *client, struct pgw_apply_cache *cache, const char *owner_uid, const json_t *children,
                       struct pgw_apply_stats *stats, char **err)
{
    size_t i;
    json_t *child;
    struct pgw_apply_pass pass = {.sources = json_object()};
    int rc = 0;
    json_array_foreach(children, i, child)
    {
        if ((rc = apply_one(client, cache, owner_uid, child, &pass, stats, err)) != 0)
            break;
    }
    json_decref(pass.sources);
    return rc;
}
