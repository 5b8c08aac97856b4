/*
 * The restricted security contexts (see security_context.h).
 */
#include "specs/security_context.h"

#include "common/json_pack.h"

static json_t *runtime_default_seccomp(void)
{
    return pgw_json_pack("{s:s}", "type", "RuntimeDefault");
}

json_t *pgw_container_security_context(void)
{
    return pgw_json_pack("{s:b,s:b,s:b,s:{s:[s]},s:o}", "runAsNonRoot", 1, "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem",
                         1, "capabilities", "drop", "ALL", "seccompProfile", runtime_default_seccomp());
}

json_t *pgw_pod_security_context(const char *fs_group_change_policy)
{
    json_t *sc = pgw_json_pack("{s:b,s:i,s:i,s:i}", "runAsNonRoot", 1, "runAsUser", PGW_POD_UID, "runAsGroup", PGW_POD_UID,
                               "fsGroup", PGW_POD_UID);
    if (fs_group_change_policy != NULL)
        json_object_set_new(sc, "fsGroupChangePolicy", json_string(fs_group_change_policy));
    json_object_set_new(sc, "seccompProfile", runtime_default_seccomp());
    return sc;
}
