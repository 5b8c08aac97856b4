/*
 * Whole-stream reads; see read_all.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/read_all.h"
#include "common/xalloc.h"

char *pgw_read_all(FILE *fp, size_t max, size_t *len)
{
    size_t cap = 65536, used = 0;
    char *text = pgw_malloc(cap + 1);
    for (;;) {
        if (used == cap) {
            cap *= 2;
            text = pgw_realloc(text, cap + 1);
        }
        size_t n = fread(text + used, 1, cap - used, fp);
        used += n;
        if (n == 0 || (max != 0 && used > max))
            break;
    }
    if (ferror(fp)) {
        int saved = errno;
        free(text);
        errno = saved;
        return NULL;
    }
    text[used] = '\0';
    *len = used;
    return text;
}
