/*
 * Names of a cluster's instances (specs/operations.h).
 */
#include <string.h>

#include "specs/operations.h"

long long pgw_instance_ordinal(const char *cluster, const char *name)
{
    size_t n = cluster != NULL ? strlen(cluster) : 0;
    if (name == NULL || n == 0 || strncmp(name, cluster, n) != 0 || name[n] != '-')
        return -1;
    const char *digits = name + n + 1;
    /* "c-01" is not a name the StatefulSet makes; 16 instances at most, so 3 digits is plenty */
    if (digits[0] == '\0' || (digits[0] == '0' && digits[1] != '\0') || strlen(digits) > 3)
        return -1;
    long long ordinal = 0;
    for (const char *d = digits; *d != '\0'; ++d) {
        if (*d < '0' || *d > '9')
            return -1;
        ordinal = ordinal * 10 + (*d - '0');
    }
    return ordinal;
}
