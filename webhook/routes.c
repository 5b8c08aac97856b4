/*
 * The admission routes of DESIGN.md §4. Adding an endpoint is one line here;
 * what each kind runs is defined once, in validators/guard.c.
 */
#include "webhook/admission.h"

#include <string.h>

const pgw_admission_route_t pgw_admission_routes[] = {
    {"/mutate/pods", "pods", &pgw_guard_pod, PGW_ROUTE_DEFAULT},
    {"/mutate/postgresclusters", "postgresclusters", &pgw_guard_postgrescluster, PGW_ROUTE_DEFAULT},
    {"/mutate/postgresbackups", "postgresbackups", &pgw_guard_postgresbackup, PGW_ROUTE_DEFAULT},
    {"/mutate/postgresrestores", "postgresrestores", &pgw_guard_postgresrestore, PGW_ROUTE_DEFAULT},
    {"/validate/postgresclusters", "postgresclusters", &pgw_guard_postgrescluster, PGW_ROUTE_VALIDATE},
    {"/validate/postgresbackups", "postgresbackups", &pgw_guard_postgresbackup, PGW_ROUTE_VALIDATE},
    {"/validate/postgresrestores", "postgresrestores", &pgw_guard_postgresrestore, PGW_ROUTE_VALIDATE},
    {NULL, NULL, NULL, PGW_ROUTE_DEFAULT},
};

const pgw_admission_route_t *pgw_admission_route_find(const char *path, size_t len)
{
    for (const pgw_admission_route_t *r = pgw_admission_routes; r->path != NULL; ++r)
        if (strlen(r->path) == len && memcmp(r->path, path, len) == 0)
            return r;
    return NULL;
}

size_t pgw_admission_route_index(const pgw_admission_route_t *route)
{
    return (size_t)(route - pgw_admission_routes);
}

size_t pgw_admission_route_count(void)
{
    size_t n = 0;
    while (pgw_admission_routes[n].path != NULL)
        ++n;
    return n;
}
