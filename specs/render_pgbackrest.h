/*
 * pgBackRest configuration for a cluster (DESIGN.md §5, §7): pure functions
 * from a defaulted PostgresCluster to pgbackrest.conf text and to the
 * environment and volumes that carry the repository credentials.
 *
 * Two sides, two files, one ConfigMap (<cluster>-pgbackrest):
 *  - the instance side (PGW_KEY_PGBACKREST_CONF), read by archive-push and
 *    restore in the postgres container and by `pgbackrest server` in the
 *    sidecar: the repository, the local data directory, and the TLS server;
 *  - the job side (PGW_KEY_PGBACKREST_JOB_CONF), read by backup, stanza-create
 *    and expire in Jobs, which are the repository host: the same repository,
 *    and every instance as pgN-host over TLS (port 8432), so no exec is needed.
 *
 * Credentials never appear in either file: pgBackRest reads secure options from
 * PGBACKREST_* environment variables, which containers get from Secrets through
 * secretKeyRef (pgw_render_pgbackrest_env). The GCS key is a file mounted from
 * its Secret (pgw_render_pgbackrest_repo_volumes).
 *
 * Paths default to the pod layout (specs/pod_layout.h); the data-plane
 * tests change them through struct pgw_pgbackrest_render_opts to run on
 * loopback with temporary directories, never by editing the rendered text.
 */
#ifndef PGW_SPECS_RENDER_PGBACKREST_H
#define PGW_SPECS_RENDER_PGBACKREST_H

#include <jansson.h>

/* The one stanza of every cluster's repository. */
#define PGW_PGBACKREST_STANZA "db"
/* The CN of the client certificate backup Jobs present; the TLS servers accept only it. */
#define PGW_PGBACKREST_CLIENT_CN "pgwarden-backup"
/* Where a volume repository is mounted, and the GCS key file. */
#define PGW_PGBACKREST_REPO_MOUNT "/var/lib/pgbackrest"
#define PGW_PGBACKREST_REPO_VOLUME "pgw-repo"
#define PGW_PGBACKREST_REPO_CREDENTIALS_DIR "/etc/pgbackrest-repo"
#define PGW_PGBACKREST_REPO_CREDENTIALS_VOLUME "pgw-repo-credentials"
#define PGW_PGBACKREST_GCS_KEY_FILE "key.json"
/* Keys of the repository credentials Secret (spec.backup.repository.<kind>.credentialsSecret). */
#define PGW_PGBACKREST_SECRET_S3_KEY "accessKeyId"
#define PGW_PGBACKREST_SECRET_S3_KEY_SECRET "secretAccessKey"
#define PGW_PGBACKREST_SECRET_AZURE_KEY "accountKey"
#define PGW_PGBACKREST_SECRET_CIPHER_PASS "passphrase" /* in spec.backup.encryptionSecret */
/* The PVC of a volume repository: "<cluster>" + suffix. */
#define PGW_SUFFIX_PGBACKREST_REPO "-pgbackrest-repo"
/* On a cluster restored from a volume repository: the source's PVC, which the
 * restored cluster mounts (and keeps its own backups in, under its own path)
 * instead of claiming one of its own. Set by pgw_render_restore_cluster. */
#define PGW_ANNOTATION_REPO_CLAIM "pgwarden.io/repo-claim"
/* ConfigMap <cluster>-pgbackrest key of the job side; the instance side is PGW_KEY_PGBACKREST_CONF. */
#define PGW_KEY_PGBACKREST_JOB_CONF "pgbackrest-job.conf"
/* File mode of the projected pgBackRest volume (config and TLS files): the kubelet makes them
 * root-owned with the pod's fsGroup, and pgBackRest refuses a root-owned key file readable by others. */
#define PGW_PGBACKREST_TLS_MODE 0440
/* Secret <cluster>-pgbackrest-tls keys of the Jobs' client pair (the server pair is tls.crt/tls.key). */
#define PGW_KEY_TLS_CLIENT_CERT "client.crt"
#define PGW_KEY_TLS_CLIENT_KEY "client.key"

