/*
 * A whole stream read into memory: configuration files, manifests, review
 * bodies on stdin, the test tools' inputs.
 */
#ifndef PGW_COMMON_READ_ALL_H
#define PGW_COMMON_READ_ALL_H

#include <stddef.h>
#include <stdio.h>

/*
 * Reads fp to its end, or until more than `max` bytes have been read (max 0:
 * no limit). Returns the bytes, NUL-terminated and malloc'd (the caller
 * frees), with their count in *len; *len > max tells the caller the input was
 * too large. NULL on a read error, with errno as the read left it. fp stays open.
 */
char *pgw_read_all(FILE *fp, size_t max, size_t *len);

#endif
