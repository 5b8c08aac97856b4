/*
 * The security contexts every pod and container we create or inject runs
 * with: the Kubernetes "restricted" Pod Security Standard (non-root, no
 * privilege escalation, no capabilities, read-only root filesystem,
 * RuntimeDefault seccomp). One builder each, so the StatefulSet, the backup
 * Jobs and the injected sidecars cannot drift apart. New references.
 */
#ifndef PGW_SPECS_SECURITY_CONTEXT_H
#define PGW_SPECS_SECURITY_CONTEXT_H

#include <jansson.h>

/* The uid and gid of the postgres user in the images; database pods and backup Jobs run as it. */
#define PGW_POD_UID 999

/* A container's securityContext. */
json_t *pgw_container_security_context(void);

/* A pod's securityContext running as PGW_POD_UID; fs_group_change_policy NULL leaves that field out. */
json_t *pgw_pod_security_context(const char *fs_group_change_policy);

#endif
