/*
 * jsonpatch_diff BEFORE.json AFTER.json: prints the RFC 6902 patch that turns
 * BEFORE into AFTER, as computed by pgw_jsonpatch_diff (common/jsonpatch.c).
 *
 * Used by test/integration/test_jsonpatch_kubectl.py to check our patches
 * against the applier kube-apiserver and kubectl use. With --batch, both files
 * hold JSON arrays of the same length and the output is an array of patches,
 * one per pair, so one process serves many pairs.
 * Exit 0 on success, 2 on usage or input errors.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonpatch.h"

static json_t *load(const char *path)
{
    json_error_t err;
    json_t *v = json_load_file(path, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (v == NULL)
        fprintf(stderr, "jsonpatch_diff: %s:%d:%d: %s\n", path, err.line, err.column, err.text);
    return v;
}

int main(int argc, char **argv)
{
    int batch = argc == 4 && strcmp(argv[1], "--batch") == 0;
    if (argc != 3 && !batch) {
        fprintf(stderr, "usage: jsonpatch_diff [--batch] BEFORE.json AFTER.json\n");
        return 2;
    }
    json_t *before = load(argv[argc - 2]), *after = load(argv[argc - 1]), *out = NULL;
    int rc = 2;
    if (before == NULL || after == NULL)
        goto done;
    if (batch) {
        if (!json_is_array(before) || !json_is_array(after) || json_array_size(before) != json_array_size(after)) {
            fprintf(stderr, "jsonpatch_diff: --batch needs two arrays of the same length\n");
            goto done;
        }
        out = json_array();
        for (size_t i = 0; i != json_array_size(before); ++i)
            json_array_append_new(out, pgw_jsonpatch_diff(json_array_get(before, i), json_array_get(after, i)));
    } else {
        out = pgw_jsonpatch_diff(before, after);
    }
    if (json_dumpf(out, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "jsonpatch_diff: cannot write the patch\n");
        goto done;
    }
    rc = 0;
done:
    json_decref(out);
    json_decref(before);
    json_decref(after);
    return rc;
}
