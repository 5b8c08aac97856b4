/*
 * Internal to the pod mutator: the pod being edited and the helpers each
 * sidecar file uses to build its container and volumes. Not for other modules.
 *
 * Ownership: struct pgw_pod_edit borrows everything it points to. Builders
 * return new references; pgw_pod_edit_* functions that take a json_t steal it.
 */
#ifndef PGW_SPECS_SIDECARS_H
#define PGW_SPECS_SIDECARS_H

#include <jansson.h>

#include "common/config.h"
#include "common/errors.h"

struct pgw_pod_edit {
    json_t *pod;
    json_t *spec;
    json_t *containers;            /* spec.containers (created when absent) */
    const json_t *init_containers; /* spec.initContainers or NULL; names there count as taken */
    const char *cluster;           /* the pgwarden.io/cluster label */
    const struct pgw_config *cfg;
    struct pgw_errors *errs;
};

/* 1 when a container or init container of that name exists. */
int pgw_pod_edit_has_container(const struct pgw_pod_edit *edit, const char *name);
/* 1 when spec.volumes has a volume of that name. */
int pgw_pod_edit_has_volume(const struct pgw_pod_edit *edit, const char *name);
/* Appends `volume` (stolen) to spec.volumes unless one of its name exists; creates spec.volumes. */
void pgw_pod_edit_add_volume(struct pgw_pod_edit *edit, json_t *volume);
/* Appends `container` (stolen) to spec.containers. */
void pgw_pod_edit_add_container(struct pgw_pod_edit *edit, json_t *container);

/* {name, image, imagePullPolicy, resources, securityContext} from the operator configuration. */
json_t *pgw_sidecar_container_new(const char *name, const struct pgw_sidecar_config *sc, const char *pull_policy);
/* Adds {name, containerPort, protocol TCP} to container.ports. */
void pgw_sidecar_add_port(json_t *container, const char *name, int port);
/* Adds a volumeMount. */
void pgw_sidecar_add_mount(json_t *container, const char *volume, const char *path, int read_only);
/* Sets readinessProbe and livenessProbe to tcpSocket probes on a named port. */
void pgw_sidecar_tcp_probes(json_t *container, const char *port_name);

/* Volumes by convention. */
json_t *pgw_sidecar_empty_dir(const char *name);
/* The socket and tmp emptyDirs. */
void pgw_sidecar_add_shared_volumes(struct pgw_pod_edit *edit, int with_tmp);

/* One per sidecar file: adds the container and its missing volumes, unless a
 * container of that name exists already. */
void pgw_sidecar_pgbouncer_inject(struct pgw_pod_edit *edit);
void pgw_sidecar_exporter_inject(struct pgw_pod_edit *edit);
void pgw_sidecar_pgbackrest_inject(struct pgw_pod_edit *edit);

#endif
