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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text, size_t len, const json_error_t *want, const json_error_t *got)
{
    fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", what, len, (int)(len > 200 ? 200 : len), text);
    fprintf(stderr, "jansson:       %d:%d@%d code %d: %s\npgw_json_read: %d:%d@%d code %d: %s\n", want->line, want->column,
            want->position, (int)json_error_code(want), want->text, got->line, got->column, got->position,
            (int)json_error_code(got), got->text);
    abort();
}

/* 1 if a and b are the same tree: json_equal plus types, real bits and key order. */
static int same_tree(const json_t *a, const json_t *b)
{
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
        for (; ia != NULL && ib != NULL; ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
            size_t la = json_object_iter_key_len(ia);
            if (la != json_object_iter_key_len(ib) || memcmp(json_object_iter_key(ia), json_object_iter_key(ib), la) != 0)
                return 0;
            if (!same_tree(json_object_iter_value(ia), json_object_iter_value(ib)))
                return 0;
        }
        return ia == NULL && ib == NULL;
    }
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i != json_array_size(a); ++i)
            if (!same_tree(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_INTEGER:
        return json_integer_value(a) == json_integer_value(b);
    case JSON_REAL: {
        double x = json_real_value(a), y = json_real_value(b);
        return memcmp(&x, &y, sizeof(x)) == 0; /* -0.0 is not 0.0 here */
    }
    default:
        return json_equal(a, b); /* true, false, null */
    }
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
        if (!same_tree(a, b) || !json_equal(a, b))
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
