/*
 * What a mutator or validator may know about the admission request besides the
 * object itself. Filled by the webhook pipeline, by `pgwarden admit`, and by the
 * controller's guard, so the three share one implementation of every rule.
 */
#ifndef PGW_COMMON_REQUEST_H
#define PGW_COMMON_REQUEST_H

#include <time.h>

struct pgw_config;

struct pgw_request_ctx {
    const char *operation; /* "CREATE", "UPDATE", "DELETE" or "CONNECT" */
    const char *namespace; /* "" when unknown */
    const char *name;      /* "" when unknown (generateName) */
    int dry_run;
    time_t now; /* wall clock for rules such as "restore target not in the future" */
    const struct pgw_config *config;
};

#endif
