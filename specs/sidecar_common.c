/*
 * What every injected sidecar shares: the restricted security context,
 * resources and image from the operator configuration, probes, and volume
 * bookkeeping (add only what is missing, by name).
 *
 * Injected containers never depend on what else is in the pod, so the result
 * is the same whichever injectors ran before us (DESIGN.md §5).
 */
#include "specs/sidecars.h"

#include <string.h>

#include "common/json_pack.h"
#include "common/object.h"
#include "specs/pod_layout.h"
#include "specs/security_context.h"

int pgw_pod_edit_has_container(const struct pgw_pod_edit *edit, const char *name)
{
    return pgw_obj_find_named(edit->containers, name) != NULL || pgw_obj_find_named(edit->init_containers, name) != NULL;
}

int pgw_pod_edit_has_volume(const struct pgw_pod_edit *edit, const char *name)
{
    return pgw_obj_find_named(json_object_get(edit->spec, "volumes"), name) != NULL;
}

void pgw_pod_edit_add_volume(struct pgw_pod_edit *edit, json_t *volume)
{
    const char *name = json_string_value(json_object_get(volume, "name"));
    if (pgw_pod_edit_has_volume(edit, name)) {
        json_decref(volume);
        return;
    }
    json_t *volumes = json_object_get(edit->spec, "volumes");
    if (!json_is_array(volumes)) { /* absent (the caller refused other types) */
        volumes = json_array();
        json_object_set_new(edit->spec, "volumes", volumes);
    }
    json_array_append_new(volumes, volume);
}

void pgw_pod_edit_add_container(struct pgw_pod_edit *edit, json_t *container)
{
    json_array_append_new(edit->containers, container);
}

static void set_quantity(json_t *resources, const char *section, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return;
    json_t *s = json_object_get(resources, section);
    if (s == NULL) {
        s = json_object();
        json_object_set_new(resources, section, s);
    }
    json_object_set_new(s, key, json_string(value));
}

json_t *pgw_sidecar_container_new(const char *name, const struct pgw_sidecar_config *sc, const char *pull_policy)
{
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(name));
    json_object_set_new(c, "image", json_string(sc->image != NULL ? sc->image : ""));
    if (pull_policy != NULL && pull_policy[0] != '\0')
        json_object_set_new(c, "imagePullPolicy", json_string(pull_policy));
    json_t *resources = json_object();
    set_quantity(resources, "requests", "cpu", sc->cpu_request);
    set_quantity(resources, "requests", "memory", sc->memory_request);
    set_quantity(resources, "limits", "cpu", sc->cpu_limit);
    set_quantity(resources, "limits", "memory", sc->memory_limit);
    json_object_set_new(c, "resources", resources);
    json_object_set_new(c, "securityContext", pgw_container_security_context());
    return c;
}

static json_t *member_array(json_t *obj, const char *key)
{
    json_t *a = json_object_get(obj, key);
    if (a == NULL) {
        a = json_array();
        json_object_set_new(obj, key, a);
    }
    return a;
}

void pgw_sidecar_add_port(json_t *container, const char *name, int port)
{
    json_array_append_new(member_array(container, "ports"),
                          pgw_json_pack("{s:s,s:i,s:s}", "name", name, "containerPort", port, "protocol", "TCP"));
}

void pgw_sidecar_add_mount(json_t *container, const char *volume, const char *path, int read_only)
{
    json_t *m = pgw_json_pack("{s:s,s:s}", "name", volume, "mountPath", path);
    if (read_only)
        json_object_set_new(m, "readOnly", json_true());
    json_array_append_new(member_array(container, "volumeMounts"), m);
}

void pgw_sidecar_tcp_probes(json_t *container, const char *port_name)
{
    json_object_set_new(container, "readinessProbe",
                        pgw_json_pack("{s:{s:s},s:i,s:i,s:i,s:i}", "tcpSocket", "port", port_name, "initialDelaySeconds", 2,
                                      "periodSeconds", 5, "timeoutSeconds", 2, "failureThreshold", 3));
    json_object_set_new(container, "livenessProbe",
                        pgw_json_pack("{s:{s:s},s:i,s:i,s:i,s:i}", "tcpSocket", "port", port_name, "initialDelaySeconds", 10,
                                      "periodSeconds", 10, "timeoutSeconds", 5, "failureThreshold", 6));
}

json_t *pgw_sidecar_empty_dir(const char *name)
{
    return pgw_json_pack("{s:s,s:{}}", "name", name, "emptyDir");
}

void pgw_sidecar_add_shared_volumes(struct pgw_pod_edit *edit, int with_tmp)
{
    pgw_pod_edit_add_volume(edit, pgw_sidecar_empty_dir(PGW_POD_VOLUME_SOCKET));
    if (with_tmp)
        pgw_pod_edit_add_volume(edit, pgw_sidecar_empty_dir(PGW_POD_VOLUME_TMP));
}
