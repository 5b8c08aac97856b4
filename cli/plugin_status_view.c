/*
 * `kubectl pgwarden status`: the text form of the cluster summary
 * (controller/decide/summary.h), kubectl-style tables. Pure, so the screen is
 * tested from JSON fixtures.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/plugin.h"
#include "common/xalloc.h"

const char *pgw_plugin_format_bytes(long long bytes, char *buf, size_t bufsize)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(buf, bufsize, "%lld B", bytes);
        return buf;
    }
    double v = (double)bytes / 1024;
    size_t u = 0;
    for (; v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]); ++u)
        v /= 1024;
    snprintf(buf, bufsize, "%.1f %s", v, units[u]);
    return buf;
}

/* ---- text ------------------------------------------------------------------------------- */

#define MAX_COLUMNS 8

/* A table printed kubectl-style: upper-case headers, columns three spaces apart, the last one unpadded. */
struct st_table_t {
    size_t columns, rows;
    char **cells; /* rows * columns, row 0 the header */
};

static void table_init(struct st_table_t *t, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    while (t->columns < MAX_COLUMNS && headers[t->columns] != NULL)
        ++t->columns;
    t->cells = pgw_calloc(t->columns, sizeof(char *));
    for (size_t c = 0; c != t->columns; ++c)
        t->cells[c] = pgw_strdup(headers[c]);
    t->rows = 1;
}

/* Adds a row of t->columns strings (copied; NULL prints as ""). */
static void table_add(struct st_table_t *t, const char *const *values)
{
    t->cells = pgw_realloc(t->cells, (t->rows + 1) * t->columns * sizeof(char *));
    for (size_t c = 0; c != t->columns; ++c)
        t->cells[t->rows * t->columns + c] = pgw_strdup(values[c] != NULL ? values[c] : "");
    ++t->rows;
}

static void table_print(FILE *fp, struct st_table_t *t)
{
    size_t width[MAX_COLUMNS] = {0};
    for (size_t r = 0; r != t->rows; ++r)
        for (size_t c = 0; c != t->columns; ++c) {
            size_t w = strlen(t->cells[r * t->columns + c]);
            width[c] = w > width[c] ? w : width[c];
        }
    for (size_t r = 0; r != t->rows; ++r) {
        char **row = &t->cells[r * t->columns];
        size_t last = t->columns - 1; /* no trailing blanks: the line ends after its last non-empty cell */
        while (last > 0 && row[last][0] == '\0')
            --last;
        for (size_t c = 0; c < last; ++c)
            fprintf(fp, "%-*s   ", (int)width[c], row[c]);
        fprintf(fp, "%s\n", row[last]);
    }
    for (size_t i = 0; i != t->rows * t->columns; ++i)
        free(t->cells[i]);
    free(t->cells);
}

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

static void print_instances(FILE *fp, const json_t *list)
{
    static const char *const headers[] = {"INSTANCE", "ROLE", "READY", "STATE", "TIMELINE", "LAG", "NODE", "IP", NULL};
    struct st_table_t t;
    table_init(&t, headers);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        char timeline[24] = "?", lag[32] = "?";
        const json_t *tl = json_object_get(e, "timeline"), *lb = json_object_get(e, "lagBytes");
        if (json_is_integer(tl))
            snprintf(timeline, sizeof(timeline), "%lld", (long long)json_integer_value(tl));
        if (strcmp(str(e, "role"), "primary") == 0)
            snprintf(lag, sizeof(lag), "-");
        else if (json_is_integer(lb))
            pgw_plugin_format_bytes((long long)json_integer_value(lb), lag, sizeof(lag));
        const char *ready = json_is_true(json_object_get(e, "terminating")) ? "terminating"
                            : json_is_true(json_object_get(e, "ready"))     ? "true"
                                                                            : "false";
        const char *row[] = {str(e, "name"), str(e, "role"), ready, str(e, "state"), timeline, lag, str(e, "node"), str(e, "ip")};
        table_add(&t, row);
    }
    table_print(fp, &t);
}

