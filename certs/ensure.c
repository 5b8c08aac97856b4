/*
 * pgw_certs_ensure: keep what is good, replace what is not.
 *
 * The CA is kept as long as it is valid and not in the last third of its life,
 * because its certificate is the caBundle of our webhook configurations: a new
 * CA means re-patching them, and until then the apiserver rejects us. The
 * serving certificate is cheap to reissue and is replaced on any doubt
 * (missing, unparsable, wrong key, other CA, missing names, renewal due).
 * Replacing the CA always reissues the serving certificate with it.
 */
#include <stdlib.h>

#include "certs/internal.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/xalloc.h"

/* Loads dir/crt_name and dir/key_name; on failure returns NULL cert and key and a malloc'd *why. */
static void load_pair(const char *dir, const char *crt_name, const char *key_name, X509 **cert, EVP_PKEY **key, char **why)
{
    char *crt_path = pgw_asprintf("%s/%s", dir, crt_name), *key_path = pgw_asprintf("%s/%s", dir, key_name);
    *cert = pgw_certs_load_cert(crt_path, why);
    *key = *cert != NULL ? pgw_certs_load_key(key_path, why) : NULL;
    if (*key == NULL) {
        X509_free(*cert);
        *cert = NULL;
    }
    free(crt_path);
    free(key_path);
}

static void log_renewal(const char *msg, const char *dir, const char *reason)
{
    pgw_log(PGW_LOG_INFO, msg, pgw_json_pack("{s:s, s:s}", "dir", dir, "reason", reason));
}

int pgw_certs_ensure(const char *dir, const struct pgw_certs_options *opts, int *changed, char **err)
{
    *changed = 0;
    if (pgw_certs_check_options(opts, err) != 0 || pgw_certs_make_dir(dir, err) != 0)
        return -1;
    time_t now = pgw_certs_now(opts);
    X509 *ca = NULL, *leaf = NULL;
    EVP_PKEY *ca_key = NULL, *leaf_key = NULL;
    char *why = NULL;
    int rc = -1;

    load_pair(dir, PGW_CERTS_CA_CRT, PGW_CERTS_CA_KEY, &ca, &ca_key, &why);
    const char *problem = ca != NULL ? pgw_certs_ca_problem(ca, ca_key, now) : why;
    if (problem != NULL) {
        log_renewal("issuing a new CA and serving certificate", dir, problem);
        X509_free(ca);
        EVP_PKEY_free(ca_key);
        ca = NULL;
        ca_key = NULL;
        if (pgw_certs_make_ca(opts, &ca, &ca_key, err) != 0 ||
            pgw_certs_write_pair(dir, PGW_CERTS_CA_CRT, PGW_CERTS_CA_KEY, ca, ca_key, err) != 0)
            goto out;
        *changed = 1;
    } else {
        load_pair(dir, PGW_CERTS_TLS_CRT, PGW_CERTS_TLS_KEY, &leaf, &leaf_key, &why);
        problem = leaf != NULL ? pgw_certs_leaf_problem(leaf, leaf_key, ca, opts, now) : why;
        if (problem == NULL) {
            rc = 0;
            goto out;
        }
        log_renewal("issuing a new serving certificate", dir, problem);
        X509_free(leaf);
        EVP_PKEY_free(leaf_key);
        leaf = NULL;
        leaf_key = NULL;
    }
    /* ca.key and ca.crt (when replaced) are already in place; now tls.key, then tls.crt. */
    if (pgw_certs_make_leaf(opts, ca, ca_key, &leaf, &leaf_key, err) != 0 ||
        pgw_certs_write_pair(dir, PGW_CERTS_TLS_CRT, PGW_CERTS_TLS_KEY, leaf, leaf_key, err) != 0)
        goto out;
    *changed = 1;
    rc = 0;
out:
    free(why);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);
    return rc;
}
