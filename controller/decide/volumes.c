/*
 * A cluster's volume claims: leftovers of an earlier cluster, and growth to
 * the spec's size (see volumes.h). Messages list claims sorted by name, so an
 * unchanged situation yields the same condition and no status write.
 */
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/object.h"
#include "common/quantity.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/volumes.h"
#include "specs/operations.h"
#include "specs/pod_layout.h"
#include "specs/render_meta.h"

static const char *const templates[] = {PGW_POD_VOLUME_PGDATA, PGW_POD_VOLUME_PGWAL, NULL};

const char *pgw_volumes_claim_template(const char *cluster, const char *claim)
{
    size_t n = strlen(cluster);
    for (const char *const *t = templates; *t != NULL; ++t) {
        size_t tn = strlen(*t);
        if (strncmp(claim, *t, tn) != 0 || claim[tn] != '-' || strncmp(claim + tn + 1, cluster, n) != 0 || claim[tn + 1 + n] != '-')
            continue;
        const char *ordinal = claim + tn + 1 + n + 1;
        if (*ordinal == '\0' || (ordinal[0] == '0' && ordinal[1] != '\0'))
            continue;
        if (strspn(ordinal, "0123456789") == strlen(ordinal))
            return *t;
    }
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    const char *x = pgw_obj_meta_str(*(json_t *const *)a, "name"), *y = pgw_obj_meta_str(*(json_t *const *)b, "name");
    return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}

/* The claims of the cluster named `cluster` among `claims`, sorted by name. New array of borrowed claims. */
static json_t *cluster_claims(const char *cluster, const json_t *claims)
{
    size_t n = json_array_size(claims), k = 0;
    json_t **v = pgw_calloc(n + 1, sizeof(*v));
    for (size_t i = 0; i != n; ++i) {
        json_t *c = json_array_get(claims, i);
        const char *name = pgw_obj_meta_str(c, "name");
        if (name != NULL && pgw_volumes_claim_template(cluster, name) != NULL)
            v[k++] = c;
    }
    qsort(v, k, sizeof(*v), by_name);
    json_t *out = json_array();
    for (size_t i = 0; i != k; ++i)
        json_array_append(out, v[i]);
    free(v);
    return out;
}

/* --- leftovers ---------------------------------------------------------------- */

void pgw_volumes_check_leftovers(const json_t *cluster, const json_t *claims, struct pgw_volumes_leftovers *out)
{
    const char *name = pgw_obj_meta_str(cluster, "name"), *uid = pgw_obj_meta_str(cluster, "uid");
    *out = (struct pgw_volumes_leftovers){.verdict = PGW_VOLUMES_OWN, .claims = json_array()};
    json_t *mine = cluster_claims(name != NULL ? name : "", claims);
    size_t i;
    json_t *c;
    json_array_foreach(mine, i, c)
    {
        const json_t *labels = json_object_get(pgw_obj_meta(c), "labels");
        const char *owner = json_string_value(json_object_get(labels, PGW_LABEL_CLUSTER_UID));
        if (owner == NULL || uid == NULL || strcmp(owner, uid) != 0)
            json_array_append_new(out->claims, json_string(pgw_obj_meta_str(c, "name")));
    }
    json_decref(mine);
    if (json_array_size(out->claims) == 0)
        return;
    const json_t *ann = json_object_get(pgw_obj_meta(cluster), "annotations");
    const char *adopt = json_string_value(json_object_get(ann, PGW_ANNOTATION_ADOPT_VOLUMES));
    int restore = json_is_object(pgw_cluster_spec(cluster, "bootstrap.restore"));
    char *list = pgw_obj_join_strings(out->claims, ", ");
    if (restore) {
        out->verdict = PGW_VOLUMES_BLOCKED;
        out->message =
            pgw_asprintf("claims %s were not made by this cluster (an earlier cluster named %s left them); a cluster "
                         "that restores a backup (spec.bootstrap.restore) never starts on them, " PGW_ANNOTATION_ADOPT_VOLUMES
                         " or not, since the restore would be skipped over their old data: delete them",
                         list, name);
    } else if (adopt != NULL && strcmp(adopt, "true") == 0) {
        out->verdict = PGW_VOLUMES_ADOPT;
        out->message = pgw_asprintf("starting on claims %s of an earlier cluster named %s (" PGW_ANNOTATION_ADOPT_VOLUMES "=true)",
                                    list, name);
    } else {
        out->verdict = PGW_VOLUMES_BLOCKED;
        out->message =
            pgw_asprintf("claims %s were not made by this cluster (an earlier cluster named %s left them): delete them "
                         "to start empty, or annotate the cluster " PGW_ANNOTATION_ADOPT_VOLUMES "=true to start on their data",
                         list, name);
    }
    free(list);
}

