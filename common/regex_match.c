/*
 * Compiled-once regular expressions; see regex_match.h.
 */
#include <pthread.h>
#include <regex.h>
#include <stddef.h>

#include "common/regex_match.h"

#define MAX_PATTERNS 32 /* the literals in the validators and the YAML reader: about a dozen */

static struct {
    const char *pattern;
    regex_t re;
    int ok;
} compiled[MAX_PATTERNS];
static size_t ncompiled;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* The compiled pattern, NULL when it does not compile, or `scratch` filled for one use when the table is full. */
static const regex_t *lookup(const char *pattern, regex_t *scratch, int *temporary)
{
    const regex_t *re = NULL;
    *temporary = 0;
    pthread_mutex_lock(&lock);
    size_t i = 0;
    while (i != ncompiled && compiled[i].pattern != pattern)
        ++i;
    if (i == ncompiled && ncompiled != MAX_PATTERNS) {
        compiled[i].pattern = pattern;
        compiled[i].ok = regcomp(&compiled[i].re, pattern, REG_EXTENDED | REG_NOSUB) == 0;
        ++ncompiled;
    }
    if (i != ncompiled)
        re = compiled[i].ok ? &compiled[i].re : NULL;
    pthread_mutex_unlock(&lock);
    if (i == MAX_PATTERNS && regcomp(scratch, pattern, REG_EXTENDED | REG_NOSUB) == 0) {
        re = scratch;
        *temporary = 1;
    }
    return re;
}

int pgw_regex_match(const char *s, const char *pattern)
{
    regex_t scratch;
    int temporary;
    const regex_t *re = lookup(pattern, &scratch, &temporary);
    int ok = re != NULL && regexec(re, s, 0, NULL, 0) == 0; /* glibc's regexec may share a compiled pattern */
    if (temporary)
        regfree(&scratch);
    return ok;
}
