/*
 * Structured logs: one JSON object per line on stderr.
 *
 *     {"ts":"2026-11-21T14:35:34.123Z","level":"info","msg":"listening","addr":"0.0.0.0:9443"}
 *
 * Each line is written with a single write(2), so lines from several event-loop
 * threads never interleave. Never pass object contents or secrets as fields:
 * the admission pipeline logs paths, uids, kinds and outcomes only.
 */
#ifndef PGW_COMMON_LOG_H
#define PGW_COMMON_LOG_H

#include <jansson.h>

enum { PGW_LOG_DEBUG = 0, PGW_LOG_INFO = 1, PGW_LOG_WARN = 2, PGW_LOG_ERROR = 3 };

void pgw_log_set_level(int level);
int pgw_log_get_level(void);
int pgw_log_enabled(int level);
/* "debug"|"info"|"warn"|"error" → level, or -1. */
int pgw_log_parse_level(const char *name);

/* Logs `msg` with the members of `fields` (stolen; may be NULL). */
void pgw_log(int level, const char *msg, json_t *fields);

#endif
