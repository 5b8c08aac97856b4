/*
 * spec.postgres.parameters: every name and value checked as the chosen
 * PostgreSQL major would check it at server start, plus pgwarden's own rules.
 *
 * Order of checks for one parameter (all problems are reported, across all
 * parameters):
 *   1. the value must be a JSON string, one line (postgresql.conf cannot hold a
 *      line break);
 *   2. the name must be in that major's catalog (case-insensitively, old
 *      aliases such as sort_mem included), or be a custom "prefix.name" whose
 *      prefix is a library the same object preloads (see below);
 *   3. operator-owned names are forbidden, naming the owner (pg_owned.c);
 *   4. internal parameters (block_size, server_version, ...) cannot be set;
 *   5. the value is parsed like guc.c does (pg_value.c), units and range
 *      included, and a few server-side checks are repeated (pg_checks.c);
 *   6. risky but legal settings produce warnings.
 *
 * Custom parameters: every major accepts any well-formed "prefix.name" in
 * postgresql.conf as a placeholder, whatever the prefix (14 keeps unknown
 * placeholders silently; 15+ drop unknown names under a prefix that a loaded
 * library reserved, with a WARNING). Neither fails, so a misspelt prefix would
 * be silently ignored. We therefore accept a custom parameter only when its
 * prefix names a library in shared_preload_libraries,
 * session_preload_libraries or local_preload_libraries of the same object, or
 * is "plpgsql" (always available, loaded on first use). Its value is not
 * checked: the extension defines its type only when loaded.
 */
#include "validators/pg_params.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "validators/pg_catalog.h"
#include "validators/pg_checks.h"
#include "validators/pg_owned.h"
#include "validators/pg_value.h"

/* Old names the server still maps to current ones (guc.c map_old_guc_names). */
static const struct {
    const char *alias, *name;
    int from_major;
} aliases[] = {
    {"sort_mem", "work_mem", 14},
    {"vacuum_mem", "maintenance_work_mem", 14},
    {"ssl_ecdh_curve", "ssl_groups", 18},
};

static const char *canonical_name(int major, const char *name)
{
    for (size_t i = 0; i != sizeof(aliases) / sizeof(aliases[0]); ++i)
        if (major >= aliases[i].from_major && strcasecmp(name, aliases[i].alias) == 0)
            return aliases[i].name;
    return name;
}

static const struct pgw_pg_param *lookup(int major, const char *name)
{
    return pgw_pg_catalog_lookup(major, canonical_name(major, name));
}

/* [A-Za-z_][A-Za-z0-9_]*, the identifier postgresql.conf's lexer accepts (ASCII part). */
static size_t identifier_length(const char *s)
{
    size_t n = 0;
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '_')
        n++;
    return n;
}

/* "prefix.name", exactly one dot: what the config file lexer reads as a qualified name. */
static bool is_custom_name(const char *name, size_t *prefix_len)
{
    size_t a = identifier_length(name);
    if (a == 0 || name[a] != '.')
        return false;
    size_t b = identifier_length(name + a + 1);
    if (b == 0 || name[a + 1 + b] != '\0')
        return false;
    *prefix_len = a;
    return true;
}

/*
 * True when the comma-separated library list `list` names library `prefix`
 * (compared by base name: "$libdir/pg_stat_statements.so" names
 * "pg_stat_statements").
 */
static bool list_names_library(const char *list, const char *prefix, size_t prefix_len)
{
    const char *p = list;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (isspace((unsigned char)*a) || *a == '"'))
            a++;
        while (b > a && (isspace((unsigned char)b[-1]) || b[-1] == '"'))
            b--;
        for (const char *s = a; s < b; s++)
            if (*s == '/')
                a = s + 1;
        if (b - a > 3 && memcmp(b - 3, ".so", 3) == 0)
            b -= 3;
        if ((size_t)(b - a) == prefix_len && strncasecmp(a, prefix, prefix_len) == 0)
            return true;
        p = *end == ',' ? end + 1 : end;
    }
    return false;
}

static bool prefix_is_loaded(const json_t *params, const char *prefix, size_t prefix_len)
{
    static const char *const lists[] = {"shared_preload_libraries", "session_preload_libraries", "local_preload_libraries"};
    if (prefix_len == 7 && strncasecmp(prefix, "plpgsql", 7) == 0)
        return true;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)params, key, value)
    {
        if (!json_is_string(value))
            continue;
        for (size_t i = 0; i != sizeof(lists) / sizeof(lists[0]); ++i)
            if (strcasecmp(key, lists[i]) == 0 && list_names_library(json_string_value(value), prefix, prefix_len))
                return true;
    }
    return false;
}

