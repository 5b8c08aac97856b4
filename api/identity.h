/*
 * Who is calling the REST API: the Kubernetes user a TokenReview vouched
 * for, carried inside the session JWT and handed to the Kubernetes API again
 * through impersonation headers. Owned by the one who filled it; release
 * with pgw_identity_dispose.
 */
#ifndef PGW_API_IDENTITY_H
#define PGW_API_IDENTITY_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

struct pgw_identity {
    char *username; /* "system:serviceaccount:ns:sa", "alice"...; owned */
    char *uid;      /* owned; may be NULL or "" */
    json_t *groups; /* array of strings, as the TokenReview returned them; owned (NULL reads as []) */
    char *jti;      /* the session's id; owned; NULL outside a session */
    time_t exp;     /* when the session ends; 0 outside a session */
};
/* Frees the members and zeroes the struct; NULL-safe, safe twice. */
void pgw_identity_dispose(struct pgw_identity *id);
/* A deep copy into *dst (dst's old members are not freed). */
void pgw_identity_copy(struct pgw_identity *dst, const struct pgw_identity *src);

/*
 * The namespace a user starts in: NS for "system:serviceaccount:NS:NAME",
 * else "default". Caller frees.
 */
char *pgw_identity_namespace(const char *username);

/*
 * The group names as borrowed C strings (for struct pgw_kidentity), or NULL
 * when there are none; *n is the count. Non-string members are skipped.
 * Caller frees the array (not the strings; they live as long as id->groups).
 */
const char **pgw_identity_group_list(const struct pgw_identity *id, size_t *n);

/* {"username":..., "groups":[...]}, the "user" of the login and whoami answers. Caller decrefs. */
json_t *pgw_identity_user_json(const struct pgw_identity *id);

#endif
