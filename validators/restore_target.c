/*
 * Recovery target checks (see restore_target.h). A time in the future is
 * denied: PostgreSQL would replay everything and then wait for WAL that does
 * not exist yet, and pgBackRest's --target-action=promote would never fire.
 */
#include "validators/restore_target.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/lsn.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "validators/fields.h"

static const char *const kinds[] = {"time", "lsn", "xid", "name", "immediate", NULL};

void pgw_restore_target_validate(const json_t *target, const char *path, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    if (pgw_expect_object(errs, path, target) != 1)
        return;
    pgw_warn_unknown_fields(errs, path, target, kinds);
    char *set = pgw_strdup("");
    int count = 0;
    for (const char *const *k = kinds; *k != NULL; ++k) {
        json_t *v = pgw_member(target, *k);
        if (v == NULL || (strcmp(*k, "immediate") == 0 && json_is_false(v)))
            continue;
        char *next = pgw_asprintf("%s%s%s", set, count ? ", " : "", *k);
        free(set);
        set = next;
        ++count;
    }
    if (count > 1)
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, NULL,
                       "may specify at most one of time, lsn, xid, name or immediate (found %s)", set);
    free(set);

    char *p = pgw_path_child(path, "time");
    json_t *v = pgw_member(target, "time");
    if (v != NULL && pgw_require_string(errs, p, v)) {
        time_t t;
        const char *why = NULL;
        if (pgw_rfc3339_parse(json_string_value(v), &t, &why) != 0) {
            pgw_errors_add(errs, PGW_ERR_INVALID, p, v, "must be an RFC 3339 timestamp such as 2025-01-31T12:00:00Z (%s)",
                           why ? why : "invalid");
        } else if (ctx != NULL && ctx->now != 0 && t > ctx->now) {
            char now[32];
            pgw_rfc3339_format(ctx->now, now, sizeof(now));
            pgw_errors_add(errs, PGW_ERR_INVALID, p, v, "must not be in the future (now is %s)", now);
        }
    }
    free(p);

    p = pgw_path_child(path, "lsn");
    v = pgw_member(target, "lsn");
    if (v != NULL && pgw_require_string(errs, p, v)) {
        uint64_t lsn;
        const char *why = NULL;
        if (pgw_lsn_parse(json_string_value(v), &lsn, &why) != 0)
            pgw_errors_add(errs, PGW_ERR_INVALID, p, v, "must be an LSN such as 0/16B3748 (%s)", why ? why : "invalid");
    }
    free(p);

    p = pgw_path_child(path, "xid");
    v = pgw_member(target, "xid");
    if (pgw_expect_integer(errs, p, v) == 1 && json_integer_value(v) <= 0)
        pgw_errors_add(errs, PGW_ERR_INVALID, p, v, "must be a positive transaction ID");
    free(p);

    p = pgw_path_child(path, "name");
    v = pgw_member(target, "name");
    if (v != NULL && pgw_require_string(errs, p, v) && json_string_length(v) > 63)
        pgw_errors_add(errs, PGW_ERR_TOO_LONG, p, v, "may not be more than 63 bytes (a restore point name)");
    free(p);

    p = pgw_path_child(path, "immediate");
    v = pgw_member(target, "immediate");
    pgw_expect_bool(errs, p, v);
    free(p);
}
