/*
 * Test helper: prints what specs/render_pgbouncer.c and
 * specs/render_exporter.c render, so the data-plane tests run the exact
 * text the controller will ship, with only paths and ports changed through the
 * render options (never by editing the output).
 *
 *   render_sidecar_config pgbouncer-ini CLUSTER.json LISTEN_ADDR LISTEN_PORT SOCKET_DIR SERVER_HOST SERVER_PORT CONFIG_DIR TLS(0|1)
 *   render_sidecar_config pgbouncer-userlist PASSWORD
 *   render_sidecar_config pgbouncer-sql PASSWORD
 *   render_sidecar_config exporter-env SOCKET_DIR PORT DATABASE PASSWORD_FILE   (JSON EnvVar list)
 *   render_sidecar_config exporter-args LISTEN_ADDRESS                          (JSON list)
 *   render_sidecar_config exporter-sql PASSWORD
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specs/render_exporter.h"
#include "specs/render_pgbouncer.h"

static int print_owned(char *text)
{
    if (text == NULL) {
        fprintf(stderr, "render_sidecar_config: rendering refused its input\n");
        return 1;
    }
    fputs(text, stdout);
    free(text);
    return 0;
}

static int print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    puts(s);
    free(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 10 && strcmp(argv[1], "pgbouncer-ini") == 0) {
        json_error_t err;
        json_t *cluster = json_load_file(argv[2], 0, &err);
        if (cluster == NULL) {
            fprintf(stderr, "render_sidecar_config: %s: %s\n", argv[2], err.text);
            return 2;
        }
        struct pgw_pgbouncer_render_opts o = {
            .listen_addr = argv[3],
            .listen_port = atoi(argv[4]),
            .unix_socket_dir = argv[5],
            .server_host = argv[6],
            .server_port = atoi(argv[7]),
            .config_dir = argv[8],
            .tls = atoi(argv[9]),
        };
        int rc = print_owned(pgw_render_pgbouncer_ini(cluster, &o));
        json_decref(cluster);
        return rc;
    }
    if (argc == 3 && strcmp(argv[1], "pgbouncer-userlist") == 0)
        return print_owned(pgw_render_pgbouncer_userlist(argv[2]));
    if (argc == 3 && strcmp(argv[1], "pgbouncer-sql") == 0)
        return print_owned(pgw_render_pgbouncer_sql(NULL, argv[2]));
    if (argc == 3 && strcmp(argv[1], "exporter-sql") == 0)
        return print_owned(pgw_render_exporter_sql(NULL, argv[2]));
    if (argc == 3 && strcmp(argv[1], "exporter-args") == 0)
        return print_json(pgw_render_exporter_args(argv[2]));
    if (argc == 6 && strcmp(argv[1], "exporter-env") == 0) {
        struct pgw_exporter_render_opts o = {
            .socket_dir = argv[2], .port = atoi(argv[3]), .database = argv[4], .password_file = argv[5]};
        return print_json(pgw_render_exporter_env(&o));
    }
    fprintf(stderr, "usage: see the comment at the top of test/tools/render_sidecar_config.c\n");
    return 2;
}
