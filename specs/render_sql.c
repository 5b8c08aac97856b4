/*
 * Quoting for rendered SQL and ini text. Rendered text ends up executed by a
 * superuser or parsed by a daemon, so anything not provably safe is refused
 * rather than escaped creatively.
 */
#include "specs/render_sql.h"

#include <string.h>

int pgw_sql_write_literal(FILE *fp, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; ++p)
        if (*p < 0x20 || *p == 0x7f)
            return -1;
    fputc('\'', fp);
    for (const char *p = s; *p; ++p) {
        if (*p == '\'')
            fputc('\'', fp);
        fputc(*p, fp);
    }
    fputc('\'', fp);
    return 0;
}

int pgw_sql_write_password(FILE *fp, const char *password, const char *psql_variable)
{
    if (password != NULL)
        return pgw_sql_write_literal(fp, password);
    fprintf(fp, ":'%s'", psql_variable);
    return 0;
}

int pgw_sql_plain_identifier(const char *s)
{
    if (s == NULL || !((*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (; *s; ++s)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}
