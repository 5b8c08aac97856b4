/*
 * api/openapi.json (as built into the binary) against the router's table:
 * every documented route and method is in the document with its path
 * parameters, and the document lists no path or method the router lacks.
 */
#include "helpers.h"

#include <ctype.h>

#include "api/assets.h"
#include "api/router.h"

static json_t *document(void)
{
    const struct pgw_asset *a = pgw_asset_find("api/openapi.json");
    ck_assert_msg(a != NULL, "api/openapi.json is not built in");
    json_error_t e;
    json_t *doc = json_loadb((const char *)a->data, a->len, JSON_REJECT_DUPLICATES, &e);
    ck_assert_msg(doc != NULL, "api/openapi.json: %s (line %d)", e.text, e.line);
    return doc;
}

/* "/" + the route's pattern: the key of its path in the document. */
static void doc_path(const struct pgw_api_route *r, char *buf, size_t size)
{
    snprintf(buf, size, "/%s", r->pattern);
}

static void lower(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in[i] != '\0' && i + 1 < size; ++i)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

/* 1 when op (or its path item) declares the path parameter `name`. */
static int declares(const json_t *item, const json_t *op, const char *name)
{
    const json_t *lists[] = {json_object_get(op, "parameters"), json_object_get(item, "parameters")};
    for (size_t l = 0; l != 2; ++l) {
        size_t i;
        json_t *p;
        json_array_foreach(lists[l], i, p)
        {
            const char *n = json_string_value(json_object_get(p, "name")), *in = json_string_value(json_object_get(p, "in"));
            if (n != NULL && in != NULL && strcmp(n, name) == 0 && strcmp(in, "path") == 0 &&
                json_is_true(json_object_get(p, "required")))
                return 1;
        }
    }
    return 0;
}

START_TEST(test_every_route_documented)
{
    json_t *doc = document();
    ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    const json_t *paths = json_object_get(doc, "paths");
    size_t documented = 0;
    for (size_t i = 0; i != pgw_api_route_count; ++i) {
        const struct pgw_api_route *r = &pgw_api_routes[i];
        if (!r->openapi)
            continue;
        ++documented;
        char path[256];
        doc_path(r, path, sizeof(path));
        const json_t *item = json_object_get(paths, path);
        ck_assert_msg(item != NULL, "route %s is missing from api/openapi.json", path);
        for (unsigned bit = 1; bit <= PGW_API_DELETE; bit <<= 1) {
            if ((r->methods & bit) == 0)
                continue;
            char name[16], method[16];
            pgw_api_methods_text(bit, name, sizeof(name));
            lower(name, method, sizeof(method));
            const json_t *op = json_object_get(item, method);
            ck_assert_msg(op != NULL, "%s %s is missing from api/openapi.json", name, path);
            ck_assert_msg(json_object_size(json_object_get(op, "responses")) > 0, "%s %s: no responses", name, path);
            ck_assert_msg(json_is_string(json_object_get(op, "summary")), "%s %s: no summary", name, path);
            /* Routes without a session say so (security: []); the others inherit the document's. */
            const json_t *security = json_object_get(op, "security");
            ck_assert_msg(r->auth ? security == NULL : (json_is_array(security) && json_array_size(security) == 0),
                          "%s %s: security does not say auth=%d", name, path, r->auth);
            for (const char *p = strchr(r->pattern, '{'); p != NULL; p = strchr(p + 1, '{')) {
                char param[32];
                size_t n = (size_t)(strchr(p, '}') - p - 1);
                snprintf(param, sizeof(param), "%.*s", (int)n, p + 1);
                ck_assert_msg(declares(item, op, param), "%s %s: path parameter %s not declared", name, path, param);
            }
        }
    }
    ck_assert_uint_gt(documented, 10);
    json_decref(doc);
}
END_TEST

START_TEST(test_nothing_undocumented_by_the_router)
{
    json_t *doc = document();
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        const struct pgw_api_route *route = NULL;
        for (size_t i = 0; i != pgw_api_route_count && route == NULL; ++i) {
            char p[256];
            doc_path(&pgw_api_routes[i], p, sizeof(p));
            if (pgw_api_routes[i].openapi && strcmp(p, path) == 0)
                route = &pgw_api_routes[i];
        }
        ck_assert_msg(route != NULL, "api/openapi.json lists %s, which the router lacks", path);
        const char *key;
        json_t *op;
        json_object_foreach(item, key, op)
        {
            if (strcmp(key, "parameters") == 0 || strcmp(key, "summary") == 0 || strcmp(key, "description") == 0)
                continue;
            char upper[16];
            size_t n = 0;
            for (; key[n] != '\0' && n + 1 < sizeof(upper); ++n)
                upper[n] = (char)toupper((unsigned char)key[n]);
            upper[n] = '\0';
            unsigned bit = pgw_api_method_bit(upper, n);
            ck_assert_msg(bit != 0 && (route->methods & bit) != 0, "api/openapi.json lists %s %s, which the router lacks", upper,
                          path);
        }
    }
    json_decref(doc);
}
END_TEST

static Suite *openapi_suite(void)
{
    Suite *s = suite_create("api_openapi");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_route_documented);
    tcase_add_test(tc, test_nothing_undocumented_by_the_router);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(openapi_suite());
}
