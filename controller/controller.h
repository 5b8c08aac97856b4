/*
 * The controller process part (DESIGN.md §6): watches, work queue, workers,
 * leader election and webhook caBundle upkeep, wired together.
 *
 *   watches (every replica)   PostgresClusters, PostgresBackups,
 *                             PostgresRestores, and StatefulSets, Pods and Jobs
 *                             labelled pgwarden.io/cluster; each event updates
 *                             a local store and queues "Kind/namespace/name" of
 *                             the objects concerned (a Job: its cluster and its
 *                             backup; a cluster: also the unfinished backups
 *                             and restores that depend on it).
 *   leader election           a Lease in the operator namespace; only the
 *                             leader's workers reconcile, and the kube client
 *                             refuses writes when not leading. Becoming leader
 *                             queues every known object.
 *   workers (N threads)       pgw_reconcile_cluster / _backup / _restore per
 *                             key; failures retry with per-key exponential
 *                             backoff. pgwarden_reconcile_total{kind=...}.
 *   caBundle upkeep           every replica checks the webhook configurations
 *                             every few seconds; the leader repairs drift; the
 *                             result drives /readyz through on_ready.
 * Every replica keeps serving admission whatever its role.
 */
#ifndef PGW_CONTROLLER_CONTROLLER_H
#define PGW_CONTROLLER_CONTROLLER_H

#include "controller/kube/kubeconfig.h"

struct pgw_config;

struct pgw_controller_options {
    const struct pgw_config *config;   /* borrowed; must outlive the controller */
    const struct pgw_kubeconfig *kube; /* copied by the clients */
    const char *identity;              /* leader identity; NULL → $POD_NAME or hostname_pid */
    int workers;                       /* 0 → 4 */
    const char *ca_file;               /* ca.crt for the caBundle; NULL: no webhook configuration upkeep */
    const char *mutating_webhooks;     /* comma-separated names; NULL → "pgwarden-mutating" */
    const char *validating_webhooks;   /* NULL → "pgwarden-validating" */
    const char *lease_name;            /* NULL → "pgwarden-controller" */
    double ca_check_period;            /* seconds; 0 → 5 */
    void (*on_ready)(void *ctx, int ready);
    void *ready_ctx;
};

struct pgw_controller;

/* Starts every thread. NULL with *err (caller frees) on failure. */
struct pgw_controller *pgw_controller_start(const struct pgw_controller_options *opts, char **err);
/* Stops workers, watches and the elector (releasing the Lease), then frees. */
void pgw_controller_stop(struct pgw_controller *c);

#endif
