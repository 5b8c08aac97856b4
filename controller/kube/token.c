/*
 * Bearer tokens (contract in token.h).
 *
 * Why not read the token once: projected service-account tokens expire within
 * the hour and kubelet rewrites the file, so a token read at start-up stops
 * working. We re-read on file change, near the JWT's exp, and after a 401.
 * Tokens are secrets: never logged, and copies are the caller's to free.
 */
#include "controller/kube/token.h"

#include <errno.h>
#include <jwt.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/xalloc.h"

#define MAX_TOKEN_BYTES (64 * 1024)

struct pgw_token_source {
    pthread_mutex_t lock;
    char *path; /* NULL for a static token */
    char *token;
    double (*wall)(void *);
    void *wall_ctx;
    /* what we last read */
    int loaded;
    struct stat st;
    double read_at;
    time_t exp, iat;
    unsigned long reads;
};

static double real_wall(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void wipe_free(char *s)
{
    if (s == NULL)
        return;
    volatile char *p = s;
    while (*p != '\0')
        *p++ = '\0';
    free(s);
}

time_t pgw_token_jwt_expiry(const char *token)
{
    if (token == NULL || strchr(token, '.') == NULL)
        return 0;
    jwt_t *jwt = NULL;
    /* No key: libjwt decodes without verifying (the API server verifies). */
    if (jwt_decode(&jwt, token, NULL, 0) != 0 || jwt == NULL)
        return 0;
    errno = 0;
    long exp = jwt_get_grant_int(jwt, "exp");
    if (errno != 0)
        exp = 0;
    jwt_free(jwt);
    return exp > 0 ? (time_t)exp : 0;
}

static time_t jwt_issued_at(const char *token)
{
    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, NULL, 0) != 0 || jwt == NULL)
        return 0;
    errno = 0;
    long iat = jwt_get_grant_int(jwt, "iat");
    if (errno != 0)
        iat = 0;
    jwt_free(jwt);
    return iat > 0 ? (time_t)iat : 0;
}

struct pgw_token_source *pgw_token_source_new_static(const char *token)
{
    struct pgw_token_source *ts = pgw_calloc(1, sizeof(*ts));
    pthread_mutex_init(&ts->lock, NULL);
    ts->token = pgw_strdup(token);
    ts->loaded = 1;
    return ts;
}

struct pgw_token_source *pgw_token_source_new_file(const char *path, double (*wall)(void *), void *wall_ctx)
{
    struct pgw_token_source *ts = pgw_calloc(1, sizeof(*ts));
    pthread_mutex_init(&ts->lock, NULL);
    ts->path = pgw_strdup(path);
    ts->wall = wall != NULL ? wall : real_wall;
    ts->wall_ctx = wall_ctx;
    return ts;
}

void pgw_token_source_free(struct pgw_token_source *ts)
{
    if (ts == NULL)
        return;
    wipe_free(ts->token);
    free(ts->path);
    pthread_mutex_destroy(&ts->lock);
    free(ts);
}

/* Reads the file; the token is its content without surrounding whitespace. Lock held. */
static int load(struct pgw_token_source *ts, const struct stat *st, double now, char **err)
{
    FILE *fp = fopen(ts->path, "rb");
    if (fp == NULL) {
        *err = pgw_asprintf("token file %s: %s", ts->path, strerror(errno));
        return -1;
    }
    char *buf = pgw_malloc(MAX_TOKEN_BYTES + 1);
    size_t n = fread(buf, 1, MAX_TOKEN_BYTES + 1, fp);
    fclose(fp);
    if (n > MAX_TOKEN_BYTES) {
        wipe_free(buf);
        *err = pgw_asprintf("token file %s: larger than %d bytes", ts->path, MAX_TOKEN_BYTES);
        return -1;
    }
    buf[n] = '\0';
    size_t start = 0;
    while (start < n && (buf[start] == ' ' || buf[start] == '\n' || buf[start] == '\r' || buf[start] == '\t'))
        ++start;
    while (n > start && (buf[n - 1] == ' ' || buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    if (n == start) {
        wipe_free(buf);
        *err = pgw_asprintf("token file %s is empty", ts->path);
        return -1;
    }
    wipe_free(ts->token);
    ts->token = pgw_strdup(buf + start);
    wipe_free(buf);
    ts->st = *st;
    ts->read_at = now;
    ts->exp = pgw_token_jwt_expiry(ts->token);
    ts->iat = ts->exp != 0 ? jwt_issued_at(ts->token) : 0;
    ts->loaded = 1;
    ++ts->reads;
    return 0;
}

/* Should the file be read again? Lock held. */
static int stale(struct pgw_token_source *ts, const struct stat *st, double now)
{
    if (!ts->loaded)
        return 1;
    if (st->st_ino != ts->st.st_ino || st->st_dev != ts->st.st_dev || st->st_size != ts->st.st_size ||
        st->st_mtim.tv_sec != ts->st.st_mtim.tv_sec || st->st_mtim.tv_nsec != ts->st.st_mtim.tv_nsec)
        return 1;
    if (now - ts->read_at >= PGW_TOKEN_REREAD_PERIOD || now < ts->read_at)
        return 1;
    if (ts->exp != 0) {
        double margin = 60;
        if (ts->iat != 0 && ts->exp > ts->iat && (double)(ts->exp - ts->iat) / 5 < margin)
            margin = (double)(ts->exp - ts->iat) / 5;
        if (now >= (double)ts->exp - margin)
            return 1;
    }
    return 0;
}

char *pgw_token_source_get(struct pgw_token_source *ts, char **err)
{
    char *out = NULL;
    *err = NULL;
    pthread_mutex_lock(&ts->lock);
    if (ts->path != NULL) {
        struct stat st;
        double now = ts->wall(ts->wall_ctx);
        if (stat(ts->path, &st) != 0) {
            if (!ts->loaded) {
                *err = pgw_asprintf("token file %s: %s", ts->path, strerror(errno));
                goto out;
            }
            /* keep the last token: the file is being swapped */
        } else if (stale(ts, &st, now) && load(ts, &st, now, err) != 0 && !ts->loaded) {
            goto out;
        } else if (*err != NULL) {
            free(*err); /* a failed re-read keeps the previous token */
            *err = NULL;
        }
    }
    out = pgw_strdup(ts->token);
out:
    pthread_mutex_unlock(&ts->lock);
    return out;
}

void pgw_token_source_invalidate(struct pgw_token_source *ts)
{
    pthread_mutex_lock(&ts->lock);
    if (ts->path != NULL)
        ts->read_at = -1e18; /* forces a re-read on the next get */
    pthread_mutex_unlock(&ts->lock);
}

unsigned long pgw_token_source_reads(struct pgw_token_source *ts)
{
    pthread_mutex_lock(&ts->lock);
    unsigned long n = ts->reads;
    pthread_mutex_unlock(&ts->lock);
    return n;
}
