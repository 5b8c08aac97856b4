/*
 * render_children CLUSTER.json: prints the children pgw_render_cluster()
 * produces for an already-defaulted cluster, as a v1 List (for tests that feed
 * rendered configuration to the real programs).
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/config.h"
#include "specs/render.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: render_children CLUSTER.json\n");
        return 2;
    }
    json_error_t e;
    json_t *cluster = json_load_file(argv[1], 0, &e);
    if (cluster == NULL) {
        fprintf(stderr, "render_children: %s: %s\n", argv[1], e.text);
        return 2;
    }
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    struct pgw_render_ctx ctx = {.config = &cfg};
    json_t *list = pgw_render_list(pgw_render_cluster(cluster, &ctx));
    json_dumpf(list, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(list);
    json_decref(cluster);
    pgw_config_dispose(&cfg);
    return 0;
}
