/*
 * The API's answers and request bodies: Status bodies, the security headers
 * of the contract, the Kubernetes API's answers passed on, the 8 MiB cap and
 * the JSON nesting limit (the webhook's, common/json_read.h).
 */
#include "helpers.h"

#include "api/http.h"
#include "controller/kube/kclient.h"
#include "webhook/server.h"

static json_t *body_of(const struct pgw_api_response *r)
{
    json_error_t e;
    json_t *v = json_loadb(r->body, r->len, 0, &e);
    ck_assert_msg(v != NULL, "not JSON: %.*s", (int)r->len, r->body);
    return v;
}

static const struct {
    int status;
    const char *reason, *phrase;
} statuses[] = {
    {400, "BadRequest", "Bad Request"},
    {401, "Unauthorized", "Unauthorized"},
    {403, "Forbidden", "Forbidden"},
    {404, "NotFound", "Not Found"},
    {405, "MethodNotAllowed", "Method Not Allowed"},
    {409, "Conflict", "Conflict"},
    {413, "RequestEntityTooLarge", "Payload Too Large"},
    {422, "Invalid", "Unprocessable Entity"},
    {503, "ServiceUnavailable", "Service Unavailable"},
    {599, "InternalError", "Unknown"},
};

START_TEST(test_status_body)
{
    struct pgw_api_response r = {0};
    pgw_api_response_status(&r, statuses[_i].status, "it \"failed\"");
    ck_assert_int_eq(r.status, statuses[_i].status);
    ck_assert_ptr_null(r.content_type);
    json_t *v = body_of(&r);
    ck_assert_str_eq(json_string_value(json_object_get(v, "kind")), "Status");
    ck_assert_str_eq(json_string_value(json_object_get(v, "apiVersion")), "v1");
    ck_assert_str_eq(json_string_value(json_object_get(v, "status")), "Failure");
    ck_assert_str_eq(json_string_value(json_object_get(v, "message")), "it \"failed\"");
    ck_assert_str_eq(json_string_value(json_object_get(v, "reason")), statuses[_i].reason);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "code")), statuses[_i].status);
    ck_assert_str_eq(pgw_api_reason_phrase(statuses[_i].status), statuses[_i].phrase);
    json_decref(v);
    pgw_api_response_dispose(&r);
}
END_TEST

START_TEST(test_security_headers)
{
    static const struct pgw_api_header want[] = {
        {"content-security-policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                                    "form-action 'self'"},
        {"x-content-type-options", "nosniff"},
        {"referrer-policy", "no-referrer"},
        {"x-frame-options", "DENY"},
    };
    size_t n = 0;
    while (pgw_api_security_headers[n].name != NULL)
        ++n;
    ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i != n; ++i) {
        ck_assert_str_eq(pgw_api_security_headers[i].name, want[i].name);
        ck_assert_str_eq(pgw_api_security_headers[i].value, want[i].value);
    }
    ck_assert_str_eq(PGW_API_CACHE_API, "no-store");
    ck_assert_str_eq(PGW_API_CACHE_UI, "no-cache");
}
END_TEST

START_TEST(test_kresult_passed_on)
{
    struct pgw_api_response r = {0};
    /* A Status from the apiserver keeps its code and message (an admission denial reads as kubectl shows it). */
    struct pgw_kresult k = {.outcome = PGW_K_HTTP_ERROR, .http_status = 422};
    k.body = q("{'kind':'Status','apiVersion':'v1','status':'Failure','message':'spec.instances: Invalid value: 0',"
               "'reason':'Invalid','code':422}");
    pgw_api_response_kresult(&r, &k);
    ck_assert_int_eq(r.status, 422);
    json_t *v = body_of(&r);
    ck_assert(json_equal(v, k.body));
    json_decref(v);
    json_decref(k.body);

    k = (struct pgw_kresult){
        .outcome = PGW_K_OK, .http_status = 201, .body = q("{'kind':'PostgresBackup','metadata':{'name':'b'}}")};
    pgw_api_response_kresult(&r, &k);
    ck_assert_int_eq(r.status, 201);
    v = body_of(&r);
    ck_assert(json_equal(v, k.body));
    json_decref(v);
    json_decref(k.body);

    k = (struct pgw_kresult){.outcome = PGW_K_TRANSPORT, .message = "connection refused"};
    pgw_api_response_kresult(&r, &k);
    ck_assert_int_eq(r.status, 503);
    v = body_of(&r);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(v, "message")), "connection refused"));
    json_decref(v);

    k = (struct pgw_kresult){.outcome = PGW_K_HTTP_ERROR, .http_status = 403, .message = "no"};
    pgw_api_response_kresult(&r, &k);
    ck_assert_int_eq(r.status, 403);
    v = body_of(&r);
    ck_assert_str_eq(json_string_value(json_object_get(v, "reason")), "Forbidden");
    json_decref(v);
    pgw_api_response_dispose(&r);
}
END_TEST

