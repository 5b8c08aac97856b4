/*
 * The sidecar list syntax and the injection hash (see inject.h).
 *
 * The hash covers what was asked for (the set and the configuration), not what
 * the mutator happened to add: a container the user already wrote is left
 * alone, and a second invocation adds nothing, yet both must stamp the same
 * value or reinvocation would not be a no-op. A layout version string is mixed
 * in so that changing the injected container shape changes every hash.
 *
 * Changing anything that feeds the hash (the layout version, the field
 * encoding, the set order) re-rolls every database pod after an upgrade: each
 * pod's stamp stops matching and SidecarsInjected turns False. The value is
 * pinned in test/unit/test_pod_mutator.c (test_hash_pinned) so such a change
 * cannot happen by accident.
 */
#include "specs/inject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/sha256.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"

#define LAYOUT_VERSION "pgwarden-inject/1"

static const struct {
    unsigned bit;
    const char *name;
} names[] = {
    {PGW_INJECT_POOLER, PGW_SIDECAR_POOLER},
    {PGW_INJECT_METRICS, PGW_SIDECAR_METRICS},
    {PGW_INJECT_BACKUP, PGW_SIDECAR_BACKUP},
};
#define NAME_COUNT (sizeof(names) / sizeof(names[0]))

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

unsigned pgw_inject_parse_sidecars(const char *list, struct pgw_errors *errs)
{
    unsigned set = 0;
    const char *p = list;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && is_space(*b))
            ++b;
        while (e > b && is_space(e[-1]))
            --e;
        size_t n = (size_t)(e - b);
        if (n != 0) {
            size_t i;
            for (i = 0; i != NAME_COUNT; ++i)
                if (strlen(names[i].name) == n && memcmp(names[i].name, b, n) == 0)
                    break;
            if (i != NAME_COUNT)
                set |= names[i].bit;
            else if (errs != NULL)
                pgw_errors_warn(errs, "%s: unknown sidecar \"%.*s\" ignored (known: pooler, metrics, backup)",
                                PGW_POD_ANNOTATION_SIDECARS, (int)(n > 40 ? 40 : n), b);
        }
        p = *end == ',' ? end + 1 : end;
    }
    return set;
}

char *pgw_inject_format_sidecars(unsigned sidecars)
{
    char buf[64] = "";
    for (size_t i = 0; i != NAME_COUNT; ++i)
        if (sidecars & names[i].bit) {
            if (buf[0] != '\0')
                strcat(buf, ",");
            strcat(buf, names[i].name);
        }
    return pgw_strdup(buf);
}

static int enabled(const json_t *section)
{
    return !json_is_false(json_object_get(section, "enabled"));
}

unsigned pgw_inject_sidecars_for_cluster(const json_t *cluster)
{
    const json_t *spec = json_object_get(cluster, "spec");
    unsigned set = 0;
    if (enabled(json_object_get(spec, "pooler")))
        set |= PGW_INJECT_POOLER;
    if (enabled(json_object_get(spec, "metrics")))
        set |= PGW_INJECT_METRICS;
    if (json_is_object(json_object_get(spec, "backup")))
        set |= PGW_INJECT_BACKUP;
    return set;
}

static void write_sidecar(FILE *fp, const char *name, const struct pgw_sidecar_config *sc, const char *pull_policy)
{
    /* Every field is written with its name and a NULL marker, so no two configurations collide. */
    fprintf(fp, "%s\nimage=%s\npull=%s\nreq.cpu=%s\nreq.mem=%s\nlim.cpu=%s\nlim.mem=%s\n", name, sc->image ? sc->image : "\x01",
            pull_policy ? pull_policy : "\x01", sc->cpu_request ? sc->cpu_request : "\x01",
            sc->memory_request ? sc->memory_request : "\x01", sc->cpu_limit ? sc->cpu_limit : "\x01",
            sc->memory_limit ? sc->memory_limit : "\x01");
}

char *pgw_inject_expected_hash(unsigned sidecars, const struct pgw_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    fprintf(fp, "%s\n", LAYOUT_VERSION);
    if (sidecars & PGW_INJECT_POOLER)
        write_sidecar(fp, PGW_SIDECAR_POOLER, &cfg->pgbouncer, cfg->image_pull_policy);
    if (sidecars & PGW_INJECT_METRICS)
        write_sidecar(fp, PGW_SIDECAR_METRICS, &cfg->exporter, cfg->image_pull_policy);
    if (sidecars & PGW_INJECT_BACKUP)
        write_sidecar(fp, PGW_SIDECAR_BACKUP, &cfg->pgbackrest, cfg->image_pull_policy);
    fclose(fp);

    char *hex = pgw_malloc(17);
    pgw_sha256_hex(text, len, 8, hex);
    free(text);
    return hex;
}
