/*
 * The layout of a database pod, shared by the controller (which writes the
 * StatefulSet template, ConfigMaps and Secrets) and the pod mutator (which adds
 * the sidecars). Both sides must agree on every name here without talking to
 * each other: admission never calls the API server (DESIGN.md §2, §5), so the
 * webhook finds ConfigMaps, Secrets and volumes only by these conventions.
 *
 * What the controller's StatefulSet template must hold for the sidecars to work:
 *  - container PGW_POD_CONTAINER_POSTGRES, with PGW_POD_VOLUME_SOCKET mounted at
 *    PGW_POD_SOCKET_DIR (postgres puts its unix socket there, unix_socket_directories)
 *    and PGW_POD_VOLUME_TMP at PGW_POD_TMP_DIR (pgBackRest's lock directory, shared
 *    by archive-push in postgres and the pgbackrest server sidecar);
 *  - the PVC template PGW_POD_VOLUME_PGDATA mounted at PGW_POD_PGDATA_MOUNT, with
 *    PGDATA = PGW_POD_PGDATA_DIR (a subdirectory: the volume root may hold lost+found),
 *    and PGW_POD_VOLUME_PGWAL at PGW_POD_PGWAL_MOUNT when spec.storage.walSize is set;
 *  - label PGW_POD_LABEL_CLUSTER and annotation PGW_POD_ANNOTATION_SIDECARS.
 * The webhook adds the socket and tmp emptyDirs when the template lacks them, but
 * it never edits the postgres container.
 */
#ifndef PGW_SPECS_POD_LAYOUT_H
#define PGW_SPECS_POD_LAYOUT_H

/* Metadata */
#define PGW_POD_LABEL_CLUSTER "pgwarden.io/cluster"
#define PGW_POD_ANNOTATION_SIDECARS "pgwarden.io/sidecars" /* "pooler,metrics,backup" (the enabled subset) */
#define PGW_POD_ANNOTATION_INJECTED "pgwarden.io/injected" /* pgw_inject_expected_hash() */
/* The ConfigMap of spec.metrics.customQueriesConfigMap, set on the template only when metrics are on */
#define PGW_POD_ANNOTATION_METRICS_QUERIES "pgwarden.io/metrics-queries"

/* Names in the sidecars annotation */
#define PGW_SIDECAR_POOLER "pooler"
#define PGW_SIDECAR_METRICS "metrics"
#define PGW_SIDECAR_BACKUP "backup"

/* Containers */
#define PGW_POD_CONTAINER_POSTGRES "postgres"
#define PGW_POD_CONTAINER_PGBOUNCER "pgbouncer"
#define PGW_POD_CONTAINER_EXPORTER "exporter"
#define PGW_POD_CONTAINER_PGBACKREST "pgbackrest"

/* Ports: number and container port name */
#define PGW_POD_PORT_POSTGRES 5432
#define PGW_POD_PORT_POSTGRES_NAME "postgres"
#define PGW_POD_PORT_PATRONI 8008 /* Patroni's REST API: probes and member traffic */
#define PGW_POD_PORT_PATRONI_NAME "patroni"
#define PGW_POD_PORT_PGBOUNCER 6432
#define PGW_POD_PORT_PGBOUNCER_NAME "pgbouncer"
#define PGW_POD_PORT_EXPORTER 9187
#define PGW_POD_PORT_EXPORTER_NAME "metrics"
#define PGW_POD_PORT_PGBACKREST 8432
#define PGW_POD_PORT_PGBACKREST_NAME "pgbackrest"
#define PGW_POD_METRICS_PATH "/metrics"

/* Volumes (pod volume names) */
#define PGW_POD_VOLUME_PGDATA "pgdata"           /* PVC template of the StatefulSet */
#define PGW_POD_VOLUME_PGWAL "pgwal"             /* PVC template, only with spec.storage.walSize */
#define PGW_POD_VOLUME_PATRONI "pgw-patroni"     /* ConfigMap <cluster>-patroni */
#define PGW_POD_VOLUME_TLS "pgw-tls"             /* Secret <cluster>-server-tls (or spec.tls.secretName) */
#define PGW_POD_VOLUME_SOCKET "pgw-socket"       /* emptyDir, the shared unix socket directory */
#define PGW_POD_VOLUME_TMP "pgw-tmp"             /* emptyDir, /tmp (pgBackRest locks) */
#define PGW_POD_VOLUME_PGBOUNCER "pgw-pgbouncer" /* projected: ConfigMap + Secret <cluster>-pgbouncer */
#define PGW_POD_VOLUME_EXPORTER "pgw-exporter"   /* Secret <cluster>-exporter */
#define PGW_POD_VOLUME_QUERIES "pgw-queries"     /* ConfigMap spec.metrics.customQueriesConfigMap, optional */
#define PGW_POD_VOLUME_PGBACKREST                                                                                                  \
    "pgw-pgbackrest" /* projected: ConfigMap <cluster>-pgbackrest + Secret <cluster>-pgbackrest-tls                                \
                      */

