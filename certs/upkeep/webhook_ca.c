/*
 * Keeping our webhook configurations' caBundle equal to our CA (see
 * webhook_ca.h).
 *
 * Why: a wrong bundle (manifests re-applied by a GitOps tool, a rotated CA)
 * fails every admission. Every replica checks; the leader repairs drift with
 * a JSON patch whose `test` ops guard each webhook's index, so a concurrent
 * reorder fails instead of patching the wrong entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs/upkeep/webhook_ca.h"
#include "common/base64.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/xalloc.h"

json_t *pgw_webhook_ca_patch(const json_t *config, const char *ca_b64)
{
    json_t *ops = json_array();
    size_t i;
    json_t *hook;
    json_array_foreach(json_object_get(config, "webhooks"), i, hook)
    {
        const json_t *cc = json_object_get(hook, "clientConfig");
        const char *have = json_string_value(json_object_get(cc, "caBundle"));
        const char *name = json_string_value(json_object_get(hook, "name"));
        if (have != NULL && strcmp(have, ca_b64) == 0)
            continue;
        char path[96];
        snprintf(path, sizeof(path), "/webhooks/%zu/name", i);
        json_array_append_new(ops, pgw_json_pack("{s:s,s:s,s:s?}", "op", "test", "path", path, "value", name));
        if (cc == NULL) {
            snprintf(path, sizeof(path), "/webhooks/%zu/clientConfig", i);
            json_array_append_new(ops, pgw_json_pack("{s:s,s:s,s:{s:s}}", "op", "add", "path", path, "value", "caBundle", ca_b64));
        } else {
            snprintf(path, sizeof(path), "/webhooks/%zu/clientConfig/caBundle", i);
            json_array_append_new(
                ops, pgw_json_pack("{s:s,s:s,s:s}", "op", have != NULL ? "replace" : "add", "path", path, "value", ca_b64));
        }
    }
    if (json_array_size(ops) == 0) {
        json_decref(ops);
        return NULL;
    }
    return ops;
}

char *pgw_webhook_ca_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    int too_big = !feof(f);
    fclose(f);
    if (n == 0 || too_big)
        return NULL;
    return pgw_base64_encode(buf, n);
}

static void sync_kind(struct pgw_kclient *client, const char *kind, const char *names, const char *ca_b64, int may_patch,
                      struct pgw_webhook_ca_result *res)
{
    const struct pgw_resource *r = pgw_resource_find(kind);
    char *list = pgw_strdup(names != NULL ? names : ""), *save = NULL;
    for (char *name = strtok_r(list, ", ", &save); name != NULL; name = strtok_r(NULL, ", ", &save)) {
        struct pgw_kresult out = {0};
        if (pgw_kclient_get(client, r, NULL, name, &out) != PGW_K_OK) {
            pgw_kresult_dispose(&out);
            continue;
        }
        res->found++;
        json_t *patch = pgw_webhook_ca_patch(out.body, ca_b64);
        pgw_kresult_dispose(&out);
        if (patch == NULL) {
            res->correct++;
            continue;
        }
        if (may_patch) {
            res->patched++;
            int o = pgw_kclient_patch(client, r, NULL, name, NULL, PGW_PATCH_JSON, patch, &out);
            if (o == PGW_K_OK) {
                res->correct++;
                pgw_log(PGW_LOG_INFO, "patched the caBundle of a webhook configuration",
                        pgw_json_pack("{s:s,s:s}", "kind", kind, "name", name));
            } else {
                pgw_log(PGW_LOG_WARN, "cannot patch the caBundle of a webhook configuration",
                        pgw_json_pack("{s:s,s:s,s:s?}", "kind", kind, "name", name, "error", out.message));
            }
            pgw_kresult_dispose(&out);
        }
        json_decref(patch);
    }
    free(list);
}

int pgw_webhook_ca_sync(struct pgw_kclient *client, const char *mutating, const char *validating, const char *ca_b64, int may_patch,
                        struct pgw_webhook_ca_result *res)
{
    memset(res, 0, sizeof(*res));
    sync_kind(client, "MutatingWebhookConfiguration", mutating, ca_b64, may_patch, res);
    sync_kind(client, "ValidatingWebhookConfiguration", validating, ca_b64, may_patch, res);
    return res->found > 0 && res->correct == res->found;
}
