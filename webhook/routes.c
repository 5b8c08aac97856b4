/*
 * The admission routes of DESIGN.md §4. Adding an endpoint is one line here.
 */
#include "webhook/admission.h"

#include <string.h>

const pgw_admission_route_t pgw_admission_routes[] = {
    {"/mutate/pods", "", "Pod", "pods", pgw_mutate_pod, NULL, pgw_pod_copy_for_edit},
    {"/mutate/postgresclusters", "pgwarden.io", "PostgresCluster", "postgresclusters", pgw_mutate_postgrescluster, NULL, NULL},
    {"/mutate/postgresbackups", "pgwarden.io", "PostgresBackup", "postgresbackups", pgw_mutate_postgresbackup, NULL, NULL},
    {"/mutate/postgresrestores", "pgwarden.io", "PostgresRestore", "postgresrestores", pgw_mutate_postgresrestore, NULL, NULL},
    {"/validate/postgresclusters", "pgwarden.io", "PostgresCluster", "postgresclusters", NULL, pgw_validate_postgrescluster, NULL},
    {"/validate/postgresbackups", "pgwarden.io", "PostgresBackup", "postgresbackups", NULL, pgw_validate_postgresbackup, NULL},
    {"/validate/postgresrestores", "pgwarden.io", "PostgresRestore", "postgresrestores", NULL, pgw_validate_postgresrestore, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
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
