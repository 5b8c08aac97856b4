/*
 * Differential fuzzing of common/json_read.c against jansson: pgw_json_read
 * must behave exactly like json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY),
 * because the webhook trusts it with untrusted AdmissionReviews.
 *
 * Input: the whole input is the JSON text (not NUL-terminated: the harness
 * copies it into a buffer of exactly its size so ASan sees any over-read).
 *
 * Properties checked beyond "no crash, no leak":
 *  - both readers accept, or both reject;
 *  - when both accept, the values are the same at every node: same type (an
 *    integer is never a real), same integers, bit-identical reals, same string
 *    bytes, same array order and same object key order;
 *  - when both reject, the error has the same code, text, line, column and
 *    position (json_read.h promises jansson's errors);
 *  - on success both report the same position (bytes read).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_read.h"
#include "test/unit/json_same_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text, size_t len, const json_error_t *want, const json_error_t *got)
{
    fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", what, len, (int)(len > 200 ? 200 : len), text);
    fprintf(stderr, "jansson:       %d:%d@%d code %d: %s\npgw_json_read: %d:%d@%d code %d: %s\n", want->line, want->column,
            want->position, (int)json_error_code(want), want->text, got->line, got->column, got->position,
            (int)json_error_code(got), got->text);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size != 0 ? size : 1);
    memcpy(text, data, size);
    json_error_t want, got;
    json_t *a = json_loadb(text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &want);
    json_t *b = pgw_json_read(text, size, &got);
    if ((a == NULL) != (b == NULL))
        fail(a == NULL ? "pgw_json_read accepts what jansson rejects" : "pgw_json_read rejects what jansson accepts", text, size,
             &want, &got);
    if (a != NULL) {
        if (!pgw_json_same_tree(a, b) || !json_equal(a, b))
            fail("values differ", text, size, &want, &got);
        if (want.position != got.position)
            fail("position after success differs", text, size, &want, &got);
    } else if (want.line != got.line || want.column != got.column || want.position != got.position ||
               json_error_code(&want) != json_error_code(&got) || strcmp(want.text, got.text) != 0) {
        fail("errors differ", text, size, &want, &got);
    }
    json_decref(a);
    json_decref(b);
    free(text);
    return 0;
}
