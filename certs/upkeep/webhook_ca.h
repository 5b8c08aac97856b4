/*
 * Keeping our webhook configurations' caBundle equal to our CA (DESIGN.md §8).
 *
 * kube-apiserver verifies the webhook's serving certificate against
 * clientConfig.caBundle, so a wrong bundle (a GitOps tool re-applying the
 * manifests, a rotated CA) fails every admission. Every replica checks the
 * Mutating/ValidatingWebhookConfigurations named in the configuration every
 * few seconds; the leader re-patches drift; /readyz is 200 only while the
 * bundles are in place.
 *
 * The patch computation is pure: a JSON patch (RFC 6902) that sets the bundle
 * of every webhook whose bundle differs, each guarded by a `test` of the
 * webhook's name at that index, so a concurrent reorder fails instead of
 * patching the wrong entry.
 */
#ifndef PGW_CERTS_WEBHOOK_CA_H
#define PGW_CERTS_WEBHOOK_CA_H

#include <jansson.h>

#include "controller/kube/kclient.h"

/* NULL when every webhook of `config` already carries ca_b64, else the JSON patch (caller decrefs). */
json_t *pgw_webhook_ca_patch(const json_t *config, const char *ca_b64);

/* The base64 of a file's bytes (the caBundle form of ca.crt). NULL when unreadable. Caller frees. */
char *pgw_webhook_ca_read(const char *path);

struct pgw_webhook_ca_result {
    int found;   /* configurations that exist */
    int correct; /* of those, how many carry the CA (after our patches) */
    int patched; /* patches sent */
};

/*
 * Checks (and, when `may_patch`, repairs) every configuration listed in the
 * comma-separated `mutating` and `validating` names. Returns 1 when ready: at
 * least one configuration exists and all that exist carry the CA; else 0.
 */
int pgw_webhook_ca_sync(struct pgw_kclient *client, const char *mutating, const char *validating, const char *ca_b64, int may_patch,
                        struct pgw_webhook_ca_result *res);

#endif