void pgw_volumes_leftovers_dispose(struct pgw_volumes_leftovers *l)
{
    json_decref(l->claims);
    free(l->message);
    *l = (struct pgw_volumes_leftovers){0};
}

/* --- growth ------------------------------------------------------------------- */

/* -1, 0, 1; 0 when either does not parse (nothing to do about a size we cannot read). */
static int size_cmp(const char *a, const char *b)
{
    struct pgw_quantity qa, qb;
    const char *why;
    if (a == NULL || b == NULL || pgw_quantity_parse(a, &qa, &why) != 0 || pgw_quantity_parse(b, &qb, &why) != 0)
        return 0;
    return pgw_quantity_cmp(&qa, &qb);
}

static void add_unique(json_t *names, const char *name)
{
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        if (strcmp(json_string_value(n), name) == 0)
            return;
    }
    json_array_append_new(names, json_string(name));
}

/* Appends "<sep><text>" to *msg. */
static void append(char **msg, const char *text)
{
    char *next = pgw_asprintf("%s%s%s", *msg, **msg != '\0' ? "; " : "", text);
    free(*msg);
    *msg = next;
}

void pgw_volumes_plan_growth(const json_t *cluster, const json_t *old_status, const json_t *claims, const json_t *classes,
                             struct pgw_volumes_growth *out)
{
    *out = (struct pgw_volumes_growth){.grow = json_array(), .classes = json_array()};
    const char *name = pgw_obj_meta_str(cluster, "name");
    const char *want_of[] = {json_string_value(pgw_cluster_spec(cluster, "storage.size")),
                             json_string_value(pgw_cluster_spec(cluster, "storage.walSize"))};
    long long instances = pgw_cluster_spec_int(cluster, "instances", 1);
    json_t *mine = cluster_claims(name != NULL ? name : "", claims);
    json_t *at_size = json_object();     /* claim names that have their size */
    json_t *unsupported = json_object(); /* class → [claim] */
    json_t *resizing = json_array();     /* "claim (have → want)" */
    int waiting = 0;                     /* a claim not bound yet */
    size_t i;
    json_t *c;
    json_array_foreach(mine, i, c)
    {
        const char *cname = pgw_obj_meta_str(c, "name");
        const char *t = pgw_volumes_claim_template(name, cname);
        const char *want = want_of[strcmp(t, PGW_POD_VOLUME_PGDATA) == 0 ? 0 : 1];
        if (want == NULL)
            continue; /* a WAL claim of a cluster that has none now */
        if (json_object_get(pgw_obj_meta(c), "deletionTimestamp") != NULL)
            continue;
        if (strcmp(pgw_obj_str_at(c, "status.phase") != NULL ? pgw_obj_str_at(c, "status.phase") : "", "Bound") != 0) {
            waiting = 1; /* its request can change only once bound */
            continue;
        }
        const char *requested = pgw_obj_str_at(c, "spec.resources.requests.storage");
        const char *capacity = pgw_obj_str_at(c, "status.capacity.storage");
        if (size_cmp(requested, want) < 0) {
            const char *sc = pgw_obj_str_at(c, "spec.storageClassName");
            const json_t *class = sc != NULL && *sc != '\0' ? json_object_get(classes, sc) : NULL;
            if (sc != NULL && *sc != '\0' && class == NULL) {
                add_unique(out->classes, sc);
                continue;
            }
            if (class == NULL || !json_is_true(json_object_get(class, "allowVolumeExpansion"))) {
                const char *key = sc != NULL && *sc != '\0' ? sc : "";
                json_t *list = json_object_get(unsupported, key);
                if (list == NULL)
                    json_object_set_new(unsupported, key, list = json_array());
                json_array_append_new(list, json_string(cname));
                continue;
            }
            json_array_append_new(out->grow, pgw_json_pack("{s:s,s:s}", "name", cname, "size", want));
        }
        if (capacity == NULL || size_cmp(capacity, want) < 0 || size_cmp(requested, want) < 0) {
            char *entry = pgw_asprintf("%s (%s → %s)", cname, capacity != NULL ? capacity : "?", want);
            json_array_append_new(resizing, json_string(entry));
            free(entry);
            continue;
        }
        json_object_set_new(at_size, cname, json_true());
    }

