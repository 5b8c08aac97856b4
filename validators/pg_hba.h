/*
 * pg_hba.conf line syntax, as PostgreSQL's hba.c parses it, so a line we accept
 * does not stop the server from reloading its configuration.
 */
#ifndef PGW_VALIDATORS_PG_HBA_H
#define PGW_VALIDATORS_PG_HBA_H

enum pgw_hba_verdict {
    PGW_HBA_OK,        /* valid (comments and blank lines included) */
    PGW_HBA_INVALID,   /* syntax error: *why says what */
    PGW_HBA_FORBIDDEN, /* valid PostgreSQL but denied by policy (trust on host lines, include files) */
};

/*
 * Checks one line. *why (static or in `whybuf`) explains a non-OK verdict;
 * *warning (static, may stay NULL) flags a legal but risky line.
 */
enum pgw_hba_verdict pgw_pg_hba_check_line(const char *line, const char **why, char *whybuf, unsigned whybuf_size,
                                           const char **warning);

#endif