/* A raw 2xx answer is sent byte for byte (spacing and key order kept); an error is a Status as above. */
START_TEST(test_raw_passed_on)
{
    struct pgw_api_response r = {0};
    struct pgw_kresult k = {.outcome = PGW_K_OK, .http_status = 200};
    const char *text = "{ \"kind\" : \"PostgresClusterList\", \"items\":[ ] }";
    pgw_api_response_raw(&r, &k, pgw_strdup(text), strlen(text));
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, strlen(text));
    ck_assert(memcmp(r.body, text, r.len) == 0);

    k = (struct pgw_kresult){.outcome = PGW_K_NOT_FOUND, .http_status = 404, .message = "gone"};
    pgw_api_response_raw(&r, &k, NULL, 0);
    ck_assert_int_eq(r.status, 404);
    json_t *v = body_of(&r);
    ck_assert_str_eq(json_string_value(json_object_get(v, "message")), "gone");
    json_decref(v);

    /* A refused identity never reached the Kubernetes API: not a 503 "did not answer". */
    k = (struct pgw_kresult){.outcome = PGW_K_HTTP_ERROR, .http_status = 0, .message = "control character in a header"};
    pgw_api_response_raw(&r, &k, NULL, 0);
    ck_assert_int_eq(r.status, 500);
    pgw_api_response_dispose(&r);
}
END_TEST

START_TEST(test_read_json)
{
    struct pgw_api_response r = {0};
    json_t *v = pgw_api_read_json("{\"a\":1}", 7, 0, &r);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
    ck_assert_ptr_null(r.body);

    v = pgw_api_read_json(NULL, 0, 1, &r);
    ck_assert(json_is_object(v) && json_object_size(v) == 0);
    json_decref(v);

    static const char *const bad[] = {"", "[1]", "\"s\"", "{\"a\":1,\"a\":2}", "{", "{\"a\":1} x"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        ck_assert_ptr_null(pgw_api_read_json(bad[i], strlen(bad[i]), 0, &r));
        ck_assert_msg(r.status == 400, "%s: %d", bad[i], r.status);
    }
    pgw_api_response_dispose(&r);
}
END_TEST

/* The cap is the webhook's constant: one byte over answers 413 before any parsing. */
START_TEST(test_body_cap)
{
    ck_assert_uint_eq(PGW_MAX_BODY_BYTES, 8u << 20);
    size_t len = PGW_MAX_BODY_BYTES + 1;
    char *big = pgw_calloc(1, len + 1);
    memset(big, ' ', len);
    big[0] = '{';
    big[len - 1] = '}';
    struct pgw_api_response r = {0};
    ck_assert_ptr_null(pgw_api_read_json(big, len, 0, &r));
    ck_assert_int_eq(r.status, 413);
    /* Exactly the cap is read. */
    big[len - 2] = '}';
    json_t *v = pgw_api_read_json(big, len - 1, 0, &r);
    ck_assert_ptr_nonnull(v);
    json_decref(v);
    free(big);
    pgw_api_response_dispose(&r);
}
END_TEST

/* Nesting: jansson's limit (JSON_PARSER_MAX_DEPTH, 2048) holds; one level more is a 400. */
START_TEST(test_depth_limit)
{
    struct pgw_api_response r = {0};
    for (int depth = 2047; depth <= 2049; ++depth) {
        /* {"a":[[...]]} with depth values nested */
        size_t n = (size_t)depth - 1;
        char *text = pgw_calloc(1, 2 * n + 16);
        strcpy(text, "{\"a\":");
        memset(text + 5, '[', n);
        memset(text + 5 + n, ']', n);
        strcpy(text + 5 + 2 * n, "}");
        json_t *v = pgw_api_read_json(text, strlen(text), 0, &r);
        if (depth <= 2048)
            ck_assert_msg(v != NULL, "depth %d refused", depth);
        else
            ck_assert_msg(v == NULL && r.status == 400, "depth %d read", depth);
        json_decref(v);
        free(text);
    }
    pgw_api_response_dispose(&r);
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("api_http");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_status_body, 0, sizeof(statuses) / sizeof(statuses[0]));
    tcase_add_test(tc, test_security_headers);
    tcase_add_test(tc, test_kresult_passed_on);
    tcase_add_test(tc, test_raw_passed_on);
    tcase_add_test(tc, test_read_json);
    tcase_add_test(tc, test_body_cap);
    tcase_add_test(tc, test_depth_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(http_suite());
}
