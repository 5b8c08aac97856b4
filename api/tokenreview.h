/*
 * Login: ask the Kubernetes API who a bearer token belongs to
 * (authentication.k8s.io/v1 TokenReview, with the operator's own client).
 * The token is never logged, never stored, and the copies made here are
 * zeroed before they are freed.
 *
 * The body builder and the answer parser are pure, for the unit tests.
 */
#ifndef PGW_API_TOKENREVIEW_H
#define PGW_API_TOKENREVIEW_H

#include <jansson.h>

#include "api/identity.h"

struct pgw_kclient;

#define PGW_TOKENREVIEW_PATH "/apis/authentication.k8s.io/v1/tokenreviews"

/*
 * POSTs a TokenReview for token. Returns 0 with *out filled (caller
 * disposes; jti and exp stay empty) when authenticated, 1 when not (*err =
 * the reason to show, caller frees), -1 when the Kubernetes API gave no
 * usable answer (*err, caller frees). token is not modified (the caller
 * zeroes its own copy).
 */
int pgw_tokenreview(struct pgw_kclient *operator_client, const char *token, struct pgw_identity *out, char **err);

/* The TokenReview object (spec.token; no audiences). Caller wipes it with pgw_tokenreview_wipe, then decrefs. */
json_t *pgw_tokenreview_body(const char *token);
/* Zeroes the bytes of spec.token inside a TokenReview (request or answer) in place. */
void pgw_tokenreview_wipe(json_t *review);
/*
 * Reads a TokenReview answer: 0 authenticated (*out filled), 1 not (*err),
 * -1 malformed (*err). Caller frees *err / disposes *out.
 */
int pgw_tokenreview_parse(const json_t *answer, struct pgw_identity *out, char **err);

#endif
