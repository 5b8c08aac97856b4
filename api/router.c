/*
 * The route table and its matcher (see router.h). Paths are short and the
 * table small, so matching walks every route segment by segment; a path that
 * fits a route's pattern but not its method collects the route's methods for
 * the 405's Allow.
 */
#include "api/router.h"

#include <stdio.h>
#include <string.h>

#define NS_OBJ "api/v1/namespaces/{namespace}"
#define CLUSTER NS_OBJ "/postgresclusters/{name}"

const struct pgw_api_route pgw_api_routes[] = {
    {PGW_API_ROOT, PGW_API_GET, "", 0, 0},
    {PGW_API_ROOT, PGW_API_GET, "ui", 0, 0}, /* a typed address without its slash: the same redirect */
    {PGW_API_UI_INDEX, PGW_API_GET, "ui/", 0, 0},
    {PGW_API_UI_FILE, PGW_API_GET, "ui/{file}", 0, 0},
    {PGW_API_OPENAPI, PGW_API_GET, "api/v1/openapi.json", 0, 1},
    {PGW_API_LOGIN, PGW_API_POST, "api/v1/login", 0, 1},
    {PGW_API_LOGOUT, PGW_API_POST, "api/v1/logout", 1, 1},
    {PGW_API_WHOAMI, PGW_API_GET, "api/v1/whoami", 1, 1},
    {PGW_API_LIST_ALL, PGW_API_GET, "api/v1/{plural}", 1, 1},
    {PGW_API_COLLECTION, PGW_API_GET | PGW_API_POST, NS_OBJ "/{plural}", 1, 1},
    {PGW_API_OBJECT, PGW_API_GET | PGW_API_PUT | PGW_API_PATCH | PGW_API_DELETE, NS_OBJ "/{plural}/{name}", 1, 1},
    {PGW_API_DETAIL, PGW_API_GET, CLUSTER "/detail", 1, 1},
    {PGW_API_BACKUP, PGW_API_POST, CLUSTER "/backup", 1, 1},
    {PGW_API_RESTORE, PGW_API_POST, CLUSTER "/restore", 1, 1},
    {PGW_API_SWITCHOVER, PGW_API_POST, CLUSTER "/switchover", 1, 1},
    {PGW_API_RESTART, PGW_API_POST, CLUSTER "/restart", 1, 1},
};
const size_t pgw_api_route_count = sizeof(pgw_api_routes) / sizeof(pgw_api_routes[0]);

static const struct {
    unsigned bit;
    const char *name;
} methods[] = {
    {PGW_API_GET, "GET"}, {PGW_API_POST, "POST"}, {PGW_API_PUT, "PUT"}, {PGW_API_PATCH, "PATCH"}, {PGW_API_DELETE, "DELETE"},
};
#define METHODS (sizeof(methods) / sizeof(methods[0]))

unsigned pgw_api_method_bit(const char *method, size_t len)
{
    for (size_t i = 0; i != METHODS; ++i)
        if (strlen(methods[i].name) == len && memcmp(methods[i].name, method, len) == 0)
            return methods[i].bit;
    return 0;
}

const char *pgw_api_methods_text(unsigned set, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i != METHODS; ++i)
        if ((set & methods[i].bit) != 0 && used < size) {
            int n = snprintf(buf + used, size - used, "%s%s", used != 0 ? ", " : "", methods[i].name);
            used += n > 0 ? (size_t)n : 0;
        }
    return buf;
}

int pgw_api_plural_ok(const char *plural, size_t len)
{
    static const char *const plurals[] = {"postgresclusters", "postgresbackups", "postgresrestores"};
    for (size_t i = 0; i != sizeof(plurals) / sizeof(plurals[0]); ++i)
        if (strlen(plurals[i]) == len && memcmp(plurals[i], plural, len) == 0)
            return 1;
    return 0;
}

/* A namespace or object name: a DNS subdomain's characters, at most 253. */
static int name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 253 || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i != len; ++i)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

/* A UI file name: letters, digits, '-', '_' and one or more dots, no leading dot. */
static int file_ok(const char *s, size_t len)
{
    if (len == 0 || len > 128 || s[0] == '.')
        return 0;
    for (size_t i = 0; i != len; ++i)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

/* Matches `path` (after its leading '/') against one pattern, filling the parameters of m. */
static int pattern_match(const char *pattern, const char *path, size_t len, struct pgw_api_match *m)
{
    struct pgw_api_match got = {0};
    const char *p = pattern, *s = path, *end = path + len;
    for (;;) {
        const char *pseg_end = strchr(p, '/');
        size_t plen = pseg_end != NULL ? (size_t)(pseg_end - p) : strlen(p);
        const char *sseg_end = memchr(s, '/', (size_t)(end - s));
        size_t slen = sseg_end != NULL ? (size_t)(sseg_end - s) : (size_t)(end - s);
        if (plen > 2 && p[0] == '{') {
            struct pgw_api_slice v = {s, slen};
            if (strncmp(p, "{namespace}", plen) == 0 && name_ok(s, slen))
                got.ns = v;
            else if (strncmp(p, "{name}", plen) == 0 && name_ok(s, slen))
                got.name = v;
            else if (strncmp(p, "{plural}", plen) == 0 && pgw_api_plural_ok(s, slen))
                got.plural = v;
            else if (strncmp(p, "{file}", plen) == 0 && file_ok(s, slen))
                got.file = v;
            else
                return 0;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        if ((pseg_end == NULL) != (sseg_end == NULL))
            return 0;
        if (pseg_end == NULL)
            break;
        p = pseg_end + 1;
        s = sseg_end + 1;
    }
    got.route = m->route;
    got.allowed = m->allowed;
    *m = got;
    return 1;
}

void pgw_api_route_match(const char *method, size_t method_len, const char *path, size_t path_len, struct pgw_api_match *m)
{
    memset(m, 0, sizeof(*m));
    if (path_len == 0 || path[0] != '/')
        return;
    unsigned bit = pgw_api_method_bit(method, method_len);
    for (size_t i = 0; i != pgw_api_route_count; ++i) {
        const struct pgw_api_route *r = &pgw_api_routes[i];
        struct pgw_api_match candidate = {0};
        if (!pattern_match(r->pattern, path + 1, path_len - 1, &candidate))
            continue;
        m->allowed |= r->methods;
        if ((r->methods & bit) != 0 && m->route == NULL) {
            unsigned allowed = m->allowed;
            *m = candidate;
            m->route = r;
            m->allowed = allowed;
        }
    }
}
