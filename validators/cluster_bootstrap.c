/*
 * spec.bootstrap: how the first instance gets its data, exactly one of
 * initdb or restore. Immutability is checked in cluster_update.c.
 *
 * initdb names become SQL identifiers in the bootstrap script, so they are
 * held to the unquoted identifier form; the locale and encoding must agree,
 * as initdb itself refuses "en_US.UTF-8" with LATIN1.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/names.h"
#include "common/regex_match.h"
#include "validators/cluster.h"
#include "validators/fields.h"
#include "validators/restore_target.h"

/* PostgreSQL server encodings (pg_wchar.h), compared as PostgreSQL does: case and punctuation ignored. */
static const char *const encodings[] = {
    "SQL_ASCII",  "EUC_JP",     "EUC_CN",  "EUC_KR",  "EUC_TW",  "EUC_JIS_2004", "UTF8",    "MULE_INTERNAL", "LATIN1",
    "LATIN2",     "LATIN3",     "LATIN4",  "LATIN5",  "LATIN6",  "LATIN7",       "LATIN8",  "LATIN9",        "LATIN10",
    "WIN1256",    "WIN1258",    "WIN866",  "WIN874",  "KOI8R",   "WIN1251",      "WIN1252", "ISO_8859_5",    "ISO_8859_6",
    "ISO_8859_7", "ISO_8859_8", "WIN1250", "WIN1253", "WIN1254", "WIN1255",      "WIN1257", "KOI8U",         NULL,
};

static void squash(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 1 < size; ++s)
        if (isalnum((unsigned char)*s))
            out[n++] = (char)toupper((unsigned char)*s);
    out[n] = '\0';
}

/* Returns the canonical encoding name, or NULL. */
const char *pgw_cluster_find_encoding(const char *name)
{
    char want[64], have[64];
    squash(name, want, sizeof(want));
    for (const char *const *e = encodings; *e; ++e) {
        squash(*e, have, sizeof(have));
        if (strcmp(want, have) == 0)
            return *e;
    }
    return NULL;
}

static int check_identifier(struct pgw_errors *errs, const char *path, const json_t *v)
{
    if (!pgw_require_string(errs, path, v))
        return 0;
    const char *s = json_string_value(v);
    if (strlen(s) > 63) {
        pgw_errors_add(errs, PGW_ERR_TOO_LONG, path, v, "may not be more than 63 bytes");
        return 0;
    }
    if (!pgw_regex_match(s, "^[a-z_][a-z0-9_]*$")) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v,
                       "must be a lowercase SQL identifier: letters, digits or '_', not starting with a digit");
        return 0;
    }
    return 1;
}

