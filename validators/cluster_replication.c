/*
 * spec.replication: Patroni's synchronous mode and HA timings.
 *
 * The bounds are Patroni's own minimums (it refuses a bootstrap.dcs below
 * them, and silently raises a dynamic value below them) and our maximums; the
 * cross rule loop_wait + 2*retry_timeout <= ttl is Patroni's too. Patroni
 * "fixes" a violation by shrinking loop_wait or retry_timeout behind the
 * user's back, so admission denies it instead: the spec then says what runs.
 * Timings left unset count with their defaults (specs/replication.h).
 */
#include <stdio.h>
#include <string.h>

#include "specs/replication.h"
#include "validators/cluster.h"
#include "validators/fields.h"

/* The value when present and valid, else the default (-1 when present but invalid: no cross check then). */
static long long timing(struct pgw_errors *errs, const json_t *replication, const char *key, long long def, long long min,
                        long long max)
{
    json_t *v = pgw_member(replication, key);
    if (v == NULL)
        return def;
    char path[64];
    snprintf(path, sizeof(path), "spec.replication.%s", key);
    return pgw_check_int_range(errs, path, v, min, max) ? json_integer_value(v) : -1;
}

static void validate_synchronous(const struct pgw_cluster_view *c, const json_t *replication, struct pgw_errors *errs)
{
    static const char *const modes[] = {"off", "on", "strict", NULL};
    json_t *v = pgw_member(replication, "synchronous");
    if (v == NULL)
        return;
    const char *mode = pgw_replication_synchronous(v);
    if (mode == NULL) {
        pgw_check_enum(errs, "spec.replication.synchronous", v, modes);
        return;
    }
    if (strcmp(mode, "off") == 0)
        return;
    /* instances absent means the default, 1; invalid is reported by its own rule. */
    json_t *iv = pgw_member(c->spec, "instances");
    long long instances = iv == NULL ? 1 : c->instances;
    if (instances == 0)
        return;
    if (instances < 2)
        pgw_errors_add(errs, PGW_ERR_INVALID, "spec.replication.synchronous", v,
                       "synchronous replication needs a replica: set spec.instances to 2 or more, or synchronous to off");
    else if (instances == 2 && strcmp(mode, "strict") == 0)
        pgw_errors_warn(errs, "spec.replication.synchronous: strict with 2 instances stops writes while the replica is down");
}

void pgw_cluster_validate_replication(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    static const char *const fields[] = {"synchronous", "ttl", "loopWait", "retryTimeout", NULL};
    json_t *replication = pgw_member(c->spec, "replication");
    if (pgw_expect_object(errs, "spec.replication", replication) != 1)
        return;
    pgw_warn_unknown_fields(errs, "spec.replication", replication, fields);
    validate_synchronous(c, replication, errs);

    long long ttl = timing(errs, replication, "ttl", PGW_REPLICATION_TTL_DEFAULT, PGW_REPLICATION_TTL_MIN, PGW_REPLICATION_TTL_MAX);
    long long loop_wait = timing(errs, replication, "loopWait", PGW_REPLICATION_LOOP_WAIT_DEFAULT, PGW_REPLICATION_LOOP_WAIT_MIN,
                                 PGW_REPLICATION_LOOP_WAIT_MAX);
    long long retry = timing(errs, replication, "retryTimeout", PGW_REPLICATION_RETRY_TIMEOUT_DEFAULT,
                             PGW_REPLICATION_RETRY_TIMEOUT_MIN, PGW_REPLICATION_RETRY_TIMEOUT_MAX);
    if (ttl < 0 || loop_wait < 0 || retry < 0)
        return;
    if (loop_wait + 2 * retry > ttl) {
        /* Reported on ttl: after defaulting all three are set, and the rule reads "... <= ttl". */
        pgw_errors_add(errs, PGW_ERR_INVALID, "spec.replication.ttl", pgw_member(replication, "ttl"),
                       "loopWait + 2 * retryTimeout (%lld + 2 * %lld = %lld) must not exceed ttl (%lld): a primary "
                       "cut off from the API must stop before its leader key expires",
                       loop_wait, retry, loop_wait + 2 * retry, ttl);
    }
}
