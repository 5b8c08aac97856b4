/*
 * Sidecar injection: the parts the controller shares with the pod mutator.
 *
 * The controller writes the enabled sidecars into the StatefulSet template's
 * PGW_POD_ANNOTATION_SIDECARS annotation, and later compares each pod's
 * PGW_POD_ANNOTATION_INJECTED stamp with pgw_inject_expected_hash() to report
 * the SidecarsInjected condition. Both sides call the functions below, so the
 * list syntax and the hash cannot drift apart.
 */
#ifndef PGW_SPECS_INJECT_H
#define PGW_SPECS_INJECT_H

#include <jansson.h>

#include "common/errors.h"

struct pgw_config;

/* Bits of the sidecar set. */
#define PGW_INJECT_POOLER 1u  /* "pooler"  → container pgbouncer */
#define PGW_INJECT_METRICS 2u /* "metrics" → container exporter */
#define PGW_INJECT_BACKUP 4u  /* "backup"  → container pgbackrest */

/* Parses a sidecars annotation ("pooler, metrics,backup": comma-separated,
 * spaces tolerated, duplicates and empty items ignored). Each unknown name adds
 * a warning to `errs` when it is not NULL. */
unsigned pgw_inject_parse_sidecars(const char *list, struct pgw_errors *errs);

/* The canonical annotation value for a set ("pooler,metrics,backup" order). malloc'd; caller frees. */
char *pgw_inject_format_sidecars(unsigned sidecars);

/* The set a PostgresCluster enables: pooler and metrics unless spec.<x>.enabled
 * is false, backup when spec.backup is present. */
unsigned pgw_inject_sidecars_for_cluster(const json_t *cluster);

/* The PGW_POD_ANNOTATION_INJECTED value for a set under a configuration: the
 * first 16 hex digits of SHA-256 over the set and, for each sidecar in it, its
 * image, pull policy and resources. It does not depend on the cluster name or
 * on the pod. malloc'd; caller frees. */
char *pgw_inject_expected_hash(unsigned sidecars, const struct pgw_config *cfg);

#endif
