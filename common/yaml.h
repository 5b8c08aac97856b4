/*
 * YAML (or JSON, which is YAML) to jansson, with Kubernetes' scalar rules.
 *
 * kubectl turns YAML into JSON with go-yaml's YAML 1.1 resolution before it
 * talks to the API server, so `fsync: off` arrives as the boolean false. We
 * resolve plain scalars the same way, so `pgwarden admit` sees what the API
 * server would see. Quoted or explicitly tagged (`!!str`) scalars are strings.
 * Integral floats (`1.0`, `1e3`) become integers, as Go's JSON encoding sends them.
 *
 * Aliases are expanded with a node budget and a depth limit, so a "billion
 * laughs" document fails cleanly instead of eating memory.
 */
#ifndef PGW_COMMON_YAML_H
#define PGW_COMMON_YAML_H

#include <stddef.h>
#include <jansson.h>

/*
 * Parses every document of `text` into a JSON array of values (empty documents
 * are skipped). Returns the new array (caller decrefs), or NULL with a message
 * in *err (caller frees) that names the line and column.
 */
json_t *pgw_yaml_load_all(const char *text, size_t len, char **err);

#endif
