/*
 * Quoting for SQL built from spec values.
 *
 * Identifiers are always quoted ("analyst", never bare): a quoted name is
 * never a keyword and keeps its case, so one rule covers every name.
 *
 * Literals: with standard_conforming_strings on (PostgreSQL's default since
 * 9.1; pgwarden never turns it off and the server reports it at startup) a
 * backslash in '...' is an ordinary character and only ' needs doubling.
 * Rather than trust that setting, a text holding a backslash gets the
 * escape-string form E'...' with both ' and \ doubled, which reads the same
 * under either setting; a text without one is a plain '...'. Nothing is
 * refused: any C string (no NUL by construction) has a literal. Invalid UTF-8
 * is left for the server to reject (client_encoding is UTF8).
 */
#include "controller/pg/pgquote.h"

#include <string.h>

#include "common/xalloc.h"

/* `text` between `quote`s, each `quote` (and each backslash when `backslashes`) doubled. */
static char *quote_with(const char *text, char quote, int backslashes, const char *prefix)
{
    size_t n = strlen(prefix) + 2 + 1;
    for (const char *p = text; *p; p++)
        n += (*p == quote || (backslashes && *p == '\\')) ? 2 : 1;
    char *out = pgw_malloc(n), *o = out;
    for (const char *p = prefix; *p; p++)
        *o++ = *p;
    *o++ = quote;
    for (const char *p = text; *p; p++) {
        if (*p == quote || (backslashes && *p == '\\'))
            *o++ = *p;
        *o++ = *p;
    }
    *o++ = quote;
    *o = '\0';
    return out;
}

char *pgw_pg_quote_ident(const char *name)
{
    if (name == NULL)
        return NULL;
    return quote_with(name, '"', 0, "");
}

char *pgw_pg_quote_literal(const char *text)
{
    if (text == NULL)
        return NULL;
    if (strchr(text, '\\') != NULL)
        return quote_with(text, '\'', 1, "E");
    return quote_with(text, '\'', 0, "");
}
