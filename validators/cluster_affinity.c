/*
 * spec.affinity: pod anti-affinity between instances, plus nodeSelector and
 * tolerations, validated with the rules core applies to a PodSpec so that the
 * StatefulSet the controller renders is never refused by the API server.
 */
#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "validators/cluster.h"
#include "validators/fields.h"

static const char *const anti_affinity[] = {"preferred", "required", "none", NULL};
static const char *const operators[] = {"Equal", "Exists", NULL};
static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};

static void check_label_key(struct pgw_errors *errs, const char *path, const json_t *v)
{
    const char *why = NULL;
    if (pgw_require_string(errs, path, v) && pgw_label_key(json_string_value(v), &why) != 0)
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "%s", why);
}

static void check_node_selector(const json_t *sel, struct pgw_errors *errs)
{
    static const char path[] = "spec.affinity.nodeSelector";
    if (pgw_expect_object(errs, path, sel) != 1)
        return;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)sel, key, value)
    {
        const char *why = NULL;
        json_t *k = json_string(key);
        if (pgw_label_key(key, &why) != 0)
            pgw_errors_add(errs, PGW_ERR_INVALID, path, k, "%s", why);
        json_decref(k);
        char *p = pgw_path_key(path, key);
        if (pgw_expect_string(errs, p, value) == 1 && pgw_label_value(json_string_value(value), &why) != 0)
            pgw_errors_add(errs, PGW_ERR_INVALID, p, value, "%s", why);
        free(p);
    }
}

static void check_toleration(const json_t *t, const char *base, struct pgw_errors *errs)
{
    static const char *const fields[] = {"key", "operator", "value", "effect", "tolerationSeconds", NULL};
    if (pgw_expect_object(errs, base, t) != 1)
        return;
    pgw_warn_unknown_fields(errs, base, t, fields);
    char *kp = pgw_path_child(base, "key"), *op_path = pgw_path_child(base, "operator"), *vp = pgw_path_child(base, "value"),
         *ep = pgw_path_child(base, "effect"), *sp = pgw_path_child(base, "tolerationSeconds");
    json_t *key = pgw_member(t, "key"), *op = pgw_member(t, "operator"), *value = pgw_member(t, "value"),
           *effect = pgw_member(t, "effect"), *seconds = pgw_member(t, "tolerationSeconds");
    const char *key_s = json_is_string(key) ? json_string_value(key) : "";
    const char *op_s = json_is_string(op) ? json_string_value(op) : "";
    const char *value_s = json_is_string(value) ? json_string_value(value) : "";
    if (key != NULL && pgw_expect_string(errs, kp, key) == 1 && key_s[0] != '\0')
        check_label_key(errs, kp, key);
    if (value != NULL)
        pgw_expect_string(errs, vp, value);
    if (op != NULL && pgw_expect_string(errs, op_path, op) != 1)
        op_s = "Equal";
    if (key_s[0] == '\0' && strcmp(op_s, "Exists") != 0)
        pgw_errors_add(errs, PGW_ERR_INVALID, op_path, op ? op : json_null(),
                       "operator must be Exists when `key` is empty, which means \"match all values and all keys\"");
    if (op_s[0] == '\0' || strcmp(op_s, "Equal") == 0) {
        const char *why = NULL;
        if (pgw_label_value(value_s, &why) != 0)
            pgw_errors_add(errs, PGW_ERR_INVALID, vp, value, "%s", why);
    } else if (strcmp(op_s, "Exists") == 0) {
        if (value_s[0] != '\0')
            pgw_errors_add(errs, PGW_ERR_INVALID, vp, value, "value must be empty when `operator` is 'Exists'");
    } else {
        pgw_check_enum(errs, op_path, op, operators);
    }
    if (effect != NULL && pgw_expect_string(errs, ep, effect) == 1 && json_string_length(effect) != 0)
        pgw_check_enum(errs, ep, effect, effects);
    if (seconds != NULL && pgw_expect_integer(errs, sp, seconds) == 1 &&
        (!json_is_string(effect) || strcmp(json_string_value(effect), "NoExecute") != 0))
        pgw_errors_add(errs, PGW_ERR_INVALID, ep, effect ? effect : json_null(),
                       "effect must be 'NoExecute' when `tolerationSeconds` is set");
    free(kp);
    free(op_path);
    free(vp);
    free(ep);
    free(sp);
}

void pgw_cluster_validate_affinity(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    static const char *const fields[] = {"antiAffinity", "topologyKey", "nodeSelector", "tolerations", NULL};
    json_t *aff = pgw_member(c->spec, "affinity");
    if (pgw_expect_object(errs, "spec.affinity", aff) != 1)
        return;
    pgw_warn_unknown_fields(errs, "spec.affinity", aff, fields);
    json_t *anti = pgw_member(aff, "antiAffinity");
    if (anti != NULL && pgw_check_enum(errs, "spec.affinity.antiAffinity", anti, anti_affinity) &&
        strcmp(json_string_value(anti), "none") == 0 && c->instances > 1)
        pgw_errors_warn(errs, "spec.affinity.antiAffinity is none: several instances may land on one node and fail together");
    json_t *topo = pgw_member(aff, "topologyKey");
    if (topo != NULL)
        check_label_key(errs, "spec.affinity.topologyKey", topo);
    check_node_selector(pgw_member(aff, "nodeSelector"), errs);
    json_t *tols = pgw_member(aff, "tolerations");
    if (pgw_expect_array(errs, "spec.affinity.tolerations", tols) == 1) {
        size_t i;
        json_t *t;
        json_array_foreach(tols, i, t)
        {
            char *base = pgw_path_index("spec.affinity.tolerations", i);
            check_toleration(t, base, errs);
            free(base);
        }
    }
}
