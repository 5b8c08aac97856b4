/*
 * POSIX extended regular expressions matched against a string, each pattern
 * compiled once for the life of the process. Compiling (and building the
 * matcher's tables on first use) costs far more than matching: done per call
 * it was half of validating a production cluster.
 */
#ifndef PGW_COMMON_REGEX_MATCH_H
#define PGW_COMMON_REGEX_MATCH_H

/*
 * 1 when `s` matches `pattern` (REG_EXTENDED, REG_NOSUB), 0 otherwise or when
 * the pattern does not compile. The cache is keyed by the pattern's address:
 * pass string literals or other storage that lives as long as the process.
 * Thread-safe.
 */
int pgw_regex_match(const char *s, const char *pattern);

#endif
