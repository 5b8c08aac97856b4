/*
 * `pgwarden render -f CLUSTER.yaml [-o yaml|json]`: the child objects the
 * controller would apply, as a v1 List.
 *
 * Each PostgresCluster is first defaulted and validated by the guard
 * (validators/guard.h), the same one the webhook and the reconcilers run, so
 * what is rendered is what an admitted object would produce. Generated
 * passwords are fresh on every run: the controller only creates Secrets that
 * do not exist yet.
 *
 * Exit: 0 rendered, 1 a cluster is invalid, 2 usage or I/O error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/input.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/object.h"
#include "common/yaml_emit.h"
#include "specs/render.h"
#include "validators/guard.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: pgwarden render -f CLUSTER.yaml [-o yaml|json] [--config FILE]\n\n"
                "Prints the child objects the controller would apply for each PostgresCluster in the\n"
                "file (\"-\" for stdin), as a v1 List. The cluster is defaulted and validated first;\n"
                "exit 1 with field errors on stderr when it is invalid, 2 on usage or I/O errors.\n");
}

static int is_cluster(const json_t *doc)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const char *api = json_string_value(json_object_get(doc, "apiVersion"));
    return kind != NULL && api != NULL && strcmp(kind, "PostgresCluster") == 0 && strncmp(api, "pgwarden.io/", 12) == 0;
}

/* Defaults and validates a copy of `doc` with the guard; prints problems. Returns the defaulted cluster or NULL. */
static json_t *admit_cluster(const json_t *doc, const struct pgw_config *cfg)
{
    struct pgw_request_ctx ctx = pgw_guard_ctx(doc, "default", cfg);
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    json_t *cluster = pgw_guard_run(&pgw_guard_postgrescluster, doc, &ctx, &errs);
    for (size_t i = 0; i != errs.warning_count; ++i)
        fprintf(stderr, "Warning: %s\n", errs.warnings[i]);
    if (cluster == NULL) {
        fprintf(stderr, "The PostgresCluster \"%s\" is invalid:\n", ctx.name);
        for (size_t i = 0; i != errs.count; ++i) {
            char *line = pgw_field_error_format(&errs.items[i]);
            fprintf(stderr, "* %s\n", line);
            free(line);
        }
    } else if (json_object_get(pgw_obj_meta(cluster), "namespace") == NULL) {
        json_object_set_new(json_object_get(cluster, "metadata"), "namespace", json_string(ctx.namespace));
    }
    pgw_errors_dispose(&errs);
    return cluster;
}

int pgw_cmd_render(int argc, char **argv)
{
    static const struct option longopts[] = {{"filename", required_argument, NULL, 'f'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *file = NULL, *output = "yaml", *config_file = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:o:c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            file = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'c':
            config_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (file == NULL || optind != argc || (strcmp(output, "yaml") != 0 && strcmp(output, "json") != 0)) {
        usage(stderr);
        return 2;
    }
    struct pgw_config cfg;
    if (pgw_cli_load_config(&cfg, config_file) != 0)
        return 2;
    json_t *docs = pgw_cli_load_documents("render", file);
    if (docs == NULL) {
        pgw_config_dispose(&cfg);
        return 2;
    }
    int rc = 0, clusters = 0;
    json_t *items = json_array();
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        if (!is_cluster(doc)) {
            fprintf(stderr, "Warning: document %zu is not a pgwarden.io PostgresCluster; skipped\n", i + 1);
            continue;
        }
        ++clusters;
        json_t *cluster = admit_cluster(doc, &cfg);
        if (cluster == NULL) {
            rc = 1;
            continue;
        }
        struct pgw_render_ctx ctx = {.config = &cfg};
        json_t *children = pgw_render_cluster(cluster, &ctx);
        json_array_extend(items, children);
        json_decref(children);
        json_decref(cluster);
    }
    if (clusters == 0) {
        fprintf(stderr, "pgwarden render: %s holds no PostgresCluster\n", file);
        rc = 2;
    }
    if (rc == 0) {
        json_t *list = pgw_render_list(items);
        items = NULL;
        if (strcmp(output, "json") == 0) {
            json_dumpf(list, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            putchar('\n');
        } else {
            pgw_yaml_emit(stdout, list);
        }
        json_decref(list);
    }
    json_decref(items);
    json_decref(docs);
    pgw_config_dispose(&cfg);
    return rc;
}
