/*
 * Small helpers for rendering SQL and ini text safely. Shared by the
 * render_*.c files so quoting rules live in one place.
 */
#ifndef PGW_SPECS_RENDER_SQL_H
#define PGW_SPECS_RENDER_SQL_H

#include <stdio.h>

/* Writes `s` as a SQL string literal ('...' with quotes doubled; the project
 * requires standard_conforming_strings=on, PostgreSQL's default). Returns 0, or
 * -1 without writing when `s` holds a control character. */
int pgw_sql_write_literal(FILE *fp, const char *s);

/* 1 when `s` is a plain identifier ([a-z_][a-z0-9_]*), safe unquoted in SQL and ini keys. */
/*
 * Writes `password` as a literal, or, when it is NULL, the psql variable
 * reference :'psql_variable' so scripts can take passwords from the
 * environment (`psql -v name="$VAR"`) and keep them out of ConfigMaps.
 * Returns 0 or -1 like pgw_sql_write_literal.
 */
int pgw_sql_write_password(FILE *fp, const char *password, const char *psql_variable);

int pgw_sql_plain_identifier(const char *s);

#endif
