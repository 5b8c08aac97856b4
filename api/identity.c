/*
 * The caller of the REST API (contract in identity.h): plain data, plus the
 * two derivations every handler needs (the starting namespace and the group
 * list for impersonation).
 */
#include "api/identity.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define SA_PREFIX "system:serviceaccount:"

void pgw_identity_dispose(struct pgw_identity *id)
{
    if (id == NULL)
        return;
    free(id->username);
    free(id->uid);
    json_decref(id->groups);
    free(id->jti);
    memset(id, 0, sizeof(*id));
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? pgw_strdup(s) : NULL;
}

void pgw_identity_copy(struct pgw_identity *dst, const struct pgw_identity *src)
{
    dst->username = dup_or_null(src->username);
    dst->uid = dup_or_null(src->uid);
    dst->groups = src->groups != NULL ? json_deep_copy(src->groups) : NULL;
    dst->jti = dup_or_null(src->jti);
    dst->exp = src->exp;
}

char *pgw_identity_namespace(const char *username)
{
    if (username != NULL && strncmp(username, SA_PREFIX, strlen(SA_PREFIX)) == 0) {
        const char *ns = username + strlen(SA_PREFIX), *colon = strchr(ns, ':');
        /* both parts must be there: "system:serviceaccount:ns:" is not a service account */
        if (colon != NULL && colon != ns && colon[1] != '\0')
            return pgw_strndup(ns, (size_t)(colon - ns));
    }
    return pgw_strdup("default");
}

const char **pgw_identity_group_list(const struct pgw_identity *id, size_t *n)
{
    *n = 0;
    size_t size = json_array_size(id->groups);
    if (size == 0)
        return NULL;
    const char **list = pgw_calloc(size, sizeof(*list));
    for (size_t i = 0; i != size; ++i) {
        const char *g = json_string_value(json_array_get(id->groups, i));
        if (g != NULL)
            list[(*n)++] = g;
    }
    if (*n == 0) {
        free(list);
        return NULL;
    }
    return list;
}

json_t *pgw_identity_user_json(const struct pgw_identity *id)
{
    json_t *user = json_object();
    json_object_set_new(user, "username", json_string(id->username != NULL ? id->username : ""));
    json_t *groups = json_array();
    for (size_t i = 0; i != json_array_size(id->groups); ++i)
        if (json_is_string(json_array_get(id->groups, i)))
            json_array_append(groups, json_array_get(id->groups, i));
    json_object_set_new(user, "groups", groups);
    return user;
}
