/*
 * PostgresCluster validation: every rule of DESIGN.md §3 with an accepting and
 * a rejecting row. Each row merges a patch into a valid, defaulted cluster
 * (and optionally into the old object for UPDATE/DELETE) and expects either no
 * error at all or one error with exactly that path and type whose text contains
 * the detail.
 */
#include "helpers.h"
#include "test/unit/helpers.h"

#include <time.h>

#include "mutators/mutators.h"
#include "validators/validators.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

static const char base_json[] =
    "{'apiVersion':'pgwarden.io/v1','kind':'PostgresCluster','metadata':{'name':'demo','namespace':'shop'},"
    "'spec':{'instances':3,'storage':{'size':'10Gi'},'resources':{'requests':{'memory':'2Gi','cpu':'1'},"
    "'limits':{'memory':'4Gi','cpu':'2'}},'backup':{'repository':{'s3':{'bucket':'pg-backups','endpoint':"
    "'s3.eu-west-1.amazonaws.com','region':'eu-west-1','credentialsSecret':'s3-creds'}}}}}";

struct row {
    const char *op;    /* CREATE, UPDATE or DELETE */
    const char *patch; /* merge patch for the new object */
    const char *old;   /* merge patch for the old object (UPDATE/DELETE), NULL: same as base */
    const char *path;  /* NULL: accepted */
    pgw_error_type_t type;
    const char *detail;
};