static void check_initdb(const json_t *initdb, struct pgw_errors *errs)
{
    static const char base[] = "spec.bootstrap.initdb";
    static const char *const fields[] = {"database", "owner", "encoding", "locale", "dataChecksums", NULL};
    if (pgw_expect_object(errs, base, initdb) != 1)
        return;
    pgw_warn_unknown_fields(errs, base, initdb, fields);
    json_t *db = pgw_member(initdb, "database");
    if (db != NULL && check_identifier(errs, "spec.bootstrap.initdb.database", db)) {
        const char *s = json_string_value(db);
        if (strcmp(s, "postgres") == 0 || strcmp(s, "template0") == 0 || strcmp(s, "template1") == 0)
            pgw_errors_add(errs, PGW_ERR_INVALID, "spec.bootstrap.initdb.database", db,
                           "is created by initdb itself: choose an application database name");
    }
    json_t *owner = pgw_member(initdb, "owner");
    if (owner != NULL && check_identifier(errs, "spec.bootstrap.initdb.owner", owner)) {
        const char *s = json_string_value(owner);
        if (strcmp(s, "postgres") == 0 || strncmp(s, "pg_", 3) == 0 || strncmp(s, "pgwarden", 8) == 0)
            pgw_errors_add(errs, PGW_ERR_INVALID, "spec.bootstrap.initdb.owner", owner,
                           "is reserved (postgres, pg_* and pgwarden* roles belong to PostgreSQL and the operator)");
    }
    json_t *enc = pgw_member(initdb, "encoding");
    const char *encoding = NULL;
    if (enc != NULL && pgw_require_string(errs, "spec.bootstrap.initdb.encoding", enc)) {
        encoding = pgw_cluster_find_encoding(json_string_value(enc));
        if (encoding == NULL)
            pgw_errors_add(errs, PGW_ERR_NOT_SUPPORTED, "spec.bootstrap.initdb.encoding", enc,
                           "must be a PostgreSQL server encoding such as UTF8, LATIN1 or SQL_ASCII");
    }
    json_t *loc = pgw_member(initdb, "locale");
    if (loc != NULL && pgw_require_string(errs, "spec.bootstrap.initdb.locale", loc)) {
        const char *s = json_string_value(loc);
        if (!pgw_regex_match(s, "^[A-Za-z0-9_.@-]{1,64}$")) {
            pgw_errors_add(errs, PGW_ERR_INVALID, "spec.bootstrap.initdb.locale", loc,
                           "must be a locale name such as C, C.UTF-8 or en_US.UTF-8");
        } else if (encoding != NULL) {
            const char *dot = strchr(s, '.');
            const char *loc_enc = dot ? pgw_cluster_find_encoding(dot + 1) : NULL;
            if (loc_enc != NULL && strcmp(loc_enc, encoding) != 0)
                pgw_errors_add(errs, PGW_ERR_INVALID, "spec.bootstrap.initdb.locale", loc,
                               "uses encoding %s, which does not match spec.bootstrap.initdb.encoding (%s)", loc_enc, encoding);
        }
    }
    json_t *sums = pgw_member(initdb, "dataChecksums");
    if (pgw_expect_bool(errs, "spec.bootstrap.initdb.dataChecksums", sums) == 1 && json_is_false(sums))
        pgw_errors_warn(errs, "spec.bootstrap.initdb.dataChecksums is false: storage corruption will go undetected");
}

static void check_restore(const struct pgw_cluster_view *c, const json_t *restore, struct pgw_errors *errs)
{
    static const char base[] = "spec.bootstrap.restore";
    static const char *const fields[] = {"fromCluster", "backup", "target", NULL};
    if (pgw_expect_object(errs, base, restore) != 1)
        return;
    pgw_warn_unknown_fields(errs, base, restore, fields);
    json_t *from = pgw_member(restore, "fromCluster");
    pgw_check_cluster_name(errs, "spec.bootstrap.restore.fromCluster", from);
    json_t *backup = pgw_member(restore, "backup");
    if (backup != NULL)
        pgw_check_object_name(errs, "spec.bootstrap.restore.backup", backup);
    pgw_restore_target_validate(pgw_member(restore, "target"), "spec.bootstrap.restore.target", c->ctx, errs);
}

void pgw_cluster_validate_bootstrap(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    static const char *const fields[] = {"initdb", "restore", NULL};
    json_t *bootstrap = pgw_member(c->spec, "bootstrap");
    if (bootstrap == NULL)
        return; /* defaulted to initdb */
    if (pgw_expect_object(errs, "spec.bootstrap", bootstrap) != 1)
        return;
    pgw_warn_unknown_fields(errs, "spec.bootstrap", bootstrap, fields);
    json_t *initdb = pgw_member(bootstrap, "initdb"), *restore = pgw_member(bootstrap, "restore");
    if (initdb == NULL && restore == NULL)
        pgw_errors_add(errs, PGW_ERR_REQUIRED, "spec.bootstrap", NULL, "exactly one of initdb or restore is required");
    else if (initdb != NULL && restore != NULL)
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.bootstrap", NULL, "may specify only one of initdb or restore");
    if (initdb != NULL)
        check_initdb(initdb, errs);
    if (restore != NULL)
        check_restore(c, restore, errs);
}
