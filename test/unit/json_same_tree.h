/*
 * Strict tree equality for the json_read differential checks (test_json_read
 * and fuzz_json_read): json_equal plus the same type at every node (an
 * integer is never a real), bit-identical reals (-0.0 is not 0.0), the same
 * string and key bytes (NULs included) and the same key order.
 */
#ifndef PGW_TEST_JSON_SAME_TREE_H
#define PGW_TEST_JSON_SAME_TREE_H

#include <jansson.h>
#include <string.h>

static inline int pgw_json_same_tree(const json_t *a, const json_t *b)
{
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
        for (; ia != NULL && ib != NULL; ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
            size_t la = json_object_iter_key_len(ia);
            if (la != json_object_iter_key_len(ib) || memcmp(json_object_iter_key(ia), json_object_iter_key(ib), la) != 0)
                return 0;
            if (!pgw_json_same_tree(json_object_iter_value(ia), json_object_iter_value(ib)))
                return 0;
        }
        return ia == NULL && ib == NULL;
    }
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i != json_array_size(a); ++i)
            if (!pgw_json_same_tree(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_INTEGER:
        return json_integer_value(a) == json_integer_value(b);
    case JSON_REAL: {
        double x = json_real_value(a), y = json_real_value(b);
        return memcmp(&x, &y, sizeof(x)) == 0;
    }
    default:
        return json_equal(a, b); /* true, false, null */
    }
}

#endif
