#include "common/log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/json_arena.h"

static atomic_int log_level = PGW_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void pgw_log_set_level(int level)
{
    atomic_store(&log_level, level);
}

int pgw_log_get_level(void)
{
    return atomic_load(&log_level);
}

int pgw_log_enabled(int level)
{
    return level >= atomic_load(&log_level);
}

int pgw_log_parse_level(const char *name)
{
    for (int i = 0; i != 4; ++i)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    if (strcmp(name, "warning") == 0)
        return PGW_LOG_WARN;
    return -1;
}

void pgw_log(int level, const char *msg, json_t *fields)
{
    if (!pgw_log_enabled(level)) {
        json_decref(fields);
        return;
    }
    struct timeval tv;
    struct tm tm;
    char ts[40];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level < 0 ? 0 : level > 3 ? 3 : level]));
    json_object_set_new(line, "msg", json_string(msg));
    if (fields != NULL) {
        json_object_update(line, fields);
        json_decref(fields);
    }
    char *text = pgw_json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (text == NULL)
        return;
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the terminator; we write by length */
    ssize_t r = write(STDERR_FILENO, text, len + 1);
    (void)r;
    free(text);
}