static const struct row rows[] = {
    /* metadata.name: DNS-1035, at most 50 */
    {"CREATE", "{'metadata':{'name':'a23456789012345678901234567890123456789012345678ab'}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'metadata':{'name':'a23456789012345678901234567890123456789012345678abc'}}", NULL, "metadata.name",
     PGW_ERR_TOO_LONG, "50"},
    {"CREATE", "{'metadata':{'name':'1demo'}}", NULL, "metadata.name", PGW_ERR_INVALID, "DNS-1035"},
    {"CREATE", "{'metadata':{'name':'Demo'}}", NULL, "metadata.name", PGW_ERR_INVALID, NULL},
    /* postgresVersion */
    {"CREATE", "{'spec':{'postgresVersion':14}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'postgresVersion':19}}", NULL, "spec.postgresVersion", PGW_ERR_INVALID, "must be between 14 and 18"},
    {"CREATE", "{'spec':{'postgresVersion':'17'}}", NULL, "spec.postgresVersion", PGW_ERR_INVALID, "must be of type integer"},
    {"UPDATE", "{'spec':{'postgresVersion':17}}", "{'spec':{'postgresVersion':17}}", NULL, 0, NULL},
    {"UPDATE", "{'spec':{'postgresVersion':16}}", "{'spec':{'postgresVersion':17}}", "spec.postgresVersion", PGW_ERR_FORBIDDEN,
     "downgrading PostgreSQL from 17 to 16"},
    {"UPDATE", "{'spec':{'postgresVersion':18}}", "{'spec':{'postgresVersion':17}}", NULL, 0, NULL}, /* more in test_upgrade.c */
    /* image */
    {"CREATE", "{'spec':{'image':'registry.example.com:5000/pg/postgres:18.1'}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'image':'postgres@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}}", NULL, NULL,
     0, NULL},
    {"CREATE", "{'spec':{'image':'postgres:latest'}}", NULL, "spec.image", PGW_ERR_INVALID, "\"latest\" tag is denied"},
    {"CREATE", "{'spec':{'image':'postgres'}}", NULL, "spec.image", PGW_ERR_INVALID, "without a tag"},
    {"CREATE", "{'spec':{'image':'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}}", NULL, "spec.image",
     PGW_ERR_INVALID, "bare digest"},
    {"CREATE", "{'spec':{'image':'@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}}", NULL, "spec.image",
     PGW_ERR_INVALID, "bare digest"},
    {"CREATE", "{'spec':{'image':'Postgres:18'}}", NULL, "spec.image", PGW_ERR_INVALID, "valid image reference"},
    /* instances */
    {"CREATE", "{'spec':{'instances':16}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'instances':0}}", NULL, "spec.instances", PGW_ERR_INVALID, "Invalid value: 0: must be between 1 and 16"},
    {"CREATE", "{'spec':{'instances':17}}", NULL, "spec.instances", PGW_ERR_INVALID, "must be between 1 and 16"},
    /* storage */
    {"CREATE", "{'spec':{'storage':{'size':'1Ti','walSize':'20Gi','storageClass':'fast-ssd'}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'storage':null}}", NULL, "spec.storage", PGW_ERR_REQUIRED, NULL},
    {"CREATE", "{'spec':{'storage':{'size':null}}}", NULL, "spec.storage.size", PGW_ERR_REQUIRED, NULL},
    {"CREATE", "{'spec':{'storage':{'size':'10GB'}}}", NULL, "spec.storage.size", PGW_ERR_INVALID, "quantities must match"},
    {"CREATE", "{'spec':{'storage':{'size':'0'}}}", NULL, "spec.storage.size", PGW_ERR_INVALID, "greater than zero"},
    {"CREATE", "{'spec':{'storage':{'walSize':'-1Gi'}}}", NULL, "spec.storage.walSize", PGW_ERR_INVALID, "greater than zero"},
    {"CREATE", "{'spec':{'storage':{'storageClass':'Fast_SSD'}}}", NULL, "spec.storage.storageClass", PGW_ERR_INVALID, NULL},
    {"UPDATE", "{'spec':{'storage':{'size':'20Gi'}}}", NULL, NULL, 0, NULL},
    {"UPDATE", "{'spec':{'storage':{'size':'10240Mi'}}}", NULL, NULL, 0, NULL},
    {"UPDATE", "{'spec':{'storage':{'size':'9Gi'}}}", NULL, "spec.storage.size", PGW_ERR_FORBIDDEN,
     "volumes cannot shrink (from 10Gi to 9Gi)"},
    {"UPDATE", "{'spec':{'storage':{'walSize':'5Gi'}}}", "{'spec':{'storage':{'walSize':'10Gi'}}}", "spec.storage.walSize",
     PGW_ERR_FORBIDDEN, "cannot shrink"},
    {"UPDATE", "{'spec':{'storage':{'walSize':null}}}", "{'spec':{'storage':{'walSize':'10Gi'}}}", "spec.storage.walSize",
     PGW_ERR_FORBIDDEN, "cannot be removed"},
    {"UPDATE", "{'spec':{'storage':{'storageClass':'slow'}}}", "{'spec':{'storage':{'storageClass':'fast'}}}",
     "spec.storage.storageClass", PGW_ERR_FORBIDDEN, "field is immutable"},
    {"UPDATE", "{'spec':{'storage':{'storageClass':'fast'}}}", "{'spec':{'storage':{'storageClass':'fast'}}}", NULL, 0, NULL},
    /* resources */
    {"CREATE", "{'spec':{'resources':{'requests':{'cpu':'500m'},'limits':{'cpu':'0.5'}}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'resources':{'requests':{'cpu':'3'}}}}", NULL, "spec.resources.requests[cpu]", PGW_ERR_INVALID,
     "must be less than or equal to cpu limit of 2"},
    {"CREATE", "{'spec':{'resources':{'requests':{'memory':'5Gi'}}}}", NULL, "spec.resources.requests[memory]", PGW_ERR_INVALID,
     "memory limit of 4Gi"},
    {"CREATE", "{'spec':{'resources':{'limits':{'memory':'lots'}}}}", NULL, "spec.resources.limits[memory]", PGW_ERR_INVALID, NULL},
    /* parameters (types here; the catalog has its own tests) */
    {"CREATE", "{'spec':{'postgres':{'parameters':{'work_mem':'16MB'}}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'postgres':{'parameters':{'max_connections':200}}}}", NULL, "spec.postgres.parameters[max_connections]",
     PGW_ERR_INVALID, "must be a string"},
    {"CREATE", "{'spec':{'postgres':{'parameters':{'wal_level':'replica'}}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'postgres':{'parameters':{'wal_level':'minimal','max_wal_senders':'0'}}}}", NULL,
     "spec.postgres.parameters[wal_level]", PGW_ERR_INVALID, "must be replica or logical"},
    {"CREATE", "{'spec':{'instances':1,'postgres':{'parameters':{'wal_level':'minimal','max_wal_senders':'0'}}}}", NULL, NULL, 0,
     NULL},
    {"CREATE", "{'spec':{'postgres':{'parameters':{'hot_standby':'off'}}}}", NULL, "spec.postgres.parameters[hot_standby]",
     PGW_ERR_INVALID, "must be on"},
    {"CREATE", "{'spec':{'postgres':{'parameters':{'max_wal_senders':'2'}}}}", NULL, "spec.postgres.parameters[max_wal_senders]",
     PGW_ERR_INVALID, "at least spec.instances"},
    /* shared_buffers ≤ memory limit, in PostgreSQL's units against the exact quantity */
    {"CREATE", "{'spec':{'resources':{'limits':{'memory':'2Gi'}},'postgres':{'parameters':{'shared_buffers':'512MB'}}}}", NULL,
     NULL, 0, NULL},
    {"CREATE", "{'spec':{'resources':{'limits':{'memory':'2Gi'}},'postgres':{'parameters':{'shared_buffers':'2GB'}}}}", NULL, NULL,
     0, NULL},
    {"CREATE", "{'spec':{'resources':{'limits':{'memory':'2Gi'}},'postgres':{'parameters':{'shared_buffers':'262145'}}}}", NULL,
     "spec.postgres.parameters[shared_buffers]", PGW_ERR_INVALID, "must not exceed the memory limit"},
    {"CREATE", "{'spec':{'resources':{'limits':{'memory':'2Gi'}},'postgres':{'parameters':{'shared_buffers':'4GB'}}}}", NULL,
     "spec.postgres.parameters[shared_buffers]", PGW_ERR_INVALID, "must not exceed the memory limit"},
    /* min_wal_size < max_wal_size, with PostgreSQL's defaults for the one left unset */
    {"CREATE", "{'spec':{'postgres':{'parameters':{'min_wal_size':'1GB','max_wal_size':'2GB'}}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'postgres':{'parameters':{'min_wal_size':'2GB','max_wal_size':'1GB'}}}}", NULL,
     "spec.postgres.parameters[min_wal_size]", PGW_ERR_INVALID, "must be less than max_wal_size"},
    {"CREATE", "{'spec':{'postgres':{'parameters':{'min_wal_size':'1GB','max_wal_size':'1024MB'}}}}", NULL,
     "spec.postgres.parameters[min_wal_size]", PGW_ERR_INVALID, "must be less than max_wal_size"},
    {"CREATE", "{'spec':{'postgres':{'parameters':{'min_wal_size':'2GB'}}}}", NULL, "spec.postgres.parameters[min_wal_size]",
     PGW_ERR_INVALID, "must be less than max_wal_size"},
    {"CREATE", "{'spec':{'postgres':{'parameters':{'max_wal_size':'64MB'}}}}", NULL, "spec.postgres.parameters[max_wal_size]",
     PGW_ERR_INVALID, "must be greater than min_wal_size"},
    /* pgHba */
    {"CREATE", "{'spec':{'postgres':{'pgHba':['hostssl all all 10.0.0.0/8 scram-sha-256','local all all peer']}}}", NULL, NULL, 0,
     NULL},
    {"CREATE", "{'spec':{'postgres':{'pgHba':['host all all 0.0.0.0/0 trust']}}}", NULL, "spec.postgres.pgHba[0]",
     PGW_ERR_FORBIDDEN, "trust"},
    {"CREATE", "{'spec':{'postgres':{'pgHba':['hostssl all all 10.0.0.0/33 scram-sha-256']}}}", NULL, "spec.postgres.pgHba[0]",
     PGW_ERR_INVALID, "invalid CIDR"},
    {"CREATE", "{'spec':{'postgres':{'pgHba':'host all all all md5'}}}", NULL, "spec.postgres.pgHba", PGW_ERR_INVALID,
     "must be of type array"},
    /* pooler */
    {"CREATE", "{'spec':{'pooler':{'mode':'session','parameters':{'server_idle_timeout':'60'}}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'pooler':{'mode':'batch'}}}", NULL, "spec.pooler.mode", PGW_ERR_NOT_SUPPORTED,
     "supported values: \"transaction\", \"session\", \"statement\""},
    {"CREATE", "{'spec':{'pooler':{'maxClientConnections':0}}}", NULL, "spec.pooler.maxClientConnections", PGW_ERR_INVALID,
     "must be between 1 and 100000"},
    {"CREATE", "{'spec':{'pooler':{'maxClientConnections':10,'defaultPoolSize':20}}}", NULL, "spec.pooler.defaultPoolSize",
     PGW_ERR_INVALID, "must not exceed spec.pooler.maxClientConnections"},
    {"CREATE", "{'spec':{'pooler':{'enabled':'yes'}}}", NULL, "spec.pooler.enabled", PGW_ERR_INVALID, "must be of type boolean"},
    {"CREATE", "{'spec':{'pooler':{'parameters':{'pool_mode':'session'}}}}", NULL, "spec.pooler.parameters[pool_mode]",
     PGW_ERR_FORBIDDEN, "spec.pooler.mode"},
    /* metrics */
    {"CREATE", "{'spec':{'metrics':{'enabled':false,'customQueriesConfigMap':'my-queries'}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'metrics':{'customQueriesConfigMap':'My Queries'}}}", NULL, "spec.metrics.customQueriesConfigMap",
     PGW_ERR_INVALID, NULL},
    /* backup repository */
    {"CREATE", "{'spec':{'backup':{'repository':{'s3':null,'gcs':{'bucket':'pg-bk','credentialsSecret':'gcs'}}}}}", NULL, NULL, 0,
     NULL},
    {"CREATE",
     "{'spec':{'backup':{'repository':{'s3':null,'azure':{'account':'acmestore','container':'pg-backups','credentialsSecret':'az'}}"
     "}}}",
     NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'backup':{'repository':{'s3':null,'volume':{'size':'100Gi'}}}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'backup':{'repository':{'s3':null}}}}", NULL, "spec.backup.repository", PGW_ERR_REQUIRED,
     "exactly one of s3, gcs, azure or volume"},
    {"CREATE", "{'spec':{'backup':{'repository':{'volume':{'size':'1Gi'}}}}}", NULL, "spec.backup.repository", PGW_ERR_FORBIDDEN,
     "found s3, volume"},
    {"CREATE", "{'spec':{'backup':{'repository':{'s3':{'region':null}}}}}", NULL, "spec.backup.repository.s3.region",
     PGW_ERR_REQUIRED, NULL},
    {"CREATE", "{'spec':{'backup':{'repository':{'s3':{'bucket':'Bad_Bucket'}}}}}", NULL, "spec.backup.repository.s3.bucket",
     PGW_ERR_INVALID, "S3 bucket name"},
    {"CREATE", "{'spec':{'backup':{'repository':{'s3':{'uriStyle':'virtual'}}}}}", NULL, "spec.backup.repository.s3.uriStyle",
     PGW_ERR_NOT_SUPPORTED, NULL},
    {"CREATE",
     "{'spec':{'backup':{'repository':{'s3':null,'azure':{'account':'acmestore','container':'pg--bk','credentialsSecret':'az'}}}}}",
     NULL, "spec.backup.repository.azure.container", PGW_ERR_INVALID, NULL},
    {"CREATE", "{'spec':{'backup':{'repository':{'s3':null,'volume':{}}}}}", NULL, "spec.backup.repository.volume.size",
     PGW_ERR_REQUIRED, NULL},
    {"CREATE", "{'spec':{'backup':{'repository':{'s3':null,'gcs':{'bucket':'pg-bk'}}}}}", NULL,
     "spec.backup.repository.gcs.credentialsSecret", PGW_ERR_REQUIRED, NULL},
    /* backup path, retention */
    {"CREATE", "{'spec':{'backup':{'path':'/team-a/orders'}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'backup':{'path':'team/orders'}}}", NULL, "spec.backup.path", PGW_ERR_INVALID, "absolute path"},
    {"CREATE", "{'spec':{'backup':{'path':'/team/../orders'}}}", NULL, "spec.backup.path", PGW_ERR_INVALID, "absolute path"},
    {"CREATE", "{'spec':{'backup':{'retention':{'full':7,'fullType':'time','diff':3}}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'backup':{'retention':{'full':0}}}}", NULL, "spec.backup.retention.full", PGW_ERR_INVALID,
     "must be between 1 and 9999999"},
    {"CREATE", "{'spec':{'backup':{'retention':{'fullType':'days'}}}}", NULL, "spec.backup.retention.fullType",
     PGW_ERR_NOT_SUPPORTED, NULL},
    {"CREATE", "{'spec':{'backup':{'retention':{'diff':-1}}}}", NULL, "spec.backup.retention.diff", PGW_ERR_INVALID, NULL},
    /* schedules */
    {"CREATE",
     "{'spec':{'backup':{'schedules':[{'name':'nightly','schedule':'0 3 * * "
     "*','type':'full'},{'name':'hourly','schedule':'@hourly','type':'incr'}]}}}",
     NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'backup':{'schedules':[{'name':'Nightly','schedule':'0 3 * * *','type':'full'}]}}}", NULL,
     "spec.backup.schedules[0].name", PGW_ERR_INVALID, "RFC 1123"},
    {"CREATE",
     "{'spec':{'backup':{'schedules':[{'name':'a','schedule':'@daily','type':'full'},{'name':'a','schedule':'@daily','type':'diff'}"
     "]}}}",
     NULL, "spec.backup.schedules[1].name", PGW_ERR_DUPLICATE, "Duplicate value: \"a\""},
    {"CREATE", "{'spec':{'backup':{'schedules':[{'name':'a','schedule':'61 * * * *','type':'full'}]}}}", NULL,
     "spec.backup.schedules[0].schedule", PGW_ERR_INVALID, NULL},
    {"CREATE", "{'spec':{'backup':{'schedules':[{'name':'a','schedule':'@daily','type':'snapshot'}]}}}", NULL,
     "spec.backup.schedules[0].type", PGW_ERR_NOT_SUPPORTED, NULL},
    {"CREATE", "{'spec':{'backup':{'schedules':[{'name':'a','schedule':'@daily'}]}}}", NULL, "spec.backup.schedules[0].type",
     PGW_ERR_REQUIRED, NULL},
    {"CREATE",
     "{'spec':{'backup':{'schedules':[{'name':'a-very-long-schedule-name-for-a-cronjob-x','schedule':'@daily','type':'full'}]}}}",
     NULL, "spec.backup.schedules[0].name", PGW_ERR_TOO_LONG, "52"},
    {"CREATE", "{'spec':{'backup':{'encryptionSecret':'bad secret'}}}", NULL, "spec.backup.encryptionSecret", PGW_ERR_INVALID,
     NULL},
    /* backup on UPDATE: where the archive lives is fixed; what does not move the data may change */
    {"UPDATE", "{'spec':{'backup':{'repository':{'s3':{'bucket':'other-bucket'}}}}}", NULL, "spec.backup.repository.s3.bucket",
     PGW_ERR_FORBIDDEN, "spec.backup.repository cannot change on a running cluster (s3.bucket): the WAL archive"},
    {"UPDATE", "{'spec':{'backup':{'repository':{'s3':{'endpoint':'minio.example.com'}}}}}", NULL,
     "spec.backup.repository.s3.endpoint", PGW_ERR_FORBIDDEN, "restore this cluster (PostgresRestore) into a new cluster"},
    {"UPDATE", "{'spec':{'backup':{'repository':{'s3':{'region':'us-east-1'}}}}}", NULL, "spec.backup.repository.s3.region",
     PGW_ERR_FORBIDDEN, "cannot change on a running cluster"},
    {"UPDATE", "{'spec':{'backup':{'repository':{'s3':null,'volume':{'size':'10Gi'}}}}}", NULL, "spec.backup.repository",
     PGW_ERR_FORBIDDEN, "cannot change on a running cluster (from s3 to volume)"},
    {"UPDATE", "{'spec':{'backup':{'repository':{'s3':null,'gcs':{'bucket':'pg-bk','credentialsSecret':'gcs'}}}}}",
     "{'spec':{'backup':{'repository':{'s3':null,'gcs':{'bucket':'pg-old','credentialsSecret':'gcs'}}}}}",
     "spec.backup.repository.gcs.bucket", PGW_ERR_FORBIDDEN, "cannot change on a running cluster (gcs.bucket)"},
    {"UPDATE",
     "{'spec':{'backup':{'repository':{'s3':null,'azure':{'account':'acmestore','container':'pg-new','credentialsSecret':'az'}}}}}",
     "{'spec':{'backup':{'repository':{'s3':null,'azure':{'account':'acmestore','container':'pg-old','credentialsSecret':'az'}}}}}",
     "spec.backup.repository.azure.container", PGW_ERR_FORBIDDEN, "azure.container"},
    {"UPDATE", "{'spec':{'backup':{'repository':{'s3':{'credentialsSecret':'s3-creds-rotated','uriStyle':'path'}}}}}", NULL, NULL,
     0, NULL},
    {"UPDATE", "{'spec':{'backup':{'repository':{'s3':null,'volume':{'size':'20Gi'}}}}}",
     "{'spec':{'backup':{'repository':{'s3':null,'volume':{'size':'10Gi'}}}}}", NULL, 0, NULL},
    {"UPDATE", "{'spec':{'backup':{'path':'/team-a/orders'}}}", NULL, "spec.backup.path", PGW_ERR_FORBIDDEN,
     "spec.backup.path cannot change on a running cluster (from /shop/demo to /team-a/orders)"},
    {"UPDATE", "{'spec':{'backup':{'path':'/team-a/orders'}}}", "{'spec':{'backup':{'path':'/team-a/orders'}}}", NULL, 0, NULL},
    {"UPDATE", "{'spec':{'backup':{'encryptionSecret':'pg-key'}}}", NULL, "spec.backup.encryptionSecret", PGW_ERR_FORBIDDEN,
     "spec.backup.encryptionSecret cannot change on a running cluster"},
    {"UPDATE", "{'spec':{'backup':{'encryptionSecret':'pg-key-2'}}}", "{'spec':{'backup':{'encryptionSecret':'pg-key'}}}",
     "spec.backup.encryptionSecret", PGW_ERR_FORBIDDEN, "encrypted with the old key"},
    {"UPDATE", "{'spec':{'backup':{'encryptionSecret':null}}}", "{'spec':{'backup':{'encryptionSecret':'pg-key'}}}",
     "spec.backup.encryptionSecret", PGW_ERR_FORBIDDEN, "cannot change"},
    {"UPDATE", "{'spec':{'backup':{'encryptionSecret':'pg-key'}}}", "{'spec':{'backup':{'encryptionSecret':'pg-key'}}}", NULL, 0,
     NULL},
    {"UPDATE",
     "{'spec':{'backup':{'retention':{'full':7,'fullType':'time','diff':3},'schedules':[{'name':'nightly','schedule':'0 3 * * "
     "*','type':'full'}]}}}",
     NULL, NULL, 0, NULL},
    {"UPDATE", "{'spec':{'backup':null}}", NULL, "spec.backup.repository", PGW_ERR_FORBIDDEN,
     "cannot be removed from a running cluster"},
    {"UPDATE", "{}", "{'spec':{'backup':null}}", NULL, 0, NULL}, /* adding one: its stanza is created */
    /* bootstrap */
    {"CREATE",
     "{'spec':{'bootstrap':{'initdb':{'database':'shop','owner':'shop_owner','encoding':'utf-8','locale':'en_US.UTF-8'}}}}", NULL,
     NULL, 0, NULL},
    {"CREATE", "{'spec':{'bootstrap':{'initdb':null,'restore':{'fromCluster':'orders','target':{'time':'2025-12-31T10:00:00Z'}}}}}",
     NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'bootstrap':{'initdb':{},'restore':{'fromCluster':'orders'}}}}", NULL, "spec.bootstrap", PGW_ERR_FORBIDDEN,
     "only one of initdb or restore"},
    {"CREATE", "{'spec':{'bootstrap':{'initdb':'yes'}}}", NULL, "spec.bootstrap.initdb", PGW_ERR_INVALID, "must be of type object"},
    {"CREATE", "{'spec':{'bootstrap':{'initdb':{'database':'My-DB'}}}}", NULL, "spec.bootstrap.initdb.database", PGW_ERR_INVALID,
     "SQL identifier"},
    {"CREATE", "{'spec':{'bootstrap':{'initdb':{'database':'postgres'}}}}", NULL, "spec.bootstrap.initdb.database", PGW_ERR_INVALID,
     "created by initdb"},
    {"CREATE", "{'spec':{'bootstrap':{'initdb':{'owner':'pg_app'}}}}", NULL, "spec.bootstrap.initdb.owner", PGW_ERR_INVALID,
     "reserved"},
    {"CREATE", "{'spec':{'bootstrap':{'initdb':{'encoding':'KLINGON'}}}}", NULL, "spec.bootstrap.initdb.encoding",
     PGW_ERR_NOT_SUPPORTED, NULL},
    {"CREATE", "{'spec':{'bootstrap':{'initdb':{'encoding':'LATIN1','locale':'en_US.UTF-8'}}}}", NULL,
     "spec.bootstrap.initdb.locale", PGW_ERR_INVALID, "does not match"},
    {"CREATE", "{'spec':{'bootstrap':{'initdb':null,'restore':{'fromCluster':'orders','target':{'time':'2026-06-01T00:00:00Z'}}}}}",
     NULL, "spec.bootstrap.restore.target.time", PGW_ERR_INVALID, "future"},
    {"CREATE", "{'spec':{'bootstrap':{'initdb':null,'restore':{}}}}", NULL, "spec.bootstrap.restore.fromCluster", PGW_ERR_REQUIRED,
     NULL},
    {"UPDATE", "{'spec':{'bootstrap':{'initdb':{'database':'other'}}}}", NULL, "spec.bootstrap", PGW_ERR_FORBIDDEN,
     "field is immutable"},
    /* affinity, nodeSelector, tolerations */
    {"CREATE",
     "{'spec':{'affinity':{'antiAffinity':'required','topologyKey':'topology.kubernetes.io/"
     "zone','nodeSelector':{'disktype':'ssd'},'tolerations':[{'key':'dedicated','operator':'Equal','value':'pg','effect':'"
     "NoExecute','tolerationSeconds':60},{'operator':'Exists'}]}}}",
     NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'affinity':{'antiAffinity':'always'}}}", NULL, "spec.affinity.antiAffinity", PGW_ERR_NOT_SUPPORTED, NULL},
    {"CREATE", "{'spec':{'affinity':{'topologyKey':'bad key!'}}}", NULL, "spec.affinity.topologyKey", PGW_ERR_INVALID, NULL},
    {"CREATE", "{'spec':{'affinity':{'nodeSelector':{'disktype':'not valid!'}}}}", NULL, "spec.affinity.nodeSelector[disktype]",
     PGW_ERR_INVALID, NULL},
    {"CREATE", "{'spec':{'affinity':{'nodeSelector':{'-bad':'x'}}}}", NULL, "spec.affinity.nodeSelector", PGW_ERR_INVALID, NULL},
    {"CREATE", "{'spec':{'affinity':{'tolerations':[{'operator':'Equal','value':'x'}]}}}", NULL,
     "spec.affinity.tolerations[0].operator", PGW_ERR_INVALID, "operator must be Exists when `key` is empty"},
    {"CREATE", "{'spec':{'affinity':{'tolerations':[{'key':'k','operator':'Exists','value':'x'}]}}}", NULL,
     "spec.affinity.tolerations[0].value", PGW_ERR_INVALID, "value must be empty when `operator` is 'Exists'"},
    {"CREATE", "{'spec':{'affinity':{'tolerations':[{'key':'k','operator':'Like'}]}}}", NULL,
     "spec.affinity.tolerations[0].operator", PGW_ERR_NOT_SUPPORTED, NULL},
    {"CREATE", "{'spec':{'affinity':{'tolerations':[{'key':'k','operator':'Exists','effect':'Evict'}]}}}", NULL,
     "spec.affinity.tolerations[0].effect", PGW_ERR_NOT_SUPPORTED, NULL},
    {"CREATE", "{'spec':{'affinity':{'tolerations':[{'key':'k','operator':'Exists','tolerationSeconds':5}]}}}", NULL,
     "spec.affinity.tolerations[0].effect", PGW_ERR_INVALID, "effect must be 'NoExecute'"},
    /* tls */
    {"CREATE", "{'spec':{'tls':{'secretName':'demo-server-tls'}}}", NULL, NULL, 0, NULL},
    {"CREATE", "{'spec':{'tls':{}}}", NULL, "spec.tls.secretName", PGW_ERR_REQUIRED, NULL},
    /* spec.metadata */
    {"CREATE", "{'spec':{'metadata':{'labels':{'team':'payments'},'annotations':{'example.com/owner':'oncall team'}}}}", NULL, NULL,
     0, NULL},
    {"CREATE", "{'spec':{'metadata':{'labels':{'pgwarden.io/cluster':'x'}}}}", NULL, "spec.metadata.labels", PGW_ERR_FORBIDDEN,
     "reserved prefix pgwarden.io/"},
    {"CREATE", "{'spec':{'metadata':{'labels':{'app.kubernetes.io/name':'x'}}}}", NULL, "spec.metadata.labels", PGW_ERR_FORBIDDEN,
     "reserved prefix kubernetes.io/"},
    {"CREATE", "{'spec':{'metadata':{'annotations':{'k8s.io/x':'y'}}}}", NULL, "spec.metadata.annotations", PGW_ERR_FORBIDDEN,
     "reserved prefix k8s.io/"},
    {"CREATE", "{'spec':{'metadata':{'labels':{'team':'has space'}}}}", NULL, "spec.metadata.labels[team]", PGW_ERR_INVALID, NULL},
    {"CREATE", "{'spec':{'metadata':{'annotations':{'bad key':'x'}}}}", NULL, "spec.metadata.annotations", PGW_ERR_INVALID, NULL},
    /* deletionProtection */
    {"DELETE", NULL, "{'spec':{'deletionProtection':false}}", NULL, 0, NULL},
    {"DELETE", NULL, "{'spec':{'deletionProtection':true}}", "spec.deletionProtection", PGW_ERR_FORBIDDEN,
     "deletion protection is enabled"},
    {"CREATE", "{'spec':{'deletionProtection':'yes'}}", NULL, "spec.deletionProtection", PGW_ERR_INVALID,
     "must be of type boolean"},
    /* spec itself */
    {"CREATE", "{'spec':'x'}", NULL, "spec", PGW_ERR_INVALID, "must be of type object"},
};

