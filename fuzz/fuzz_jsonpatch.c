/*
 * Fuzzes the RFC 6902 differ with the property every mutating response relies
 * on: apply(before, diff(before, after)) == after.
 *
 * Input: two JSON texts back to back ("before" then "after"; whitespace or
 * nothing between them). Inputs that are not two JSON values are skipped.
 * The patch is applied with common/jsonpatch_apply.h, an implementation
 * independent of the differ. The second document is also written with
 * common/json_write.h, which must give jansson's bytes.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_write.h"
#include "common/jsonpatch.h"
#include "common/jsonpatch_apply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void dump_and_abort(const char *what, const json_t *before, const json_t *after, const json_t *patch)
{
    char *b = json_dumps(before, JSON_ENCODE_ANY), *a = json_dumps(after, JSON_ENCODE_ANY), *p = json_dumps(patch, JSON_ENCODE_ANY);
    fprintf(stderr, "%s\nbefore: %s\nafter:  %s\npatch:  %s\n", what, b, a, p);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_error_t jerr;
    json_t *before = json_loadb(text, size, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
    if (before == NULL)
        return 0;
    size_t used = (size_t)jerr.position;
    json_t *after = used <= size ? json_loadb(text + used, size - used, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (after == NULL) {
        json_decref(before);
        return 0;
    }
    /* The fast writer must write what jansson writes. */
    char *want = json_dumps(after, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    size_t got_len;
    char *got = pgw_json_write(after, &got_len);
    if (want == NULL || strcmp(got, want) != 0 || got_len != strlen(want)) {
        fprintf(stderr, "pgw_json_write: %s\njansson:        %s\n", got, want != NULL ? want : "(null)");
        abort();
    }
    free(got);
    free(want);
    json_t *patch = pgw_jsonpatch_diff(before, after);
    if (!json_is_array(patch))
        dump_and_abort("diff did not return an array", before, after, patch);
    if (json_equal(before, after) && json_array_size(patch) != 0)
        dump_and_abort("equal documents gave a non-empty patch", before, after, patch);
    char *err = NULL;
    json_t *result = pgw_jsonpatch_apply(before, patch, &err);
    if (result == NULL) {
        fprintf(stderr, "apply error: %s\n", err);
        dump_and_abort("the patch does not apply", before, after, patch);
    }
    if (!json_equal(result, after))
        dump_and_abort("apply(before, diff) != after", before, after, patch);
    json_decref(result);
    json_decref(patch);
    json_decref(before);
    json_decref(after);
    return 0;
}