/* Mount paths */
#define PGW_POD_PGDATA_MOUNT "/var/lib/postgresql/data"
#define PGW_POD_PGDATA_DIR "/var/lib/postgresql/data/pgdata"
#define PGW_POD_PGWAL_MOUNT "/var/lib/postgresql/wal"
#define PGW_POD_SOCKET_DIR "/var/run/postgresql"
#define PGW_POD_PATRONI_DIR "/etc/patroni"
#define PGW_POD_TLS_DIR "/etc/pgwarden/tls"
#define PGW_POD_TMP_DIR "/tmp"
#define PGW_POD_PGBOUNCER_DIR "/etc/pgbouncer"
#define PGW_POD_EXPORTER_DIR "/etc/postgres_exporter"
#define PGW_POD_EXPORTER_QUERIES_DIR "/etc/postgres_exporter_queries" /* not under the Secret's read-only mount */
#define PGW_POD_PGBACKREST_DIR "/etc/pgbackrest"
#define PGW_POD_PGBACKREST_LOCK_DIR "/tmp/pgbackrest"

/* Child object names: "<cluster>" + suffix */
#define PGW_SUFFIX_PGBOUNCER "-pgbouncer"           /* ConfigMap (pgbouncer.ini) and Secret (userlist.txt, tls.crt, tls.key) */
#define PGW_SUFFIX_EXPORTER "-exporter"             /* Secret (password) */
#define PGW_SUFFIX_PGBACKREST "-pgbackrest"         /* ConfigMap (pgbackrest.conf) */
#define PGW_SUFFIX_PGBACKREST_TLS "-pgbackrest-tls" /* Secret (tls.crt, tls.key, ca.crt) */
#define PGW_SUFFIX_SUPERUSER "-superuser"           /* Secret (postgres's password) */
#define PGW_SUFFIX_REPLICATION "-replication"       /* Secret (replicator's password) */
#define PGW_SUFFIX_APP "-app"                       /* Secret (the application owner's credentials) */
#define PGW_SUFFIX_PATRONI "-patroni"               /* ConfigMap (patroni.yml, post-bootstrap.sh) */
#define PGW_SUFFIX_SERVER_TLS "-server-tls"         /* Secret (the server certificate) unless spec.tls.secretName */
#define PGW_SUFFIX_INSTANCE "-instance"             /* ServiceAccount, Role and RoleBinding of the pods */
#define PGW_SUFFIX_READ_ONLY "-ro"                  /* Service: replicas */
#define PGW_SUFFIX_READ "-r"                        /* Service: every instance */
#define PGW_SUFFIX_PODS "-pods"                     /* headless Service of the StatefulSet */
#define PGW_SUFFIX_CONFIG "-config"                 /* headless Service and Patroni's config endpoints */
#define PGW_SUFFIX_STANZA_CREATE "-stanza-create"   /* Job: pgbackrest stanza-create */

/* Lifetimes of the certificates the controller issues for a cluster. */
#define PGW_CLUSTER_CA_DAYS 3650
#define PGW_CLUSTER_TLS_DAYS 825

/* Keys inside those ConfigMaps and Secrets (file names under the mount paths) */
#define PGW_KEY_PGBOUNCER_INI "pgbouncer.ini"
#define PGW_KEY_PGBOUNCER_USERLIST "userlist.txt"
#define PGW_KEY_EXPORTER_PASSWORD "password"
#define PGW_KEY_EXPORTER_QUERIES "queries.yaml" /* in the user's customQueriesConfigMap (docs/configuration.md) */
#define PGW_KEY_PGBACKREST_CONF "pgbackrest.conf"
#define PGW_KEY_TLS_CERT "tls.crt"
#define PGW_KEY_TLS_KEY "tls.key"
#define PGW_KEY_TLS_CA "ca.crt"

/* Database roles the sidecars log in as */
#define PGW_ROLE_PGBOUNCER "pgwarden_pgbouncer" /* pgbouncer auth_user, runs pgwarden.get_auth() */
#define PGW_ROLE_EXPORTER "pgwarden_exporter"   /* member of pg_monitor */
#define PGW_DB_MAINTENANCE "postgres"           /* database the exporter connects to */

#endif
