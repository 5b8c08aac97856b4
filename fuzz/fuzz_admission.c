/*
 * Fuzzes the whole admission pipeline: AdmissionReview decoding, every route
 * (mutate and validate for the three kinds, and pods) and response encoding.
 *
 * Input: the first byte picks the route (modulo the route count); the rest is
 * the request body. The same body is also run through every other route, so a
 * seed written for one kind exercises the others' type checks too.
 *
 * Properties checked beyond "no crash, no leak":
 *  - the response body is always one JSON object;
 *  - HTTP 200 responses echo the request uid and say allowed true or false;
 *  - validating routes never carry a patch;
 *  - a mutating route's patch, applied to request.object, yields an object
 *    the same route accepts without a further patch (mutators are idempotent).
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/json_arena.h"
#include "common/jsonpatch_apply.h"
#include "common/xalloc.h"
#include "webhook/admission.h"

static struct pgw_config config;
static const time_t fixed_now = 1767225600; /* 2026-01-01T00:00:00Z: time rules stay deterministic */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pgw_config_init_defaults(&config);
    pgw_json_arena_install();
    return 0;
}

static void fail(const char *what, const pgw_admission_route_t *route, const char *body)
{
    fprintf(stderr, "property violated on %s: %s\nresponse: %s\n", route->path, what, body);
    abort();
}

static json_t *decode_patch(const char *b64)
{
    size_t n = strlen(b64);
    unsigned char *raw = pgw_malloc(n / 4 * 3 + 4);
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    while (len > 0 && n > 0 && b64[n - 1] == '=') { /* EVP_DecodeBlock counts padding as zero bytes */
        --len;
        --n;
    }
    json_t *patch = len > 0 ? json_loadb((const char *)raw, (size_t)len, 0, NULL) : NULL;
    free(raw);
    return patch;
}

/* Re-runs the route on the mutated object: it must be allowed and need no further patch. */
static void check_idempotent(const pgw_admission_route_t *route, json_t *request_doc, json_t *mutated)
{
    json_t *again = json_deep_copy(request_doc);
    json_object_set(json_object_get(again, "request"), "object", mutated);
    char *body = json_dumps(again, JSON_COMPACT);
    json_decref(again);
    if (body == NULL)
        return;
    struct pgw_admission_outcome out;
    pgw_admission_handle(route, body, strlen(body), &config, fixed_now, &out);
    json_t *resp = json_loadb(out.body, out.body_len, 0, NULL);
    json_t *r = json_object_get(resp, "response");
    if (out.http_status != 200 || !out.allowed)
        fail("the mutated object is denied on a second pass", route, out.body);
    if (json_object_get(r, "patch") != NULL)
        fail("a second pass over the mutated object patches again", route, out.body);
    json_decref(resp);
    free(out.body);
    free(body);
}

static void run_route(const pgw_admission_route_t *route, const char *body, size_t len, int deep)
{
    struct pgw_admission_outcome out;
    pgw_admission_handle(route, body, len, &config, fixed_now, &out);
    json_error_t jerr;
    json_t *resp = json_loadb(out.body, out.body_len, 0, &jerr);
    if (!json_is_object(resp))
        fail("response is not a JSON object", route, out.body);
    if (out.http_status == 200) {
        json_t *r = json_object_get(resp, "response");
        json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
        const char *uid = json_string_value(json_object_get(json_object_get(doc, "request"), "uid"));
        if (uid == NULL || !json_equal(json_object_get(r, "uid"), json_object_get(json_object_get(doc, "request"), "uid")))
            fail("uid not echoed", route, out.body);
        if (!json_is_boolean(json_object_get(r, "allowed")))
            fail("no boolean allowed", route, out.body);
        json_t *patch_b64 = json_object_get(r, "patch");
        if (route->step == PGW_ROUTE_VALIDATE && patch_b64 != NULL)
            fail("validating route returned a patch", route, out.body);
        if (patch_b64 != NULL && deep) {
            json_t *patch = decode_patch(json_string_value(patch_b64));
            if (!json_is_array(patch))
                fail("patch is not a base64 JSON array", route, out.body);
            char *err = NULL;
            json_t *mutated = pgw_jsonpatch_apply(json_object_get(json_object_get(doc, "request"), "object"), patch, &err);
            if (mutated == NULL) {
                fprintf(stderr, "apply: %s\n", err);
                fail("patch does not apply to request.object", route, out.body);
            }
            check_idempotent(route, doc, mutated);
            json_decref(mutated);
            json_decref(patch);
        }
        json_decref(doc);
    } else if (out.http_status != 400) {
        fail("status other than 200 or 400", route, out.body);
    }
    json_decref(resp);
    free(out.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t nroutes = pgw_admission_route_count();
    size_t pick = data[0] % nroutes;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    run_route(&pgw_admission_routes[pick], body, len, 1);
    for (size_t i = 0; i != nroutes; ++i)
        if (i != pick)
            run_route(&pgw_admission_routes[i], body, len, 0);
    return 0;
}