/* Risky settings the server accepts: a warning, not an error. */
static void warn_risky(const struct pgw_pg_param *p, const struct pgw_pg_value *v, const char *field, struct pgw_errors *errs)
{
    static const struct {
        const char *name;
        bool when; /* the Boolean value that is risky */
        const char *why;
    } risky[] = {
        {"fsync", false, "a crash or power loss can corrupt the database beyond repair"},
        {"full_page_writes", false, "a crash during a partial page write can corrupt data"},
        {"zero_damaged_pages", true, "damaged pages are silently zeroed, destroying their rows"},
        {"ignore_checksum_failure", true, "corrupt pages are read as if they were valid"},
        {"ignore_invalid_pages", true, "recovery continues past references to invalid pages"},
        {"allow_system_table_mods", true, "system catalogs can be modified and broken"},
        {"data_sync_retry", true, "a failed fsync is retried, which can lose data silently"},
    };
    if (p->vartype == PGW_PG_BOOL) {
        for (size_t i = 0; i != sizeof(risky) / sizeof(risky[0]); ++i)
            if (strcmp(p->name, risky[i].name) == 0 && v->boolval == risky[i].when)
                pgw_errors_warn(errs, "%s: %s=%s: %s", field, p->name, v->boolval ? "on" : "off", risky[i].why);
        return;
    }
    if (strcmp(p->name, "synchronous_commit") == 0) {
        bool off;
        if (pgw_pg_value_parse_bool(v->enumval, &off) && !off)
            pgw_errors_warn(errs,
                            "%s: synchronous_commit=off: transactions committed just before a crash can be "
                            "lost (the database stays consistent)",
                            field);
    }
}

static void validate_one(const json_t *params, int major, const char *key, const json_t *value, const char *field,
                         struct pgw_errors *errs)
{
    if (!json_is_string(value)) {
        pgw_errors_add(errs, PGW_ERR_INVALID, field, value, "must be a string; quote it");
        return;
    }
    const char *s = json_string_value(value);
    if (strlen(s) != json_string_length(value) || strpbrk(s, "\r\n") != NULL) {
        pgw_errors_add(errs, PGW_ERR_INVALID, field, value, "must be a single line of text");
        return;
    }

    const char *owner = pgw_pg_owned_by(canonical_name(major, key));
    const struct pgw_pg_param *p = lookup(major, key);
    if (p == NULL) {
        size_t prefix_len;
        if (owner != NULL && strchr(key, '.') == NULL) {
            /* Owned but unknown to this major (promote_trigger_file on 16+): still say who owns it. */
        } else if (!is_custom_name(key, &prefix_len)) {
            pgw_errors_add(errs, PGW_ERR_INVALID, field, value, "unrecognized configuration parameter \"%s\" in PostgreSQL %d", key,
                           major);
            return;
        } else if (!prefix_is_loaded(params, key, prefix_len)) {
            pgw_errors_add(errs, PGW_ERR_INVALID, field, value,
                           "custom parameter \"%s\": \"%.*s\" is not a library in shared_preload_libraries, "
                           "session_preload_libraries or local_preload_libraries",
                           key, (int)prefix_len, key);
            return;
        } else {
            return; /* a placeholder for a loaded library: its value is the extension's business */
        }
    }
    if (owner != NULL) {
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, field, value, "managed by pgwarden (%s)", owner);
        return;
    }
    if (p->context == PGW_PG_CTX_INTERNAL) {
        pgw_errors_add(errs, PGW_ERR_INVALID, field, value,
                       "parameter \"%s\" cannot be changed (fixed when PostgreSQL was built or initialised)", p->name);
        return;
    }
    struct pgw_pg_value v;
    char *error = NULL;
    if (pgw_pg_value_parse(p, s, &v, &error) != 0 || pgw_pg_checks_run(major, p, s, &v, &error) != 0) {
        pgw_errors_add(errs, PGW_ERR_INVALID, field, value, "%s", error);
        free(error);
        return;
    }
    warn_risky(p, &v, field, errs);
}

/* Two keys naming the same parameter ("work_mem" and "WORK_MEM", or "sort_mem"): the server keeps the last. */
static void check_duplicates(const json_t *params, int major, const char *path, struct pgw_errors *errs)
{
    const char *a, *b;
    const json_t *va, *vb;
    json_object_foreach((json_t *)params, a, va)
    {
        json_object_foreach((json_t *)params, b, vb)
        {
            if (strcmp(a, b) >= 0)
                continue;
            if (strcasecmp(canonical_name(major, a), canonical_name(major, b)) == 0) {
                char *field = pgw_asprintf("%s[%s]", path, b);
                pgw_errors_add(errs, PGW_ERR_DUPLICATE, field, vb, "same parameter as \"%s\"", a);
                free(field);
            }
        }
    }
}

void pgw_pg_params_validate(const json_t *params, int major, const char *path, struct pgw_errors *errs)
{
    if (params == NULL)
        return;
    if (!json_is_object(params)) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, params, "must be an object of parameter names to strings");
        return;
    }
    if (pgw_pg_catalog_get(major) == NULL) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, NULL, "no parameter catalog for PostgreSQL major %d (14 to 18)", major);
        return;
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)params, key, value)
    {
        char *field = pgw_asprintf("%s[%s]", path, key);
        validate_one(params, major, key, value, field, errs);
        free(field);
    }
    check_duplicates(params, major, path, errs);
    pgw_pg_checks_cross(params, major, path, errs);
}

int pgw_pg_param_bytes(int major, const char *name, const char *value, int64_t *bytes)
{
    const struct pgw_pg_param *p = lookup(major, name);
    if (p == NULL || value == NULL || p->vartype != PGW_PG_INTEGER)
        return -1;
    double unit = pgw_pg_value_unit_bytes(p->unit);
    if (unit == 0)
        return -1;
    struct pgw_pg_value v;
    char *error = NULL;
    if (pgw_pg_value_parse(p, value, &v, &error) != 0) {
        free(error);
        return -1;
    }
    *bytes = (int64_t)v.number * (int64_t)unit;
    return 0;
}
