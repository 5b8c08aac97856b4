/*
 * review_loop PATH FILE N: runs one AdmissionReview through the pipeline N
 * times in-process (no TLS, no HTTP). For instruction counts under
 * `valgrind --tool=callgrind` and quick before/after comparisons of the hot path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/json_arena.h"
#include "common/read_all.h"
#include "webhook/admission.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: review_loop PATH FILE N\n");
        return 2;
    }
    pgw_json_arena_install();
    const pgw_admission_route_t *route = pgw_admission_route_find(argv[1], strlen(argv[1]));
    FILE *fp = fopen(argv[2], "rb");
    if (route == NULL || fp == NULL) {
        fprintf(stderr, "review_loop: unknown path or unreadable file\n");
        return 2;
    }
    size_t len = 0;
    char *body = pgw_read_all(fp, 0, &len);
    fclose(fp);
    if (body == NULL) {
        fprintf(stderr, "review_loop: cannot read %s\n", argv[2]);
        return 2;
    }
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    long iterations = atol(argv[3]);
    size_t out_bytes = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iterations; ++i) {
        struct pgw_admission_outcome out;
        pgw_admission_handle(route, body, len, &cfg, time(NULL), &out);
        out_bytes += out.body_len;
        free(out.body);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%ld reviews, %.1f us each, %zu response bytes each\n", iterations, secs * 1e6 / (double)iterations,
           iterations ? out_bytes / (size_t)iterations : 0);
    free(body);
    pgw_config_dispose(&cfg);
    return 0;
}
