/*
 * The simple query protocol (pgconn.h: pgw_pg_query) and its result.
 *
 * One Query message may carry several statements; the server answers each
 * with RowDescription, DataRows and CommandComplete (or EmptyQueryResponse),
 * stops at the first error, and always ends with ReadyForQuery. We read up
 * to that ReadyForQuery even after an error, so the connection stays usable;
 * only a timeout, an I/O error or a protocol violation breaks it. On a
 * timeout we also send a CancelRequest: closing the socket alone would let a
 * statement waiting on a lock run on and commit after we reported it failed.
 *
 * A result keeps the rows of the last statement that returned rows, in one
 * allocation per cell. Its total size is capped (MAX_RESULT_BYTES); beyond
 * it the rows are drained and the query fails, the connection stays usable.
 */
#include "controller/pg/pgconn.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "controller/pg/pgio.h"

#define MAX_RESULT_BYTES (256u * 1024 * 1024)

void pgw_pg_result_free(pgw_pg_result *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->ncols && res->colnames; i++)
        free(res->colnames[i]);
    free(res->colnames);
    for (size_t i = 0; i < res->nrows * res->ncols && res->cells; i++)
        free(res->cells[i]);
    free(res->cells);
    free(res->command_tag);
    memset(res, 0, sizeof(*res));
}

const char *pgw_pg_cell(const pgw_pg_result *res, size_t row, size_t col)
{
    if (res == NULL || res->cells == NULL || row >= res->nrows || col >= res->ncols)
        return NULL;
    return res->cells[row * res->ncols + col];
}

/* The state of one pgw_pg_query call. */
struct query {
    pgw_pg_result res;
    size_t rows_cap; /* rows res.cells has room for */
    size_t bytes;    /* cell bytes held, against MAX_RESULT_BYTES */
    int too_big;     /* stop keeping rows; fail at the end */
    char *sql_error; /* the ErrorResponse, if any */
};

/* RowDescription starts a new row set: the previous statement's rows are dropped. */
static int on_row_description(struct query *q, const unsigned char *body, size_t len)
{
    uint16_t n;
    size_t pos = 0;
    char *tag = q->res.command_tag;
    q->res.command_tag = NULL;
    pgw_pg_result_free(&q->res);
    q->res.command_tag = tag;
    q->rows_cap = 0;
    q->bytes = 0;
    if (pgw_pgmsg_get_int16(body, len, &pos, &n) != 0)
        return -1;
    q->res.colnames = pgw_calloc(n ? n : 1, sizeof(char *));
    for (uint16_t i = 0; i < n; i++) {
        const char *name = pgw_pgmsg_get_str(body, len, &pos);
        if (name == NULL || len - pos < 18) /* table oid, column, type oid, size, modifier, format */
            return -1;
        pos += 18;
        q->res.colnames[i] = pgw_strdup(name);
        q->res.ncols = i + 1;
    }
    return 0;
}

/* Copies one cell at body[*pos] into *cell (NULL for SQL NULL). */
static int take_cell(const unsigned char *body, size_t len, size_t *pos, char **cell)
{
    uint32_t n;
    if (pgw_pgmsg_get_int32(body, len, pos, &n) != 0)
        return -1;
    if (n == 0xffffffffu) {
        *cell = NULL;
        return 0;
    }
    if (n > len - *pos)
        return -1;
    *cell = pgw_strndup((const char *)body + *pos, n); /* text format: no NUL inside */
    *pos += n;
    return 0;
}

static int on_data_row(struct query *q, const unsigned char *body, size_t len)
{
    uint16_t n;
    size_t pos = 0;
    if (pgw_pgmsg_get_int16(body, len, &pos, &n) != 0 || n != q->res.ncols || q->res.colnames == NULL)
        return -1;
    if (q->too_big)
        return 0;
    q->bytes += len + (size_t)n * sizeof(char *);
    if (q->bytes > MAX_RESULT_BYTES) {
        q->too_big = 1;
        return 0;
    }
    if (q->res.nrows == q->rows_cap) {
        q->rows_cap = q->rows_cap ? q->rows_cap * 2 : 16;
        q->res.cells = pgw_realloc(q->res.cells, q->rows_cap * (n ? n : 1) * sizeof(char *));
    }
    char **row = q->res.cells + q->res.nrows * n;
    for (uint16_t i = 0; i < n; i++) {
        if (take_cell(body, len, &pos, &row[i]) != 0) {
            for (uint16_t j = 0; j < i; j++)
                free(row[j]);
            return -1;
        }
    }
    q->res.nrows++;
    return 0;
}

