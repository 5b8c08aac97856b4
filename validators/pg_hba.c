/*
 * pg_hba.conf line checker.
 *
 * Fields: type database user [address [mask]] method [options...]. Tokens are
 * separated by blanks, may be double-quoted, and lists are comma-separated.
 * Rules follow PostgreSQL's parse_hba_line(): `local` has no address, an IP
 * address without a CIDR suffix needs a mask field, peer is local-only, ident
 * and cert are host-only (cert on hostssl only), options are name=value.
 * Policy on top: `trust` on any host* line is forbidden (anyone who can reach
 * the port could log in as any role); include directives are forbidden because
 * the referenced files do not exist in the pod.
 */
#include "validators/pg_hba.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define MAX_TOKENS 64

struct st_hba_tokens_t {
    char *items[MAX_TOKENS];
    int quoted[MAX_TOKENS];
    int count;
};

static const char *const methods[] = {"trust", "reject", "scram-sha-256", "md5",  "password", "gss", "sspi",  "ident",
                                      "peer",  "ldap",   "radius",        "cert", "pam",      "bsd", "oauth", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; *list != NULL; ++list)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* Splits `line` (comment stripped) into blank-separated tokens. Returns -1 on an unterminated quote. */
static int tokenize(char *line, struct st_hba_tokens_t *t)
{
    char *r = line;
    t->count = 0;
    for (;;) {
        while (*r == ' ' || *r == '\t')
            ++r;
        if (*r == '\0' || *r == '#')
            return 0;
        if (t->count == MAX_TOKENS)
            return -2;
        char *start = r, *w = r;
        int quoted = 0, in_quote = 0;
        while (*r != '\0' && (in_quote || (*r != ' ' && *r != '\t' && *r != '#'))) {
            if (*r == '"') {
                in_quote = !in_quote;
                quoted = 1;
                ++r;
                continue;
            }
            *w++ = *r++;
        }
        if (in_quote)
            return -1;
        int at_end = *r == '\0' || *r == '#';
        int was_comment = *r == '#';
        *w = '\0';
        t->items[t->count] = start;
        t->quoted[t->count] = quoted;
        t->count++;
        if (at_end) {
            if (was_comment)
                *r = '\0';
            return 0;
        }
        ++r;
    }
}

/* Comma-separated list entries must be non-empty. */
static int valid_list(const char *token)
{
    size_t n = strlen(token);
    return n != 0 && token[0] != ',' && token[n - 1] != ',' && strstr(token, ",,") == NULL;
}

static int parse_ip(const char *s, int *family)
{
    unsigned char buf[16];
    if (inet_pton(AF_INET, s, buf) == 1) {
        *family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        *family = AF_INET6;
        return 1;
    }
    return 0;
}

static int valid_hostname(const char *s)
{
    if (*s == '.')
        ++s; /* ".example.com" matches a suffix */
    if (*s == '\0' || strlen(s) > 253)
        return 0;
    for (const char *p = s; *p; ++p)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return 0;
    return 1;
}

