/*
 * Quoting for the SQL the controller builds from spec values (role and
 * database names, passwords' verifiers, dates). Names are validated by
 * admission already; quoting is the second fence, never the only one.
 */
#ifndef PGW_CONTROLLER_PG_PGQUOTE_H
#define PGW_CONTROLLER_PG_PGQUOTE_H

/* "na""me": an identifier, double quotes doubled. Caller frees. */
char *pgw_pg_quote_ident(const char *name);
/* 'it''s': a standard string literal, single quotes doubled, backslashes kept as they are.
 * Correct only with standard_conforming_strings = on (PostgreSQL's default since 9.1, and
 * pgwarden never changes it); a text holding a backslash gets the E'' form with backslashes
 * doubled, which means the same under either setting. Caller frees. */
char *pgw_pg_quote_literal(const char *text);

#endif
