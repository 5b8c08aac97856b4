/*
 * One webhook CA for every replica of the operator.
 *
 * The webhook configurations carry a single caBundle, so all replicas must
 * serve certificates from the same CA. The CA lives in a Secret in the operator
 * namespace: the first replica to start creates it from the CA it generated;
 * every replica copies it into its certificate directory, where
 * pgw_certs_ensure() keeps it and issues that replica's own serving
 * certificate from it. A CA replaced in the Secret reaches every replica on
 * its next poll.
 */
#ifndef PGW_CERTS_SHARED_CA_H
#define PGW_CERTS_SHARED_CA_H

#include "certs/certs.h"

struct pgw_kclient;

/*
 * Makes cert_dir's ca.crt/ca.key equal to Secret `name` in `ns`, creating the
 * Secret from the local CA (generated if needed) when it does not exist.
 * Returns 1 when the local files changed, 0 when they already matched, -1 with
 * *err (caller frees) when the API or the files failed (the local CA stays).
 */
int pgw_shared_ca_sync(struct pgw_kclient *c, const char *ns, const char *name, const char *cert_dir,
                       const struct pgw_certs_options *opts, char **err);

#endif
