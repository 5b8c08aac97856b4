/*
 * Reading Kubernetes objects: metadata fields, dotted spec paths and child
 * names. Every layer reads objects the same way through these, instead of a
 * private meta_str() per file.
 *
 * Getters borrow: they return pointers into `obj` (or NULL when a step of the
 * path is missing or has the wrong type) and never allocate. Child names are
 * malloc'd; the caller frees them.
 */
#ifndef PGW_COMMON_OBJECT_H
#define PGW_COMMON_OBJECT_H

#include <jansson.h>

/* obj.metadata, or NULL. */
const json_t *pgw_obj_meta(const json_t *obj);
/* obj.metadata.<field> when it is a string, else NULL ("name", "namespace", "uid", ...). */
const char *pgw_obj_meta_str(const json_t *obj, const char *field);
/* The member at a dotted path of object keys ("spec.backup.repository"), or NULL. */
const json_t *pgw_obj_at(const json_t *obj, const char *path);
/* The string at a dotted path, or NULL. */
const char *pgw_obj_str_at(const json_t *obj, const char *path);
/* "<cluster><suffix>", the name of a child (suffix: a PGW_SUFFIX_* constant). malloc'd. */
char *pgw_obj_child_name(const char *cluster, const char *suffix);

/* The first object of `array` whose "name" is `name` (containers, volumes, list entries keyed by
 * name), or NULL; NULL too when `name` is NULL. Borrowed. */
const json_t *pgw_obj_find_named(const json_t *array, const char *name);

/* The first object of `objects` (a list of Kubernetes objects, e.g. pods) whose metadata.name is
 * `name`, or NULL; NULL too when `name` is NULL. Borrowed. */
const json_t *pgw_obj_find_by_meta_name(const json_t *objects, const char *name);

/* The strings of a JSON array joined with `sep` ("a, b"); other members are skipped. malloc'd. */
char *pgw_obj_join_strings(const json_t *strings, const char *sep);

#endif