int pgw_pg_query(pgw_pg_conn *conn, const char *sql, pgw_pg_result *out, char **err)
{
    *err = NULL;
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (conn == NULL || conn->broken) {
        *err = pgw_strdup("the connection is broken");
        return -1;
    }
    if (sql == NULL) {
        *err = pgw_strdup("no SQL given");
        return -1;
    }
    conn->sqlstate[0] = '\0';
    int64_t deadline = pgw_pgio_now_ms() + conn->timeout_ms;
    struct pgw_pgmsg m = {0};
    pgw_pgmsg_begin(&m, 'Q');
    pgw_pgmsg_str(&m, sql);
    pgw_pgmsg_end(&m);
    int rc = pgw_pgio_write(conn, m.data, m.len, deadline, err);
    pgw_pgmsg_free(&m);
    if (rc != 0)
        return -1;

    struct query q = {0};
    for (;;) {
        char type;
        const unsigned char *body;
        size_t len;
        if (pgw_pgio_read_message(conn, &type, &body, &len, deadline, err) != 0) {
            if (conn->timed_out) {
                /* The statement is still running on the server: ask it to stop. */
                pgw_pgio_cancel(conn);
                free(*err);
                *err = pgw_asprintf("the query timed out after %d ms (cancel requested)", conn->timeout_ms);
            } else if (q.sql_error != NULL) {
                /* A FATAL error (the server shutting down, a switchover) says more than the closed socket after it. */
                free(*err);
                *err = q.sql_error;
                q.sql_error = NULL;
            }
            rc = -1;
            break;
        }
        size_t pos = 0;
        const char *tag;
        switch (type) {
        case 'T':
            rc = on_row_description(&q, body, len);
            break;
        case 'D':
            rc = on_data_row(&q, body, len);
            break;
        case 'C':
            if ((tag = pgw_pgmsg_get_str(body, len, &pos)) == NULL) {
                rc = -1;
                break;
            }
            free(q.res.command_tag);
            q.res.command_tag = pgw_strdup(tag);
            break;
        case 'E':
            if (q.sql_error == NULL)
                q.sql_error = pgw_pgio_error_text(conn, body, len);
            break;
        case 'G': { /* COPY FROM STDIN: we have nothing to send */
            struct pgw_pgmsg f = {0};
            pgw_pgmsg_begin(&f, 'f');
            pgw_pgmsg_str(&f, "pgwarden does not send COPY data");
            pgw_pgmsg_end(&f);
            rc = pgw_pgio_write(conn, f.data, f.len, deadline, err);
            pgw_pgmsg_free(&f);
            break;
        }
        case 'I': /* EmptyQueryResponse */
        case 'N': /* NoticeResponse */
        case 'S': /* ParameterStatus (SET of a reported parameter) */
        case 'A': /* NotificationResponse */
        case 'H': /* CopyOutResponse: its data is drained below */
        case 'd':
        case 'c':
            break;
        case 'Z':
            goto ready;
        default:
            rc = -1;
            break;
        }
        if (rc != 0) {
            if (*err == NULL)
                *err = pgw_asprintf("protocol error: a malformed or unexpected message '%c'",
                                    type >= 0x20 && type < 0x7f ? type : '?');
            conn->broken = 1;
            break;
        }
    }
    /* broken */
    free(q.sql_error);
    pgw_pg_result_free(&q.res);
    return -1;

ready:
    if (q.sql_error != NULL || q.too_big) {
        *err = q.sql_error ? q.sql_error : pgw_asprintf("the result is larger than %u bytes", MAX_RESULT_BYTES);
        pgw_pg_result_free(&q.res);
        return -1;
    }
    if (out != NULL)
        *out = q.res;
    else
        pgw_pg_result_free(&q.res);
    return 0;
}
