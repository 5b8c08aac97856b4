/*
 * Local object store; see store.h. A jansson object keyed by "namespace/name"
 * under one mutex: lookups are O(1), selections scan (a few thousand pods at
 * most per operator, and only on reconcile).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "controller/kube/store.h"

struct pgw_store {
    pthread_mutex_t lock;
    json_t *objects;
};

struct pgw_store *pgw_store_new(void)
{
    struct pgw_store *s = pgw_calloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->objects = json_object();
    return s;
}

void pgw_store_free(struct pgw_store *s)
{
    if (s == NULL)
        return;
    json_decref(s->objects);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static char *key_of(const json_t *obj)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (name == NULL)
        return NULL;
    return pgw_asprintf("%s/%s", ns != NULL ? ns : "", name);
}

void pgw_store_put(struct pgw_store *s, json_t *obj)
{
    char *key = key_of(obj);
    if (key == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    json_object_set(s->objects, key, obj);
    pthread_mutex_unlock(&s->lock);
    free(key);
}

void pgw_store_delete(struct pgw_store *s, const json_t *obj)
{
    char *key = key_of(obj);
    if (key == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    json_object_del(s->objects, key);
    pthread_mutex_unlock(&s->lock);
    free(key);
}

json_t *pgw_store_get(struct pgw_store *s, const char *namespace_, const char *name)
{
    char *key = pgw_asprintf("%s/%s", namespace_ != NULL ? namespace_ : "", name);
    pthread_mutex_lock(&s->lock);
    json_t *obj = json_incref(json_object_get(s->objects, key));
    pthread_mutex_unlock(&s->lock);
    free(key);
    return obj;
}

json_t *pgw_store_select(struct pgw_store *s, const char *namespace_, const char *key, const char *value)
{
    json_t *out = json_array();
    const char *k;
    json_t *obj;
    pthread_mutex_lock(&s->lock);
    json_object_foreach(s->objects, k, obj)
    {
        const json_t *meta = json_object_get(obj, "metadata");
        const char *ns = json_string_value(json_object_get(meta, "namespace"));
        const char *v = json_string_value(json_object_get(json_object_get(meta, "labels"), key));
        if (v != NULL && strcmp(v, value) == 0 && strcmp(ns != NULL ? ns : "", namespace_ != NULL ? namespace_ : "") == 0)
            json_array_append(out, obj);
    }
    pthread_mutex_unlock(&s->lock);
    return out;
}

json_t *pgw_store_list(struct pgw_store *s, const char *namespace_)
{
    json_t *out = json_array();
    const char *k;
    json_t *obj;
    pthread_mutex_lock(&s->lock);
    json_object_foreach(s->objects, k, obj)
    {
        const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
        if (strcmp(ns != NULL ? ns : "", namespace_ != NULL ? namespace_ : "") == 0)
            json_array_append(out, obj);
    }
    pthread_mutex_unlock(&s->lock);
    return out;
}

json_t *pgw_store_keys(struct pgw_store *s)
{
    json_t *out = json_array();
    const char *k;
    json_t *obj;
    pthread_mutex_lock(&s->lock);
    json_object_foreach(s->objects, k, obj)
    {
        json_array_append_new(out, json_string(k));
    }
    pthread_mutex_unlock(&s->lock);
    return out;
}

long pgw_store_size(struct pgw_store *s)
{
    pthread_mutex_lock(&s->lock);
    long n = (long)json_object_size(s->objects);
    pthread_mutex_unlock(&s->lock);
    return n;
}
