/*
 * Services and the PodDisruptionBudget of a cluster (DESIGN.md §6).
 *
 *  <c>         read-write, no selector: Patroni writes its endpoints, so the
 *              service follows the leader without the operator.
 *  <c>-ro      replicas, selected by Patroni's role label.
 *  <c>-r       any instance.
 *  <c>-pods    headless, publishNotReadyAddresses: stable pod DNS for Patroni.
 *  <c>-config  headless: Patroni keeps the cluster configuration on its endpoints.
 */
#include <stdlib.h>

#include "common/json_pack.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_meta.h"

static json_t *service_ports(void)
{
    return pgw_json_pack("[{s:s,s:i,s:s,s:s},{s:s,s:i,s:s,s:s}]", "name", PGW_POD_PORT_POSTGRES_NAME, "port", PGW_POD_PORT_POSTGRES,
                         "targetPort", PGW_POD_PORT_POSTGRES_NAME, "protocol", "TCP", "name", PGW_POD_PORT_PGBOUNCER_NAME, "port",
                         PGW_POD_PORT_PGBOUNCER, "targetPort", PGW_POD_PORT_PGBOUNCER_NAME, "protocol", "TCP");
}

static void add_service(const json_t *cluster, json_t *out, const char *suffix, const char *component, json_t *spec)
{
    char *name = pgw_child_name(cluster, suffix);
    json_t *svc = pgw_child_object(cluster, "v1", "Service", name, component);
    json_object_set_new(svc, "spec", spec);
    json_array_append_new(out, svc);
    free(name);
}

void pgw_render_services(const json_t *cluster, json_t *out)
{
    add_service(cluster, out, "", "primary", pgw_json_pack("{s:s,s:o}", "type", "ClusterIP", "ports", service_ports()));

    json_t *replicas = pgw_pod_selector(cluster);
    json_object_set_new(replicas, "pgwarden.io/role", json_string("replica"));
    add_service(cluster, out, PGW_SUFFIX_READ_ONLY, "replica",
                pgw_json_pack("{s:s,s:o,s:o}", "type", "ClusterIP", "selector", replicas, "ports", service_ports()));
    add_service(
        cluster, out, PGW_SUFFIX_READ, "instance",
        pgw_json_pack("{s:s,s:o,s:o}", "type", "ClusterIP", "selector", pgw_pod_selector(cluster), "ports", service_ports()));
    add_service(cluster, out, PGW_SUFFIX_PODS, "instance",
                pgw_json_pack("{s:s,s:b,s:o,s:o}", "clusterIP", "None", "publishNotReadyAddresses", 1, "selector",
                              pgw_pod_selector(cluster), "ports", service_ports()));
    add_service(cluster, out, PGW_SUFFIX_CONFIG, "config", pgw_json_pack("{s:s}", "clusterIP", "None"));

    json_t *pdb = pgw_child_object(cluster, "policy/v1", "PodDisruptionBudget", pgw_cluster_name(cluster), "database");
    json_object_set_new(pdb, "spec",
                        pgw_json_pack("{s:i,s:{s:o}}", "maxUnavailable", 1, "selector", "matchLabels", pgw_pod_selector(cluster)));
    json_array_append_new(out, pdb);
}
