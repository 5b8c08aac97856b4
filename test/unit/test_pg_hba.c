/*
 * pg_hba line checker: valid lines of every connection type, syntax errors
 * PostgreSQL would refuse, and the lines our policy forbids.
 */
#include "helpers.h"
#include <check.h>
#include <string.h>

#include "validators/pg_hba.h"

static const struct {
    const char *line;
    enum pgw_hba_verdict verdict;
    const char *why; /* substring of *why, or of *warning when OK */
} rows[] = {
    {"local all all peer", PGW_HBA_OK, NULL},
    {"local all postgres scram-sha-256", PGW_HBA_OK, NULL},
    {"host all all 10.0.0.0/8 scram-sha-256", PGW_HBA_OK, NULL},
    {"hostssl app,reports +readers 192.168.1.0/24 scram-sha-256", PGW_HBA_OK, NULL},
    {"hostssl all all ::/0 cert clientcert=verify-full", PGW_HBA_OK, NULL},
    {"host replication standby 10.1.2.3 255.255.255.255 scram-sha-256", PGW_HBA_OK, NULL},
    {"host all all samenet scram-sha-256", PGW_HBA_OK, NULL},
    {"host all all .example.com scram-sha-256", PGW_HBA_OK, NULL},
    {"hostnossl all all all reject", PGW_HBA_OK, NULL},
    {"host all all 10.0.0.0/8 ldap ldapserver=ldap.example.com ldapprefix=\"cn=\" ldapsuffix=\", dc=example, dc=com\"", PGW_HBA_OK,
     NULL},
    {"host \"my db\" all 10.0.0.0/8 scram-sha-256", PGW_HBA_OK, NULL},
    {"# a comment", PGW_HBA_OK, NULL},
    {"", PGW_HBA_OK, NULL},
    {"host all all 10.0.0.0/8 scram-sha-256 # trailing comment", PGW_HBA_OK, NULL},
    {"host all all 10.0.0.0/8 md5", PGW_HBA_OK, "md5"},
    {"local all all trust", PGW_HBA_OK, "trust on a local line"},
    {"host all all 10.0.0.0/8 password", PGW_HBA_OK, "clear text"},
    {"host all all 0.0.0.0/0 trust", PGW_HBA_FORBIDDEN, "trust"},
    {"hostssl all all ::1/128 trust", PGW_HBA_FORBIDDEN, "trust"},
    {"include other.conf", PGW_HBA_FORBIDDEN, "include"},
    {"host @dbs all 10.0.0.0/8 scram-sha-256", PGW_HBA_FORBIDDEN, "@file"},
    {"hots all all 10.0.0.0/8 md5", PGW_HBA_INVALID, "invalid connection type"},
    {"host all all scram-sha-256", PGW_HBA_INVALID, NULL},
    {"local all all", PGW_HBA_INVALID, "local line needs"},
    {"host all all 10.0.0.0/33 scram-sha-256", PGW_HBA_INVALID, "invalid CIDR"},
    {"host all all 10.0.0.300/8 scram-sha-256", PGW_HBA_INVALID, "invalid CIDR"},
    {"host all all 10.0.0.1 scram-sha-256", PGW_HBA_INVALID, "netmask"},
    {"host all all bad_host! scram-sha-256", PGW_HBA_INVALID, "invalid address"},
    {"host all all 10.0.0.0/8 magic", PGW_HBA_INVALID, "invalid authentication method"},
    {"host all all 10.0.0.0/8 peer", PGW_HBA_INVALID, "peer"},
    {"local all all ident", PGW_HBA_INVALID, "ident"},
    {"host all all 10.0.0.0/8 cert", PGW_HBA_INVALID, "hostssl"},
    {"host all all 10.0.0.0/8 sspi", PGW_HBA_INVALID, "sspi"},
    {"host all all 10.0.0.0/8 ldap ldapserver", PGW_HBA_INVALID, "name=value"},
    {"host \"all all 10.0.0.0/8 md5", PGW_HBA_INVALID, "unterminated"},
    {"host all, all 10.0.0.0/8 md5", PGW_HBA_INVALID, NULL},
    {"host a,,b all 10.0.0.0/8 md5", PGW_HBA_INVALID, "empty entries"},
    {"host all all 10.0.0.0/8 md5\nhost all all 0.0.0.0/0 trust", PGW_HBA_INVALID, "single line"},
};

START_TEST(test_line)
{
    const char *why, *warning;
    char buf[256];
    enum pgw_hba_verdict v = pgw_pg_hba_check_line(rows[_i].line, &why, buf, sizeof(buf), &warning);
    ck_assert_msg(v == rows[_i].verdict, "row %d \"%s\": verdict %d, want %d (%s)", _i, rows[_i].line, v, rows[_i].verdict,
                  why ? why : "");
    if (rows[_i].why != NULL) {
        const char *text = v == PGW_HBA_OK ? warning : why;
        ck_assert_msg(text != NULL && strstr(text, rows[_i].why) != NULL, "row %d: \"%s\" lacks \"%s\"", _i, text ? text : "(null)",
                      rows[_i].why);
    } else if (v == PGW_HBA_OK) {
        ck_assert_msg(warning == NULL, "row %d: unexpected warning %s", _i, warning);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_hba");
    TCase *tc = tcase_create("lines");
    tcase_add_loop_test(tc, test_line, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
