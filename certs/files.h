/*
 * Certificate files on disk: read a PEM file, create the certificate
 * directory, and replace a file atomically. Public, so the CA upkeep
 * (shared_ca.c) and the CLI write files the way the certs module does.
 * Strings returned are malloc'd; the caller frees them.
 */
#ifndef PGW_CERTS_FILES_H
#define PGW_CERTS_FILES_H

#include <stddef.h>

/* Reads a PEM file into a malloc'd string (caller frees), or NULL with *err. */
char *pgw_certs_read_file(const char *path, char **err);

/* Creates `dir` (and missing parents, mode 0755). Returns 0 or -1 with *err. */
int pgw_certs_make_dir(const char *dir, char **err);

/*
 * Writes `len` bytes to dir/name through a temporary file in the same
 * directory, fsync and rename(2), so readers see the old or the new content,
 * never a mix. `mode` is applied before any byte is written. Returns 0 or -1 with *err.
 */
int pgw_certs_write_file(const char *dir, const char *name, const char *data, size_t len, unsigned mode, char **err);

#endif
