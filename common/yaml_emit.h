/*
 * A small YAML emitter for JSON values (block style, two-space indent), used by
 * `pgwarden admit -o yaml` and friends. Strings that YAML 1.1 would read as
 * anything but the same string (true, off, 18, 1e3, null, "", ": ") are
 * double-quoted, so common/yaml.c reads back exactly the JSON we emitted.
 */
#ifndef PGW_COMMON_YAML_EMIT_H
#define PGW_COMMON_YAML_EMIT_H

#include <stdio.h>
#include <jansson.h>

/* Writes `value` as one YAML document body (no "---"), ending with a newline. */
void pgw_yaml_emit(FILE *fp, const json_t *value);

#endif
