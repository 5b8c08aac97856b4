/*
 * Reading and writing the certificate directory.
 *
 * Writes go through a temporary file in the same directory that is fsync'd
 * and renamed over the target, so a server polling the files sees either the
 * old or the new content, never a half-written file. Keys are created 0600
 * from the first byte (mkstemp), never widened afterwards. Reads are capped
 * and refuse anything but regular files, since the directory may be a mounted
 * volume holding whatever someone put there.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs/internal.h"
#include "common/xalloc.h"

/* Certificates and keys are a few KiB; anything larger is not ours. */
#define MAX_PEM_FILE (1u << 20)

char *pgw_certs_read_file(const char *path, char **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *err = pgw_asprintf("%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        *err = pgw_asprintf("%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *err = pgw_asprintf("%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((unsigned long long)st.st_size > MAX_PEM_FILE) {
        *err = pgw_asprintf("%s: larger than %u bytes", path, MAX_PEM_FILE);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = pgw_malloc(cap);
    for (;;) {
        if (len + 1 == cap) {
            if (cap > MAX_PEM_FILE) {
                *err = pgw_asprintf("%s: larger than %u bytes", path, MAX_PEM_FILE);
                goto fail;
            }
            cap *= 2;
            buf = pgw_realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *err = pgw_asprintf("%s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (memchr(buf, '\0', len) != NULL) {
        *err = pgw_asprintf("%s: not a PEM file", path);
        free(buf);
        return NULL;
    }
    return buf;
fail:
    close(fd);
    free(buf);
    return NULL;
}

int pgw_certs_make_dir(const char *dir, char **err)
{
    char *path = pgw_strdup(dir);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    /* Create each missing component from the left; existing ones are fine. */
    for (char *p = path + 1;; ++p) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            *err = pgw_asprintf("%s: %s", path, strerror(errno));
            free(path);
            return -1;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *err = pgw_asprintf("%s: not a directory", path);
        free(path);
        return -1;
    }
    free(path);
    return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len != 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int pgw_certs_write_file(const char *dir, const char *name, const char *data, size_t len, unsigned mode, char **err)
{
    char *final = pgw_asprintf("%s/%s", dir, name);
    char *tmp = pgw_asprintf("%s/.%s.XXXXXX", dir, name);
    int rc = -1;
    int fd = mkstemp(tmp); /* created 0600 */
    if (fd < 0) {
        *err = pgw_asprintf("%s: %s", final, strerror(errno));
        goto out;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        *err = pgw_asprintf("%s: %s", final, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0) {
        *err = pgw_asprintf("%s: %s", final, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, final) != 0) {
        *err = pgw_asprintf("%s: %s", final, strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* Make the rename itself durable; a failure here loses nothing already visible. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    free(final);
    free(tmp);
    return rc;
}

/* OpenSSL would otherwise prompt on the terminal for an encrypted key. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

X509 *pgw_certs_load_cert(const char *path, char **err)
{
    char *pem = pgw_certs_read_file(path, err);
    if (pem == NULL)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    free(pem);
    ERR_clear_error();
    if (cert == NULL)
        *err = pgw_asprintf("%s: no PEM certificate found", path);
    return cert;
}

EVP_PKEY *pgw_certs_load_key(const char *path, char **err)
{
    char *pem = pgw_certs_read_file(path, err);
    if (pem == NULL)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
    ERR_clear_error();
    if (key == NULL)
        *err = pgw_asprintf("%s: no unencrypted PEM private key found", path);
    return key;
}

static char *bio_to_string(BIO *bio, size_t *len)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0)
        return NULL;
    char *out = pgw_malloc((size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    if (len != NULL)
        *len = (size_t)n;
    return out;
}

char *pgw_certs_cert_pem(X509 *cert, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1)
        out = bio_to_string(bio, len);
    BIO_free(bio);
    return out;
}

char *pgw_certs_key_pem(EVP_PKEY *key, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
        out = bio_to_string(bio, len);
    BIO_free(bio);
    return out;
}

int pgw_certs_write_pair(const char *dir, const char *crt_name, const char *key_name, X509 *cert, EVP_PKEY *key, char **err)
{
    size_t key_len = 0, crt_len = 0;
    char *key_pem = pgw_certs_key_pem(key, &key_len);
    char *crt_pem = pgw_certs_cert_pem(cert, &crt_len);
    int rc = -1;
    if (key_pem == NULL || crt_pem == NULL) {
        *err = pgw_asprintf("cannot PEM-encode %s", crt_name);
        goto out;
    }
    /* The key first: whoever sees the new certificate must find its key already there. */
    if (pgw_certs_write_file(dir, key_name, key_pem, key_len, 0600, err) != 0)
        goto out;
    if (pgw_certs_write_file(dir, crt_name, crt_pem, crt_len, 0644, err) != 0)
        goto out;
    rc = 0;
out:
    if (key_pem != NULL) {
        OPENSSL_cleanse(key_pem, key_len);
        free(key_pem);
    }
    free(crt_pem);
    return rc;
}
