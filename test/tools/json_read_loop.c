/*
 * json_read_loop READER FILE N: parses FILE N times with READER (pgw for
 * pgw_json_read, jansson for json_loadb with the same flags) and frees the
 * result. For instruction counts of the reader alone under
 * `valgrind --tool=callgrind`; review_loop measures the whole review.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_read.h"
#include "common/read_all.h"

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "pgw") != 0 && strcmp(argv[1], "jansson") != 0)) {
        fprintf(stderr, "usage: json_read_loop pgw|jansson FILE N\n");
        return 2;
    }
    int use_pgw = strcmp(argv[1], "pgw") == 0;
    FILE *fp = fopen(argv[2], "rb");
    if (fp == NULL) {
        fprintf(stderr, "json_read_loop: cannot open %s\n", argv[2]);
        return 2;
    }
    size_t len = 0;
    char *text = pgw_read_all(fp, 0, &len);
    fclose(fp);
    if (text == NULL) {
        fprintf(stderr, "json_read_loop: cannot read %s\n", argv[2]);
        return 2;
    }
    long iterations = atol(argv[3]);
    size_t members = 0;
    for (long i = 0; i < iterations; ++i) {
        json_error_t err;
        json_t *v =
            use_pgw ? pgw_json_read(text, len, &err) : json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
        if (v == NULL) {
            fprintf(stderr, "json_read_loop: %d:%d: %s\n", err.line, err.column, err.text);
            free(text);
            return 1;
        }
        members += json_object_size(v) + json_array_size(v);
        json_decref(v);
    }
    printf("%ld parses of %zu bytes, %zu top-level members each\n", iterations, len, iterations ? members / (size_t)iterations : 0);
    free(text);
    return 0;
}
