/*
 * `pgbackrest info --output=json` → PostgresBackup status (controller/decide/backup_info.c),
 * on real output: test/fixtures/pgbackrest/info.json was written by pgBackRest
 * 2.45 in test/integration/test_backup_pitr.py (full, diff, incr, full).
 */
#include "helpers.h"

#include "controller/decide/backup_info.h"

static char *fixture(size_t *len)
{
    const char *src = getenv("PGW_SOURCE_DIR");
    char *path = pgw_asprintf("%s/test/fixtures/pgbackrest/info.json", src ? src : "../..");
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    free(path);
    char *buf = pgw_malloc(1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* {label or NULL for the newest, type, lsnStart, lsnStop, sizeBytes, started, completed} as in the fixture. */
static const struct {
    const char *label;
    const char *type, *lsn_start, *lsn_stop;
    long long size;
    const char *started, *completed;
} rows[] = {
    {"20261121-152229F", "full", "0/2000028", "0/2000100", 2824673, "2026-11-21T15:22:29Z", "2026-11-21T15:22:32Z"},
    {"20261121-152229F_20261121-152248D", "diff", "0/5000028", "0/5000100", 49909, "2026-11-21T15:22:48Z", "2026-11-21T15:22:50Z"},
    {"20261121-152229F_20261121-152251I", "incr", "0/7000028", "0/7000100", 4572, "2026-11-21T15:22:51Z", "2026-11-21T15:22:52Z"},
    {NULL, "full", "0/8000028", "0/9000050", 2828538, "2026-11-21T15:22:53Z", "2026-11-21T15:22:57Z"},
};

START_TEST(status_from_real_output)
{
    size_t len;
    char *text = fixture(&len);
    struct pgw_backup_info info;
    char *err = NULL;
    ck_assert_msg(pgw_backup_info_parse(text, len, "db", rows[_i].label, &info, &err) == 0, "%s", err ? err : "");
    json_t *s = pgw_backup_info_status(&info);
    if (rows[_i].label != NULL)
        ck_assert_str_eq(json_string_value(json_object_get(s, "backupLabel")), rows[_i].label);
    else
        ck_assert_str_eq(json_string_value(json_object_get(s, "backupLabel")), "20261121-152253F");
    ck_assert_str_eq(json_string_value(json_object_get(s, "type")), rows[_i].type);
    ck_assert_str_eq(json_string_value(json_object_get(s, "lsnStart")), rows[_i].lsn_start);
    ck_assert_str_eq(json_string_value(json_object_get(s, "lsnStop")), rows[_i].lsn_stop);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "sizeBytes")), rows[_i].size);
    ck_assert_str_eq(json_string_value(json_object_get(s, "startedAt")), rows[_i].started);
    ck_assert_str_eq(json_string_value(json_object_get(s, "completedAt")), rows[_i].completed);
    ck_assert_int_eq(info.error, 0);
    json_decref(s);
    pgw_backup_info_dispose(&info);
    free(text);
}
END_TEST

START_TEST(count_and_missing)
{
    size_t len;
    char *text = fixture(&len);
    ck_assert_int_eq(pgw_backup_info_count(text, len, "db"), 4);
    ck_assert_int_eq(pgw_backup_info_count(text, len, "other"), 0);
    struct pgw_backup_info info;
    char *err = NULL;
    ck_assert_int_eq(pgw_backup_info_parse(text, len, "db", "20990101-000000F", &info, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "20990101-000000F"));
    free(err);
    ck_assert_int_eq(pgw_backup_info_parse(text, len, "other", NULL, &info, &err), -1);
    free(err);
    free(text);
}
END_TEST

/* Bad input never crashes and always explains: {input, substring of the error}. */
static const struct {
    const char *input;
    const char *why;
} bad[] = {
    {"", "not JSON"},
    {"{", "not JSON"},
    {"{}", "not a list"},
    {"[]", "no backup"},
    {"[{\"name\":\"db\",\"backup\":{}}]", "no backup"},
    {"[{\"name\":\"db\",\"name\":\"x\"}]", "not JSON"},
    {"[{\"name\":\"db\",\"backup\":[{\"label\":\"L\",\"type\":\"full\"}]}]", "lacks"},
    {"[{\"name\":\"db\",\"backup\":[{\"label\":\"L\",\"type\":\"full\",\"lsn\":{\"start\":\"0/1\",\"stop\":\"0/2\"},"
     "\"timestamp\":{\"start\":\"x\",\"stop\":2}}]}]",
     "lacks"},
    {"[{\"name\":\"db\",\"backup\":[{\"label\":5}]}]", "no backup"},
};

START_TEST(bad_input)
{
    struct pgw_backup_info info;
    char *err = NULL;
    ck_assert_int_eq(pgw_backup_info_parse(bad[_i].input, strlen(bad[_i].input), "db", NULL, &info, &err), -1);
    ck_assert_msg(err != NULL && strstr(err, bad[_i].why) != NULL, "case %d: %s", _i, err ? err : "(none)");
    ck_assert_ptr_null(info.label);
    free(err);
}
END_TEST

START_TEST(minimal_valid_entry)
{
    const char *text = "[{\"name\":\"db\",\"backup\":[{\"label\":\"L\",\"type\":\"incr\",\"lsn\":{\"start\":\"0/1\","
                       "\"stop\":\"0/2\"},\"timestamp\":{\"start\":1,\"stop\":2},\"error\":true,\"new\":1}]}]";
    struct pgw_backup_info info;
    char *err = NULL;
    ck_assert_int_eq(pgw_backup_info_parse(text, strlen(text), "db", NULL, &info, &err), 0);
    ck_assert_int_eq(info.error, 1);
    ck_assert_int_eq(info.size_bytes, -1);
    json_t *s = pgw_backup_info_status(&info);
    ck_assert_ptr_null(json_object_get(s, "sizeBytes")); /* unknown size is left out, not reported as 0 */
    ck_assert_str_eq(json_string_value(json_object_get(s, "startedAt")), "1970-01-01T00:00:01Z");
    json_decref(s);
    pgw_backup_info_dispose(&info);
}
END_TEST

/* The Job log: pgBackRest's progress lines, then the info JSON as the last '[' line. */
static const struct {
    const char *log;
    const char *expected; /* NULL: none */
} logs[] = {
    {"2026 INFO: backup command begin\n2026 INFO: backup command end\n[{\"name\":\"db\"}]\n", "[{\"name\":\"db\"}]"},
    {"[old]\nP00 INFO: x\n[new]", "[new]"},
    {"P00 INFO: backup failed\n", NULL},
    {"", NULL},
};

START_TEST(info_from_log)
{
    size_t len;
    const char *got = pgw_backup_info_from_log(logs[_i].log, &len);
    if (logs[_i].expected == NULL) {
        ck_assert_ptr_null(got);
    } else {
        ck_assert_ptr_nonnull(got);
        ck_assert_int_eq(len, strlen(logs[_i].expected));
        ck_assert(strncmp(got, logs[_i].expected, len) == 0);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backup_info");
    TCase *tc = tcase_create("backup_info");
    tcase_add_loop_test(tc, status_from_real_output, 0, sizeof(rows) / sizeof(rows[0]));
    tcase_add_test(tc, count_and_missing);
    tcase_add_loop_test(tc, bad_input, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, minimal_valid_entry);
    tcase_add_loop_test(tc, info_from_log, 0, sizeof(logs) / sizeof(logs[0]));
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