    char *msg = pgw_strdup("");
    const char *key;
    json_t *list;
    json_object_foreach(unsupported, key, list)
    {
        char *names = pgw_obj_join_strings(list, ", ");
        char *text = *key != '\0' ? pgw_asprintf("StorageClass %s does not allow volume expansion (allowVolumeExpansion): "
                                                 "claims %s stay below the spec's size",
                                                 key, names)
                                  : pgw_asprintf("claims %s have no StorageClass and cannot grow", names);
        append(&msg, text);
        free(text);
        free(names);
    }
    if (json_array_size(resizing) > 0) {
        char *names = pgw_obj_join_strings(resizing, ", ");
        char *text = pgw_asprintf("growing %s", names);
        append(&msg, text);
        free(text);
        free(names);
    }
    const json_t *old = pgw_cluster_status_condition(old_status, PGW_CONDITION_VOLUMES_RESIZED);
    if (json_array_size(out->classes) > 0) {
        /* decided again once the classes are read */
        json_array_clear(out->grow);
    } else if (json_object_size(unsupported) > 0) {
        out->status = "False";
        out->reason = PGW_REASON_EXPANSION_NOT_SUPPORTED;
    } else if (json_array_size(resizing) > 0) {
        out->status = "False";
        out->reason = PGW_REASON_RESIZING;
    } else if (old != NULL) {
        out->status = "True";
        out->reason = PGW_REASON_RESIZED;
        free(msg);
        msg = want_of[1] != NULL
                  ? pgw_asprintf("every claim has the spec's size (storage.size %s, walSize %s)", want_of[0], want_of[1])
                  : pgw_asprintf("every claim has the spec's size (storage.size %s)", want_of[0]);
    }
    out->message = msg;

    int settled =
        !waiting && json_array_size(out->classes) == 0 && json_object_size(unsupported) == 0 && json_array_size(resizing) == 0;
    for (int k = 0; settled && k != 2; ++k) {
        if (want_of[k] == NULL)
            continue;
        for (long long n = 0; settled && n < instances; ++n) {
            char *cname = pgw_asprintf("%s-%s-%lld", templates[k], name, n);
            settled = json_object_get(at_size, cname) != NULL;
            free(cname);
        }
    }
    out->settled = settled;
    json_decref(resizing);
    json_decref(unsupported);
    json_decref(at_size);
    json_decref(mine);
}

void pgw_volumes_growth_dispose(struct pgw_volumes_growth *g)
{
    json_decref(g->grow);
    json_decref(g->classes);
    free(g->message);
    *g = (struct pgw_volumes_growth){0};
}
