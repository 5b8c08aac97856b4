/*
 * common/read_all.c: whole streams, the size cap and read errors.
 */
#include <errno.h>

#include "helpers.h"

#include "common/read_all.h"

/* A temporary stream holding n bytes of a repeating pattern. */
static FILE *stream_of(size_t n)
{
    FILE *fp = tmpfile();
    ck_assert_ptr_nonnull(fp);
    for (size_t i = 0; i != n; ++i)
        fputc('a' + (int)(i % 26), fp);
    rewind(fp);
    return fp;
}

static const struct {
    size_t size, max;
    int capped; /* 1: *len must exceed max */
} rows[] = {
    {0, 0, 0}, {1, 0, 0}, {65535, 0, 0}, {65536, 0, 0}, {300000, 0, 0}, {100, 100, 0}, {101, 100, 1}, {300000, 70000, 1},
};

START_TEST(reads_everything_or_reports_the_cap)
{
    FILE *fp = stream_of(rows[_i].size);
    size_t len = 12345;
    char *text = pgw_read_all(fp, rows[_i].max, &len);
    fclose(fp);
    ck_assert_ptr_nonnull(text);
    if (rows[_i].capped) {
        ck_assert_uint_gt(len, rows[_i].max);
        ck_assert_uint_le(len, rows[_i].size);
    } else {
        ck_assert_uint_eq(len, rows[_i].size);
    }
    ck_assert_int_eq(text[len], '\0');
    for (size_t i = 0; i != len; ++i)
        ck_assert_msg(text[i] == 'a' + (int)(i % 26), "byte %zu", i);
    free(text);
}
END_TEST

START_TEST(read_error_is_null_with_errno)
{
    FILE *fp = fopen(".", "rb"); /* a directory opens but cannot be read */
    ck_assert_ptr_nonnull(fp);
    size_t len = 0;
    errno = 0;
    char *text = pgw_read_all(fp, 0, &len);
    int e = errno;
    fclose(fp);
    ck_assert_ptr_null(text);
    ck_assert_int_eq(e, EISDIR);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("read_all");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, reads_everything_or_reports_the_cap, 0, sizeof(rows) / sizeof(rows[0]));
    tcase_add_test(tc, read_error_is_null_with_errno);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
