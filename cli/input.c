#include "cli/input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/read_all.h"
#include "common/yaml.h"

#define MAX_INPUT (64u << 20)

/* Reads a whole file ("-" is stdin). Returns malloc'd text or NULL (message printed). */
static char *read_input(const char *command, const char *path, size_t *len)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "pgwarden %s: cannot open %s: %m\n", command, path);
        return NULL;
    }
    char *text = pgw_read_all(fp, MAX_INPUT, len);
    if (fp != stdin)
        fclose(fp);
    if (text == NULL || *len > MAX_INPUT) {
        fprintf(stderr, "pgwarden %s: %s: %s\n", command, path, text == NULL ? "read error" : "input exceeds 64 MiB");
        free(text);
        return NULL;
    }
    return text;
}

json_t *pgw_cli_load_documents(const char *command, const char *path)
{
    size_t len;
    char *text = read_input(command, path, &len);
    if (text == NULL)
        return NULL;
    char *err = NULL;
    json_t *docs = pgw_yaml_load_all(text, len, &err);
    free(text);
    if (docs == NULL) {
        fprintf(stderr, "pgwarden %s: %s: %s\n", command, strcmp(path, "-") == 0 ? "stdin" : path, err);
        free(err);
    }
    return docs;
}
