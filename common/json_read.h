/*
 * JSON text to jansson values, for the admission hot path: the same result as
 * json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, err) in about
 * a quarter of the instructions on a pod AdmissionReview (what is left is
 * mostly jansson building the values). jansson's loader reads every byte
 * through a stream callback, copies every token into a growing buffer and
 * checks UTF-8 byte by byte; this reader walks the buffer once with a pointer,
 * takes plain strings as runs and only decodes strings that have escapes.
 *
 * Same accepted inputs, same values (an integer stays an integer, a real a
 * real), same key order; same rejections with the same error text, code and
 * position (line, column, byte position as jansson counts them), including
 * jansson's quirks: nesting is capped at JSON_PARSER_MAX_DEPTH values and one
 * NUL byte right after a number or a literal is skipped. test_json_read and
 * fuzz_json_read compare it with json_loadb.
 */
#ifndef PGW_COMMON_JSON_READ_H
#define PGW_COMMON_JSON_READ_H

#include <jansson.h>
#include <stddef.h>

/*
 * The value of the JSON text (a new reference; the caller decrefs), or NULL
 * with err filled (err may be NULL). text need not be NUL-terminated.
 * Thread-safe: all state lives on the caller's stack.
 */
json_t *pgw_json_read(const char *text, size_t len, json_error_t *err);

#endif
