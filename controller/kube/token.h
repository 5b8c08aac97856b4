/*
 * Bearer token for the API server (DESIGN.md §6).
 *
 * Projected service-account tokens are bound and expire (typically after an
 * hour; kubelet rewrites the file at 80% of the lifetime), so a token read
 * once at start-up stops working. A file source re-reads the file when it
 * changes (inode, size or mtime; kubelet swaps a symlink), at least every
 * minute, when its JWT `exp` is near (a fifth of the lifetime or a minute,
 * whichever is shorter, before it), and after a 401. The `exp` claim is read
 * with libjwt without verifying the signature: the API server verifies, we
 * only want to know when to look again.
 *
 * Thread-safe. Tokens are secrets: never logged, and copies handed out are
 * the caller's to free (and ideally wipe).
 */
#ifndef PGW_CONTROLLER_KUBE_TOKEN_H
#define PGW_CONTROLLER_KUBE_TOKEN_H

#include <time.h>

#define PGW_TOKEN_REREAD_PERIOD 60.0

struct pgw_token_source;

/* A fixed token (kubeconfig `token`). */
struct pgw_token_source *pgw_token_source_new_static(const char *token);
/* A token file. wall: Unix seconds, NULL → the real clock. The file is read lazily on the first get. */
struct pgw_token_source *pgw_token_source_new_file(const char *path, double (*wall)(void *), void *wall_ctx);
void pgw_token_source_free(struct pgw_token_source *ts);

/* The current token (caller frees), or NULL with a message in *err (caller frees). */
char *pgw_token_source_get(struct pgw_token_source *ts, char **err);
/* The server said 401: read the file again on the next get. */
void pgw_token_source_invalidate(struct pgw_token_source *ts);
/* How many times the file was read (for tests and debugging). */
unsigned long pgw_token_source_reads(struct pgw_token_source *ts);

/* The `exp` claim of a JWT, or 0 when it is not a JWT or has none. No signature check. */
time_t pgw_token_jwt_expiry(const char *token);

#endif