static json_t *defaulted(const char *patch, const char *op)
{
    return defaulted_cluster(base_json, patch, op, NOW);
}

START_TEST(test_rule)
{
    const struct row *r = &rows[_i];
    json_t *object = NULL, *old = NULL;
    if (strcmp(r->op, "DELETE") != 0)
        object = defaulted(r->patch, r->op);
    if (strcmp(r->op, "CREATE") != 0)
        old = defaulted(r->old, "CREATE");
    struct pgw_request_ctx ctx = {.operation = r->op, .namespace = "shop", .name = "demo", .now = NOW};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_validate_postgrescluster(object, old, &ctx, &errs);
    char *text = errors_text(&errs);
    if (r->path == NULL)
        ck_assert_msg(errs.count == 0, "row %d (%s %s): expected no error, got:%s", _i, r->op, r->patch, text);
    else
        ck_assert_msg(has_error(&errs, r->path, r->type, r->detail), "row %d (%s %s): expected %s %s \"%s\", got:%s", _i, r->op,
                      r->patch, r->path, pgw_error_type_string(r->type), r->detail ? r->detail : "", text);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(object);
    json_decref(old);
}
END_TEST

/* All errors are collected, not only the first. */
START_TEST(test_collects_all)
{
    json_t *obj = defaulted("{'spec':{'instances':0,'postgresVersion':9,'storage':{'size':'x'}}}", "CREATE");
    struct pgw_request_ctx ctx = {.operation = "CREATE", .namespace = "shop", .name = "demo", .now = NOW};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_validate_postgrescluster(obj, NULL, &ctx, &errs);
    ck_assert_int_eq(errs.count, 3);
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

/* Objects that bypassed defaulting (the controller's guard sees them): required fields are reported. */
START_TEST(test_undefaulted)
{
    json_t *obj = q("{'metadata':{'name':'demo'},'spec':{'storage':{'size':'1Gi'},'bootstrap':{}}}");
    struct pgw_request_ctx ctx = {.operation = "CREATE", .namespace = "shop", .name = "demo", .now = NOW};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_validate_postgrescluster(obj, NULL, &ctx, &errs);
    ck_assert(has_error(&errs, "spec.postgresVersion", PGW_ERR_REQUIRED, NULL));
    ck_assert(has_error(&errs, "spec.instances", PGW_ERR_REQUIRED, NULL));
    ck_assert(has_error(&errs, "spec.bootstrap", PGW_ERR_REQUIRED, "exactly one of initdb or restore"));
    ck_assert_int_eq(errs.count, 3);
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

static const struct {
    const char *patch;
    const char *warning; /* NULL: that warning must be absent */
    const char *absent;
} warning_rows[] = {
    {"{'spec':{'instances':1,'postgres':{'parameters':{'max_wal_senders':'10'}}}}", "no high availability", NULL},
    {"{'spec':{'instances':3}}", NULL, "no high availability"},
    {"{'spec':{'postgresVersion':14}}", "past end of life", NULL},
    {"{'spec':{'postgresVersion':17}}", NULL, "past end of life"},
    {"{'spec':{'backup':null}}", "no backups", NULL},
    {"{'spec':{'postgres':{'pgHba':['local all all trust']}}}", "trust on a local line", NULL},
    {"{'spec':{'bootstrap':{'initdb':{'dataChecksums':false}}}}", "corruption", NULL},
    {"{'spec':{'pooler':{'mode':'statement'}}}", "statement pooling", NULL},
    {"{'spec':{'affinity':{'antiAffinity':'none'}}}", "may land on one node", NULL},
    {"{'spec':{'unknownThing':1}}", "unknown field \"spec.unknownThing\"", NULL},
    {"{'spec':{'image':'postgres:16.4'}}", "does not look like PostgreSQL 18", NULL},
    {"{'spec':{'backup':{'schedules':[{'name':'a','schedule':'@daily','type':'incr'}]}}}", "no full backup", NULL},
};

START_TEST(test_warning)
{
    json_t *obj = defaulted(warning_rows[_i].patch, "CREATE");
    struct pgw_request_ctx ctx = {.operation = "CREATE", .namespace = "shop", .name = "demo", .now = NOW};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_validate_postgrescluster(obj, NULL, &ctx, &errs);
    char *text = errors_text(&errs);
    ck_assert_msg(errs.count == 0, "row %d: unexpected errors:%s", _i, text);
    if (warning_rows[_i].warning)
        ck_assert_msg(has_warning(&errs, warning_rows[_i].warning), "row %d: missing warning %s", _i, warning_rows[_i].warning);
    if (warning_rows[_i].absent)
        ck_assert_msg(!has_warning(&errs, warning_rows[_i].absent), "row %d: unexpected warning %s", _i, warning_rows[_i].absent);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

/* Adding a repository to a running cluster is allowed, with the warning that its pods must be re-created
 * (they predate the pgBackRest server and archive_mode); an unchanged repository warns of nothing. */
START_TEST(test_repository_added_warns)
{
    static const char *const old_patches[] = {"{'spec':{'backup':null}}", NULL};
    for (int i = 0; i != 2; ++i) {
        json_t *obj = defaulted(NULL, "UPDATE"), *old = defaulted(old_patches[i], "CREATE");
        struct pgw_request_ctx ctx = {.operation = "UPDATE", .namespace = "shop", .name = "demo", .now = NOW};
        struct pgw_errors errs;
        pgw_errors_init(&errs);
        pgw_validate_postgrescluster(obj, old, &ctx, &errs);
        ck_assert_int_eq(errs.count, 0);
        ck_assert_int_eq(has_warning(&errs, "pods must be re-created"), i == 0);
        pgw_errors_dispose(&errs);
        json_decref(obj);
        json_decref(old);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cluster_validation");
    TCase *tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_rule, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, test_collects_all);
    tcase_add_test(tc, test_undefaulted);
    tcase_add_loop_test(tc, test_warning, 0, (int)(sizeof(warning_rows) / sizeof(warning_rows[0])));
    tcase_add_test(tc, test_repository_added_warns);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
