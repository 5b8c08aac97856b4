/*
 * Fuzzes the YAML (and JSON) manifest reader behind `pgwarden admit` and
 * `pgwarden render`: libyaml events converted to jansson values, with the
 * depth and alias-expansion limits.
 *
 * Properties: the reader returns either an array of documents or NULL with an
 * error message, never both and never neither; every document it returns
 * serialises to JSON that reads back equal (no invalid UTF-8 or NaN inside).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *err = NULL;
    json_t *docs = pgw_yaml_load_all((const char *)data, size, &err);
    if ((docs == NULL) == (err == NULL)) {
        fprintf(stderr, "result and error disagree (docs %p, err %s)\n", (void *)docs, err ? err : "(null)");
        abort();
    }
    if (docs != NULL) {
        if (!json_is_array(docs))
            abort();
        char *text = json_dumps(docs, JSON_COMPACT);
        if (text == NULL) {
            fprintf(stderr, "documents do not serialise to JSON\n");
            abort();
        }
        json_t *back = json_loads(text, 0, NULL);
        if (!json_equal(back, docs)) {
            fprintf(stderr, "documents do not read back equal: %s\n", text);
            abort();
        }
        json_decref(back);
        free(text);
    }
    json_decref(docs);
    free(err);
    return 0;
}
