/*
 * pgw_pgquery: drives controller/pg (pgwarden's PostgreSQL client) from the
 * command line, for test/integration/test_pgconn_real.py and bench/pgconn.
 *
 *   pgw_pgquery [options] SQL...   one connection, each SQL run in turn
 *   pgw_pgquery --verifier ITER    prints pgw_scram_verifier(password, ITER)
 *   pgw_pgquery --bench N [options] SQL
 *                                  N times connect + SQL + close; prints timings
 * Options: --host H --port P --user U --db D --ca FILE --timeout MS --prefer-tls
 * The password comes from the environment (PGW_PG_PASSWORD), never argv.
 *
 * Output is one JSON object per line: {"connect_error", "sqlstate"} when the
 * connection fails (exit 2), else per SQL {"ok", "columns", "rows", "tag"} or
 * {"ok": false, "error", "sqlstate", "broken"} (exit 1 when any failed).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/read_all.h"
#include "controller/pg/pgconn.h"
#include "controller/pg/pgio.h"
#include "controller/pg/scram.h"

static void print(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    puts(s);
    fflush(stdout);
    free(s);
    json_decref(obj);
}

static int run(pgw_pg_conn *conn, const char *sql)
{
    pgw_pg_result res;
    char *err = NULL;
    if (pgw_pg_query(conn, sql, &res, &err) != 0) {
        print(json_pack("{s:b, s:s, s:s, s:b}", "ok", 0, "error", err, "sqlstate", pgw_pg_sqlstate(conn), "broken",
                        pgw_pg_broken(conn)));
        free(err);
        return 1;
    }
    json_t *cols = json_array(), *rows = json_array();
    for (size_t c = 0; c < res.ncols; c++)
        json_array_append_new(cols, json_string(res.colnames[c]));
    for (size_t r = 0; r < res.nrows; r++) {
        json_t *row = json_array();
        for (size_t c = 0; c < res.ncols; c++) {
            const char *v = pgw_pg_cell(&res, r, c);
            json_array_append_new(row, v ? json_string(v) : json_null());
        }
        json_array_append_new(rows, row);
    }
    print(json_pack("{s:b, s:o, s:o, s:s?}", "ok", 1, "columns", cols, "rows", rows, "tag", res.command_tag));
    pgw_pg_result_free(&res);
    return 0;
}

int main(int argc, char **argv)
{
    pgw_pg_conn_opts o = {.host = "127.0.0.1",
                          .port = 5432,
                          .user = "postgres",
                          .dbname = "postgres",
                          .application_name = "pgw_pgquery",
                          .require_tls = 1,
                          .timeout_ms = 10000};
    const char *ca_file = NULL;
    int bench = 0, verifier = 0;
    static const struct option longopts[] = {{"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
                                             {"user", required_argument, 0, 'U'},     {"db", required_argument, 0, 'd'},
                                             {"ca", required_argument, 0, 'c'},       {"timeout", required_argument, 0, 't'},
                                             {"bench", required_argument, 0, 'b'},    {"prefer-tls", no_argument, 0, 'P'},
                                             {"verifier", required_argument, 0, 'v'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            o.host = optarg;
            break;
        case 'p':
            o.port = atoi(optarg);
            break;
        case 'U':
            o.user = optarg;
            break;
        case 'd':
            o.dbname = optarg;
            break;
        case 'c':
            ca_file = optarg;
            break;
        case 't':
            o.timeout_ms = atoi(optarg);
            break;
        case 'b':
            bench = atoi(optarg);
            break;
        case 'P':
            o.require_tls = 0;
            break;
        case 'v':
            verifier = atoi(optarg);
            break;
        default:
            return 64;
        }
    }
    o.password = getenv("PGW_PG_PASSWORD");
    if (verifier) {
        char *v = o.password ? pgw_scram_verifier(o.password, verifier) : NULL;
        if (v == NULL)
            return 1;
        puts(v);
        free(v);
        return 0;
    }
    char *ca = NULL;
    if (ca_file != NULL) {
        FILE *f = fopen(ca_file, "r");
        size_t n = 0;
        if (f == NULL || (ca = pgw_read_all(f, 1 << 20, &n)) == NULL) {
            perror(ca_file);
            return 64;
        }
        fclose(f);
        o.ca_pem = ca;
    }
    int rc = 0;
    char *err = NULL;
    if (bench > 0) {
        int64_t total = 0, worst = 0;
        for (int i = 0; i < bench && rc == 0; i++) {
            int64_t t0 = pgw_pgio_now_ms();
            pgw_pg_conn *conn = pgw_pg_connect(&o, &err);
            if (conn == NULL || (optind < argc && pgw_pg_query(conn, argv[optind], NULL, &err) != 0)) {
                fprintf(stderr, "%s\n", err);
                rc = 1;
            }
            pgw_pg_close(conn);
            int64_t dt = pgw_pgio_now_ms() - t0;
            total += dt;
            worst = dt > worst ? dt : worst;
        }
        print(json_pack("{s:i, s:f, s:I}", "n", bench, "mean_ms", (double)total / bench, "max_ms", (json_int_t)worst));
    } else {
        pgw_pg_conn *conn = pgw_pg_connect(&o, &err);
        if (conn == NULL) {
            print(json_pack("{s:s}", "connect_error", err));
            rc = 2;
        }
        for (int i = optind; conn != NULL && i < argc; i++)
            rc |= run(conn, argv[i]);
        pgw_pg_close(conn);
    }
    free(err);
    free(ca);
    return rc;
}
