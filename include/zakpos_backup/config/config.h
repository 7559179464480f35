/* Configuration: built-in defaults that match the zakpos stack, then the
 * config file (INI), then environment variables (with a _FILE variant for
 * every secret, for Docker secrets), then command-line flags. One key table
 * drives parsing, the environment and `config check`, which prints every
 * effective value with where it came from and secrets masked. */
#ifndef ZB_CONFIG_CONFIG_H
#define ZB_CONFIG_CONFIG_H

#include "zakpos_backup/config/remote.h"
#include "zakpos_backup/repo/retention.h"

#include <stddef.h>

#define ZB_CONFIG_DEFAULT_FILE "/etc/zakpos-backup/config"
#define ZB_CONFIG_LOCAL_FILE   "./zakpos-backup.conf"
#define ZB_CONFIG_MAX_PATHS    32
#define ZB_CONFIG_MAX_JOBS     16
#define ZB_CONFIG_MAX_CHECKS   32
#define ZB_CONFIG_MAX_REMOTES  8

typedef struct zb_config_path {
    char *name;
    char *dir;
    char *origin;
} zb_config_path;

typedef struct zb_config_job {
    char *name;
    char *schedule; /* cron expression */
    char *action;   /* backup, prune, verify, verify-restore */
    int prune;      /* backup jobs: prune afterwards with the repository's keep rules */
    char *origin;
} zb_config_job;

/* [check NAME]: a smoke check a drill runs in the restored database: the
 * query's result (columns joined by '|', rows by newlines) must equal expect. */
typedef struct zb_config_check {
    char *name;
    char *sql;
    char *expect;
    char *origin;
} zb_config_check;

typedef struct zb_config {
    /* [repository] */
    char *repo;
    char *archive_name;
    char *recipients; /* space-separated public key files */
    char *passphrase_file;
    char *key_file;         /* secret key for verify jobs (not needed to back up) */
    char *signing_key_file; /* the backup host's signing key (keygen's FILE.sign) */
    char *trust;            /* space-separated signer files readers trust besides the key file's */
    int zstd_level;
    zb_retention_policy keep;
    /* [postgres] */
    int pg_enabled;
    char *pg_conninfo;
    char *pg_password_file;
    int pg_jobs;
    int pg_with_role_passwords; /* backups store the roles' password verifiers */
    /* [verify]: the server and role restore verifications use */
    char *verify_pg_conninfo;
    char *verify_pg_password_file;
    /* [docker] */
    int volumes_enabled;
    char *docker_host;
    char *volumes; /* space-separated names */
    /* [paths] NAME = DIR */
    zb_config_path paths[ZB_CONFIG_MAX_PATHS];
    size_t path_count;
    /* [daemon] */
    char *timezone;
    int random_delay_seconds;
    int healthcheck_max_age_seconds;
    char *state_dir;
    char *metrics_file;
    char *webhook_url; /* a secret: it often carries a token */
    int webhook_on_success;
    int lock_wait_seconds; /* run and daemon: how long a job waits for a busy repository */
    /* [follow] */
    int follow_enabled; /* the daemon runs the follower and watches its slot */
    char *follow_slot;
    int follow_segment_seconds;
    long long follow_segment_bytes;
    char *follow_replica_identity_full;  /* space-separated schema.table */
    char *follow_exclude_tables;         /* space-separated schema.table */
    int follow_max_lag_seconds;          /* healthcheck */
    long long follow_slot_max_wal_bytes; /* the daemon's slot watcher */
    int follow_slot_max_age_seconds;
    /* [job NAME] */
    zb_config_job jobs[ZB_CONFIG_MAX_JOBS];
    size_t job_count;
    /* [recover] */
    char *recover_smoke_command;   /* run by /bin/sh once the stack is up again; exit 0 passes */
    char *recover_compose_file;    /* the stack's docker-compose.yml, for recover --plan */
    char *recover_compose_project; /* the stack's Compose project (default: found from its volumes) */
    int recover_health_timeout_seconds;
    /* [check NAME] */
    zb_config_check checks[ZB_CONFIG_MAX_CHECKS];
    size_t check_count;
    /* [remote NAME]: offsite copies */
    zb_config_remote remotes[ZB_CONFIG_MAX_REMOTES];
    size_t remote_count;
    /* Where each value came from, for `config check`. */
    char *file;     /* the file read, or NULL */
    char **origins; /* per key of the table: "default", "FILE:LINE", "env NAME" */
    size_t origin_count;
} zb_config;

/* Loads defaults, then `file` (NULL: ZB_CONFIG_DEFAULT_FILE, then
 * ZB_CONFIG_LOCAL_FILE, whichever exists first; a file named explicitly must
 * exist), then the environment. Errors name the file, line and key. */
int zb_config_load(zb_config *out, const char *file);
void zb_config_free(zb_config *c);
/* Writes the effective settings, one "section.key = value  (origin)" a line,
 * with secrets masked. */
void zb_config_print(const zb_config *c, FILE *out);
/* Where section.key got its value: "default", "FILE:LINE" or "env VAR". */
const char *zb_config_origin(const zb_config *c, const char *section, const char *key);
/* Makes daemon.timezone (else the TZ the process started with) the zone of
 * schedules and retention buckets: one rule for prune, run and the daemon. */
int zb_config_use_timezone(const zb_config *c);
/* Whether section.key was set by a file or the environment (not a default). */
int zb_config_is_set(const zb_config *c, const char *section, const char *key);
/* Parses yes/no, true/false, on/off, 1/0; -1 for anything else. */
int zb_config_parse_bool(int *out, const char *text);
/* Parses "90", "90s", "15m", "26h", "7d" into seconds. */
int zb_config_parse_duration(int *seconds, const char *text, const char *what);

#endif