struct pgw_pgbackrest_render_opts {
    const char *repo_mount;    /* volume repositories: repo1-path = repo_mount + spec.backup.path */
    const char *pg_path;       /* PGDATA on the instances */
    const char *socket_dir;    /* postgres' unix socket directory (instance side) */
    int pg_port;               /* 5432 */
    const char *lock_path;     /* shared with the sidecar: PGW_POD_PGBACKREST_LOCK_DIR */
    const char *spool_path;    /* archive-async spool, under /tmp */
    const char *log_path;      /* unused while file logging is off, but pgBackRest wants a writable default */
    const char *tls_dir;       /* where tls.crt, tls.key, ca.crt (and client.crt/.key for Jobs) are mounted */
    int tls_port;              /* 8432 */
    const char *tls_address;   /* tls-server-address, "*" */
    int process_max;           /* parallel processes for backup and restore */
    int archive_async;         /* 1: archive-push/archive-get run asynchronously with a spool */
    const char *compress_type; /* zst */
    /* Job side: the instances' host names. NULL: "<cluster>-<i>.<cluster>-pods" for each instance. */
    const char *const *pg_hosts;
    size_t pg_host_count;
};

/* Fills opts with the in-pod defaults. */
void pgw_pgbackrest_render_opts_default(struct pgw_pgbackrest_render_opts *opts);

/* repo1-path for the cluster's repository (spec.backup.path, under repo_mount
 * for a volume repository). malloc'd; caller frees. NULL when no repository. */
char *pgw_render_pgbackrest_repo_path(const json_t *cluster, const struct pgw_pgbackrest_render_opts *opts);

/* The instance-side pgbackrest.conf (NULL opts = defaults). malloc'd text, caller
 * frees; NULL when the cluster has no spec.backup.repository. */
char *pgw_render_pgbackrest_conf(const json_t *cluster, const struct pgw_pgbackrest_render_opts *opts);
/* The job-side pgbackrest.conf: same repository, instances as TLS pg hosts. */
char *pgw_render_pgbackrest_job_conf(const json_t *cluster, const struct pgw_pgbackrest_render_opts *opts);

/* archive_command for postgresql.conf, reading `config_path`. malloc'd. */
char *pgw_render_pgbackrest_archive_command(const char *config_path);

/* EnvVar list (new array) with the repository credentials as secretKeyRefs and
 * the GCS key file path; empty when the repository needs none. */
json_t *pgw_render_pgbackrest_env(const json_t *cluster);
/* A repo1-path for `path` (a spec.backup.path of this cluster or of the
 * cluster it was restored from) in this cluster's pods: under repo_mount for a
 * volume repository. malloc'd. */
char *pgw_render_pgbackrest_repo_path_for(const json_t *cluster, const char *path, const struct pgw_pgbackrest_render_opts *opts);
/* The name of the volume repository's PVC: PGW_ANNOTATION_REPO_CLAIM when set,
 * else "<cluster>-pgbackrest-repo". malloc'd. */
char *pgw_render_pgbackrest_repo_claim_name(const json_t *cluster);

/* Adds the repository volumes (GCS key Secret, volume repository PVC) to
 * `volumes` and their mounts to `mounts` (both arrays, borrowed). */
void pgw_render_pgbackrest_repo_volumes(const json_t *cluster, json_t *volumes, json_t *mounts);
/* The PersistentVolumeClaim <cluster>-pgbackrest-repo of a volume repository
 * (new object), or NULL for other repositories and for a cluster that uses
 * another's (PGW_ANNOTATION_REPO_CLAIM). ReadWriteMany: the instances
 * (archive-push) and the backup Jobs mount it from any node. It carries no
 * ownerReference: backups outlive their cluster (a restore after the cluster
 * is gone needs them), so the garbage collector must not take it with the
 * cluster; the controller creates it once and never patches it. */
json_t *pgw_render_pgbackrest_repo_claim(const json_t *cluster);

#endif
