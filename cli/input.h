/*
 * Manifest input for the offline commands (admit, render): YAML or JSON,
 * single or multi-document, from a file or "-" for stdin.
 */
#ifndef PGW_CLI_INPUT_H
#define PGW_CLI_INPUT_H

#include <jansson.h>

/*
 * Returns a new JSON array of the documents in `path` (caller decrefs), or NULL
 * after printing "pgwarden <command>: ..." to stderr. Input is capped at 64 MiB.
 */
json_t *pgw_cli_load_documents(const char *command, const char *path);

#endif