enum pgw_hba_verdict pgw_pg_hba_check_line(const char *line, const char **why, char *whybuf, unsigned whybuf_size,
                                           const char **warning)
{
    *why = NULL;
    *warning = NULL;
    char *copy = pgw_strdup(line);
    for (char *p = copy; *p; ++p)
        if (*p == '\n' || *p == '\r') {
            free(copy);
            *why = "must be a single line";
            return PGW_HBA_INVALID;
        }
    struct st_hba_tokens_t t;
    int rc = tokenize(copy, &t);
    enum pgw_hba_verdict verdict = PGW_HBA_OK;
    if (rc == -1) {
        *why = "unterminated quoted string";
        verdict = PGW_HBA_INVALID;
        goto done;
    }
    if (rc == -2) {
        *why = "too many fields";
        verdict = PGW_HBA_INVALID;
        goto done;
    }
    if (t.count == 0)
        goto done; /* blank or comment */

    const char *type = t.items[0];
    if (strcmp(type, "include") == 0 || strcmp(type, "include_if_exists") == 0 || strcmp(type, "include_dir") == 0) {
        *why = "include directives are not supported: list the lines in spec.postgres.pgHba";
        verdict = PGW_HBA_FORBIDDEN;
        goto done;
    }
    int local = strcmp(type, "local") == 0;
    int hostssl = strcmp(type, "hostssl") == 0;
    static const char *const host_types[] = {"host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc", NULL};
    if (!local && !in_list(type, host_types)) {
        snprintf(whybuf, whybuf_size,
                 "invalid connection type \"%s\": must be local, host, hostssl, hostnossl, hostgssenc or hostnogssenc", type);
        *why = whybuf;
        verdict = PGW_HBA_INVALID;
        goto done;
    }
    int need = local ? 4 : 5;
    if (t.count < need) {
        *why = local ? "a local line needs: local DATABASE USER METHOD [OPTIONS]"
                     : "a host line needs: TYPE DATABASE USER ADDRESS METHOD [OPTIONS]";
        verdict = PGW_HBA_INVALID;
        goto done;
    }
    if (!valid_list(t.items[1]) || !valid_list(t.items[2])) {
        *why = "database and user lists must not contain empty entries";
        verdict = PGW_HBA_INVALID;
        goto done;
    }
    if (t.items[1][0] == '@' || t.items[2][0] == '@') {
        *why = "@file references are not supported: the file does not exist in the pod";
        verdict = PGW_HBA_FORBIDDEN;
        goto done;
    }
    int next = 3;
    if (!local) {
        char *addr = t.items[3];
        int family = 0;
        next = 4;
        char *slash = strchr(addr, '/');
        if (!t.quoted[3] && (strcmp(addr, "all") == 0 || strcmp(addr, "samehost") == 0 || strcmp(addr, "samenet") == 0)) {
            /* keyword */
        } else if (slash != NULL) {
            *slash = '\0';
            char *end = NULL;
            long bits = strtol(slash + 1, &end, 10);
            if (!parse_ip(addr, &family) || end == slash + 1 || *end != '\0' || bits < 0 || bits > (family == AF_INET ? 32 : 128)) {
                snprintf(whybuf, whybuf_size, "invalid CIDR address \"%s/%s\"", addr, slash + 1);
                *why = whybuf;
                verdict = PGW_HBA_INVALID;
                goto done;
            }
        } else if (parse_ip(addr, &family)) {
            /* An IP address without a prefix length takes a separate mask field. */
            int mask_family = 0;
            if (t.count < 6 || !parse_ip(t.items[4], &mask_family) || mask_family != family) {
                snprintf(whybuf, whybuf_size, "IP address \"%s\" needs a CIDR suffix (/32) or a netmask field of the same family",
                         addr);
                *why = whybuf;
                verdict = PGW_HBA_INVALID;
                goto done;
            }
            next = 5;
        } else if (!valid_hostname(addr)) {
            snprintf(whybuf, whybuf_size, "invalid address \"%s\": must be a CIDR, a host name, all, samehost or samenet", addr);
            *why = whybuf;
            verdict = PGW_HBA_INVALID;
            goto done;
        }
    }
    if (next >= t.count) {
        *why = "missing authentication method";
        verdict = PGW_HBA_INVALID;
        goto done;
    }
    const char *method = t.items[next];
    if (!in_list(method, methods)) {
        snprintf(whybuf, whybuf_size, "invalid authentication method \"%s\"", method);
        *why = whybuf;
        verdict = PGW_HBA_INVALID;
        goto done;
    }
    if (strcmp(method, "peer") == 0 && !local) {
        *why = "peer authentication is only supported on local sockets";
        verdict = PGW_HBA_INVALID;
    } else if (strcmp(method, "ident") == 0 && local) {
        *why = "ident authentication is not supported on local sockets (use peer)";
        verdict = PGW_HBA_INVALID;
    } else if (strcmp(method, "cert") == 0 && !hostssl) {
        *why = "cert authentication is only supported on hostssl connections";
        verdict = PGW_HBA_INVALID;
    } else if (strcmp(method, "sspi") == 0) {
        *why = "sspi authentication is not supported on this platform";
        verdict = PGW_HBA_INVALID;
    } else if (strcmp(method, "trust") == 0 && !local) {
        *why = "trust authentication on host lines lets anyone who reaches the port log in: use scram-sha-256";
        verdict = PGW_HBA_FORBIDDEN;
    }
    if (verdict != PGW_HBA_OK)
        goto done;
    for (int i = next + 1; i < t.count; ++i) {
        char *eq = strchr(t.items[i], '=');
        if (eq == NULL || eq == t.items[i]) {
            snprintf(whybuf, whybuf_size, "authentication option \"%s\" must be name=value", t.items[i]);
            *why = whybuf;
            verdict = PGW_HBA_INVALID;
            goto done;
        }
    }
    if (strcmp(method, "trust") == 0)
        *warning = "trust on a local line lets any process in the pod connect as any role";
    else if (strcmp(method, "password") == 0 && !hostssl)
        *warning = "password authentication sends the password in clear text unless the connection uses hostssl";
    else if (strcmp(method, "md5") == 0)
        *warning = "md5 authentication is deprecated: prefer scram-sha-256";
done:
    free(copy);
    return verdict;
}