static void print_services(FILE *fp, const json_t *list)
{
    static const char *const headers[] = {"SERVICE", "ROLE", "HOST", "PORTS", NULL};
    struct st_table_t t;
    table_init(&t, headers);
    size_t i, j;
    json_t *e, *port;
    json_array_foreach(list, i, e)
    {
        char ports[128] = "";
        size_t used = 0;
        json_array_foreach(json_object_get(e, "ports"), j, port)
        {
            int n = snprintf(ports + used, sizeof(ports) - used, "%s%lld/%s", used != 0 ? "," : "",
                             (long long)json_integer_value(json_object_get(port, "port")), str(port, "name"));
            if (n < 0 || (size_t)n >= sizeof(ports) - used)
                break;
            used += (size_t)n;
        }
        const char *row[] = {str(e, "name"), str(e, "role"), str(e, "host"), ports};
        table_add(&t, row);
    }
    table_print(fp, &t);
}

static void print_backups(FILE *fp, const json_t *list)
{
    static const char *const headers[] = {"BACKUP", "TYPE", "PHASE", "SIZE", "STARTED", "COMPLETED", NULL};
    struct st_table_t t;
    table_init(&t, headers);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        char size[32] = "";
        const json_t *sb = json_object_get(e, "sizeBytes");
        if (json_is_integer(sb))
            pgw_plugin_format_bytes((long long)json_integer_value(sb), size, sizeof(size));
        const char *row[] = {str(e, "name"), str(e, "type"), str(e, "phase"), size, str(e, "startedAt"), str(e, "completedAt")};
        table_add(&t, row);
    }
    table_print(fp, &t);
}

static void print_conditions(FILE *fp, const json_t *list)
{
    static const char *const headers[] = {"CONDITION", "STATUS", "REASON", "MESSAGE", NULL};
    struct st_table_t t;
    table_init(&t, headers);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *row[] = {str(e, "type"), str(e, "status"), str(e, "reason"), str(e, "message")};
        table_add(&t, row);
    }
    table_print(fp, &t);
}

void pgw_plugin_status_print(FILE *fp, const json_t *s)
{
    const json_t *version = json_object_get(s, "postgresVersion"), *primary = json_object_get(s, "primary");
    fprintf(fp, "Cluster:    %s (namespace %s)\n", str(s, "name"), str(s, "namespace"));
    fprintf(fp, "Phase:      %s\n", str(s, "phase"));
    if (json_is_integer(version))
        fprintf(fp, "Postgres:   %lld\n", (long long)json_integer_value(version));
    fprintf(fp, "Primary:    %s\n", json_is_string(primary) ? json_string_value(primary) : "none");
    fprintf(fp, "Instances:  %lld/%lld ready\n", (long long)json_integer_value(json_object_get(s, "readyInstances")),
            (long long)json_integer_value(json_object_get(s, "desiredInstances")));
    const json_t *conn = json_object_get(s, "connection");
    if (conn != NULL)
        fprintf(fp, "Connect:    host=%s port=%lld dbname=%s (user and password: Secret %s)\n", str(conn, "host"),
                (long long)json_integer_value(json_object_get(conn, "port")), str(conn, "dbname"), str(conn, "secret"));
    const char *last = json_string_value(json_object_get(s, "lastBackup"));
    if (last != NULL)
        fprintf(fp, "Last backup: %s\n", last);
    fputc('\n', fp);
    if (json_array_size(json_object_get(s, "instances")) != 0)
        print_instances(fp, json_object_get(s, "instances"));
    else
        fprintf(fp, "No instances yet.\n");
    if (json_array_size(json_object_get(s, "services")) != 0) {
        fputc('\n', fp);
        print_services(fp, json_object_get(s, "services"));
    }
    fputc('\n', fp);
    if (json_array_size(json_object_get(s, "backups")) != 0)
        print_backups(fp, json_object_get(s, "backups"));
    else
        fprintf(fp, "No backups.\n");
    if (json_array_size(json_object_get(s, "conditions")) != 0) {
        fputc('\n', fp);
        print_conditions(fp, json_object_get(s, "conditions"));
    }
}
