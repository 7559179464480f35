#include "zakpos_backup/command/backup.h"
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/repo/index.h"
#include "zakpos_backup/remote/copy.h"
#include "zakpos_backup/repo/repo.h"
#include "zakpos_backup/source/docker/agent.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/source/path/path.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pg.h"
#include "zakpos_backup/source/source.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: zakpos-backup backup --repo DIR\n"
    "           (--recipient PUBFILE... | --passphrase-file FILE | --no-encryption)\n"
    "           [--pg CONNINFO] [--volume NAME...] [--volume-label KEY=VALUE...]\n"
    "           [--compose-project NAME...] [--path [NAME=]DIR...]\n"
    "\n"
    "Writes one new archive into the repository folder DIR and prints its path\n"
    "on stdout (and nothing else). Logs and progress go to stderr. The archive\n"
    "appears under its final name only once it is complete and on disk.\n"
    "\n"
    "Sources:\n"
    "  --pg CONNINFO            a PostgreSQL database (libpq connection string or\n"
    "                           postgresql:// URI; password from PGPASSWORD, ~/.pgpass or\n"
    "                           ZAKPOS_BACKUP_PG_PASSWORD_FILE, never on the command line)\n"
    "  --volume NAME            a Docker named volume, through the Docker Engine API\n"
    "                           (DOCKER_HOST, default unix:///var/run/docker.sock; repeatable)\n"
    "  --volume-label KEY=VALUE every volume with this label (repeatable)\n"
    "  --compose-project NAME   every volume of this Compose project (repeatable); the\n"
    "                           PostgreSQL data volume is left out unless named\n"
    "  --path [NAME=]DIR        a host folder or file (bind-mounted config and data);\n"
    "                           NAME defaults to the last component of DIR (repeatable)\n"
    "\n"
    "Running services: containers using a volume are stopped while it is read if\n"
    "labelled zakpos-backup.stop-during-backup=true (paused if =pause), and run\n"
    "zakpos-backup.exec-pre / exec-post commands around it; always started again.\n"
    "  --stop-container NAME    stop this container too while its volumes are read\n"
    "  --pause-container NAME   pause this container while its volumes are read\n"
    "  --volume-api             read volumes through the Docker API even where their\n"
    "                           folder (Mountpoint) is reachable; by default such a\n"
    "                           folder is read directly, which keeps every attribute\n"
    "  --volume-agent           read volumes through the volume agent (zb-volume-agent in\n"
    "                           a helper container, every attribute kept) even where\n"
    "                           their folder is reachable; the default where it is not\n"
    "  --volume-direct          accepted for older scripts: direct reading is the default\n"
    "\n"
    "Database options:\n"
    "  --pg-name NAME           the database's name in the archive (default: its dbname)\n"
    "  --pg-password-file FILE  the database password, read from FILE (a Docker secret)\n"
    "  --jobs N                 connections copying tables in parallel (default: cores)\n"
    "  --pg-lock-timeout MS     how long to wait for a table lock (default 10000)\n"
    "  --pg-chunk-size SIZE     rows are stored in chunks of about SIZE (default 4M)\n"
    "  --pg-skip-unsupported    back up what is supported and list the rest (and what\n"
    "                           depends on it) in the manifest as skipped, instead of failing\n"
    "  --with-role-passwords    also store the roles' password verifiers with the cluster\n"
    "                           globals (postgres.with_role_passwords; docs/SECURITY.md)\n"
    "\n"
    "Protection (one is required):\n"
    "  --recipient PUBFILE      encrypt for this public key (repeatable); the\n"
    "                           backup host needs no secret that can read the archive\n"
    "  --signing-key FILE       sign archives for recipients with this key (keygen's\n"
    "                           FILE.sign; default: FILE.sign beside the first\n"
    "                           recipient's FILE.pub); readers refuse unsigned ones\n"
    "  --passphrase-file FILE   encrypt with a passphrase (Argon2id); also\n"
    "                           ZAKPOS_BACKUP_PASSPHRASE_FILE or ZAKPOS_BACKUP_PASSPHRASE\n"
    "  --no-encryption          write an unencrypted archive (marked as such)\n"
    "\n"
    "Options:\n"
    "  --repo DIR               the repository folder (created if missing)\n"
    "  --name NAME              archive name prefix (default: zakpos)\n"
    "  --zstd-level N           compression level, 1-19 (default 3)\n"
    "  --zstd-workers N         compression threads (default: number of cores)\n"
    "  --kdf-memory SIZE        Argon2id memory for a passphrase (default 32M)\n"
    "\n"
    "Offsite copies: the archive is then copied to every [remote NAME] of the\n"
    "configuration, whose retention is applied there (docs/CONFIG.md).\n"
    "  --remote NAME            copy to this remote only (repeatable)\n"
    "  --no-remote              copy to no remote\n"
    "  --lock-wait DURATION     wait up to this long (e.g. 30m) while another run holds the\n"
    "                           repository, saying whom it waits for (default 0: exit 12 at once)\n";

enum {
    OPT_NO_ENCRYPTION = ZB_OPT_COMMAND_BASE,
    OPT_PATH,
    OPT_ZSTD_WORKERS,
    OPT_CHUNK_SIZE,
    OPT_KDF_MEMORY,
    OPT_PG_NAME,
    OPT_PG_LOCK_TIMEOUT,
    OPT_PG_CHUNK_SIZE,
    OPT_PG_SKIP_UNSUPPORTED,
    OPT_VOLUME_LABEL,
    OPT_COMPOSE_PROJECT,
    OPT_STOP_CONTAINER,
    OPT_PAUSE_CONTAINER,
    OPT_VOLUME_DIRECT,
    OPT_VOLUME_API,
    OPT_VOLUME_AGENT,
    OPT_REMOTE,
    OPT_NO_REMOTE,
};

#define VOLUME_ATTEMPTS 3

static int wants_volumes(const zb_backup_request *req)
{
    return req->volumes.count + req->volume_labels.count + req->compose_projects.count > 0;
}

static int parse(zb_backup_request *req, int argc, char **argv)
{
    static const struct option local[] = {
        {"no-encryption", no_argument, NULL, OPT_NO_ENCRYPTION},
        {"path", required_argument, NULL, OPT_PATH},
        {"zstd-workers", required_argument, NULL, OPT_ZSTD_WORKERS},
        {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
        {"kdf-memory", required_argument, NULL, OPT_KDF_MEMORY},
        {"pg-name", required_argument, NULL, OPT_PG_NAME},
        {"pg-lock-timeout", required_argument, NULL, OPT_PG_LOCK_TIMEOUT},
        {"pg-chunk-size", required_argument, NULL, OPT_PG_CHUNK_SIZE},
        {"pg-skip-unsupported", no_argument, NULL, OPT_PG_SKIP_UNSUPPORTED},
        {"volume-label", required_argument, NULL, OPT_VOLUME_LABEL},
        {"compose-project", required_argument, NULL, OPT_COMPOSE_PROJECT},
        {"stop-container", required_argument, NULL, OPT_STOP_CONTAINER},
        {"pause-container", required_argument, NULL, OPT_PAUSE_CONTAINER},
        {"volume-direct", no_argument, NULL, OPT_VOLUME_DIRECT},
        {"volume-api", no_argument, NULL, OPT_VOLUME_API},
        {"volume-agent", no_argument, NULL, OPT_VOLUME_AGENT},
        {"remote", required_argument, NULL, OPT_REMOTE},
        {"no-remote", no_argument, NULL, OPT_NO_REMOTE},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "backup", local) < 0)
        return zb_error_code();
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_REPO): req->repo = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_RECIPIENTS): rc = zb_strv_push(&req->recipients, optarg); break;
        case ZB_SETTING_OPT(ZB_SET_SIGNING_KEY_FILE): req->write.keys.signing_key_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PASSPHRASE_FILE): req->write.keys.passphrase_file = optarg; break;
        case OPT_NO_ENCRYPTION: req->write.keys.no_encryption = 1; break;
        case OPT_PATH: rc = zb_strv_push(&req->paths, optarg); break;
        case ZB_SETTING_OPT(ZB_SET_NAME): req->name = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_ZSTD_LEVEL):
            rc = zb_cli_parse_int(&req->write.zstd_level, optarg, "--zstd-level", 1, 19);
            break;
        case OPT_ZSTD_WORKERS: rc = zb_cli_parse_int(&req->write.zstd_workers, optarg, "--zstd-workers", 0, 256); break;
        case OPT_CHUNK_SIZE: rc = zb_cli_parse_size(&req->write.chunk_size, optarg, "--chunk-size"); break;
        case OPT_KDF_MEMORY: rc = zb_cli_parse_size(&req->write.keys.kdf_memlimit, optarg, "--kdf-memory"); break;
        case ZB_SETTING_OPT(ZB_SET_PG_CONNINFO):
            if (req->pg_selected)
                return zb_cli_usage_error("backup", "--pg may be given once");
            req->pg_selected = 1, req->pg.conninfo = optarg;
            break;
        case OPT_PG_NAME: req->pg_name = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PG_PASSWORD_FILE): req->pg.password_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PG_JOBS): rc = zb_cli_parse_int(&req->pg.jobs, optarg, "--jobs", 1, 64); break;
        case OPT_PG_LOCK_TIMEOUT:
            rc = zb_cli_parse_int(&req->pg.lock_timeout_ms, optarg, "--pg-lock-timeout", 1, 86400000);
            break;
        case OPT_PG_CHUNK_SIZE: rc = zb_cli_parse_size(&req->pg.chunk_bytes, optarg, "--pg-chunk-size"); break;
        case OPT_PG_SKIP_UNSUPPORTED: req->pg.skip_unsupported = 1; break;
        case ZB_SETTING_OPT(ZB_SET_PG_WITH_ROLE_PASSWORDS): req->pg.with_role_passwords = 1; break;
        case ZB_SETTING_OPT(ZB_SET_VOLUMES): rc = zb_strv_push(&req->volumes, optarg); break;
        case OPT_VOLUME_LABEL: rc = zb_strv_push(&req->volume_labels, optarg); break;
        case OPT_COMPOSE_PROJECT: rc = zb_strv_push(&req->compose_projects, optarg); break;
        case OPT_STOP_CONTAINER: rc = zb_strv_push(&req->stop_containers, optarg); break;
        case OPT_PAUSE_CONTAINER: rc = zb_strv_push(&req->pause_containers, optarg); break;
        case OPT_VOLUME_DIRECT: req->volume_api = 0, req->volume_agent = 0; break;
        case OPT_VOLUME_API: req->volume_api = 1; break;
        case OPT_VOLUME_AGENT: req->volume_agent = 1; break;
        case OPT_REMOTE: rc = zb_strv_push(&req->remotes, optarg); break;
        case OPT_NO_REMOTE: req->no_remote = 1; break;
        case ZB_SETTING_OPT(ZB_SET_COMMAND_LOCK_WAIT):
            rc = zb_cli_parse_duration(&req->lock_wait, optarg, "--lock-wait");
            break;
        case ZB_OPT_HELP: fputs(help, stdout); return 1;
        default: return zb_cli_bad_option("backup", argv);
        }
    }
    if (rc < 0)
        return rc;
    if (optind < argc)
        return zb_cli_usage_error("backup", "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* What a request must hold, however it was made. */
static int check(zb_backup_request *req)
{
    if (!req->repo)
        return zb_cli_usage_error("backup", "--repo DIR is required");
    if (req->no_remote && req->remotes.count)
        return zb_cli_usage_error("backup", "--no-remote cannot be combined with --remote");
    if (req->paths.count == 0 && !req->pg_selected && !wants_volumes(req))
        return zb_cli_usage_error("backup", "nothing to back up: give at least one source (--pg, --volume, --path)");
    req->write.keys.recipient_files = req->recipients.items;
    req->write.keys.recipient_count = req->recipients.count;
    int protections = (req->recipients.count > 0 || req->write.keys.passphrase_file) + req->write.keys.no_encryption;
    if (protections == 0 && zb_keys_env_has_passphrase())
        req->write.keys.use_env_passphrase = 1, protections = 1;
    if (protections == 0)
        return zb_cli_usage_error("backup",
                                  "say how to protect the archive: --recipient PUBFILE, "
                                  "--passphrase-file FILE, or --no-encryption");
    if (req->write.keys.signing_key_file && req->recipients.count == 0)
        return zb_cli_usage_error("backup",
                                  "--signing-key signs archives for recipient keys; give --recipient PUBFILE");
    if (protections > 1)
        return zb_cli_usage_error("backup", "--no-encryption cannot be combined with a recipient or passphrase");
    return 0;
}

/* "<repo>/<name>-<UTC timestamp>.zbk", with "-N" added if that name is taken. */
static int archive_path(char *out, size_t size, const char *repo, const char *name, time_t now)
{
    char stamp[32];
    zb_time_format_compact(stamp, sizeof(stamp), now);
    for (int n = 1; n < 100; n++) {
        int len = n == 1 ? snprintf(out, size, "%s/%s-%s%s", repo, name, stamp, ZB_ARCHIVE_EXTENSION)
                         : snprintf(out, size, "%s/%s-%s-%d%s", repo, name, stamp, n, ZB_ARCHIVE_EXTENSION);
        if (len >= (int)size)
            return zb_error_set(ZB_EUSAGE, "repository path too long: %s", repo);
        if (access(out, F_OK) != 0)
            return 0;
    }
    return zb_error_set(ZB_EEXIST, "too many archives named %s-%s in %s", name, stamp, repo);
}

static void log_summary(const char *path, zb_archive_writer *w, double seconds);

/* The published archive's sources and size go into the repository index,
 * for `list`; the archive is complete without it, so a failure only warns. */
static void record_in_index(const char *path, zb_archive_writer *w)
{
    char *repo = NULL, *name = NULL;
    struct stat st;
    if (zb_repo_split_path(&repo, &name, path) < 0)
        return;
    if (zb_repo_index_describe(repo, name, zb_archive_writer_sources(w),
                               stat(path, &st) == 0 ? (uint64_t)st.st_size : 0) < 0)
        zb_log_warn("%s", zb_error_message());
    free(repo);
    free(name);
}

/* Every kind reads what the request selected of it, in the kinds' order. */
static int back_up_sources(zb_archive_writer *w, const zb_source_selection *sel)
{
    int rc = 0;
    for (const zb_source_ops *const *k = zb_source_kinds; rc == 0 && *k; k++) {
        if (!(*k)->selected(sel))
            continue;
        zb_progress_rename((*k)->reading);
        rc = (*k)->backup(w, sel);
    }
    return rc;
}

/* One try at the archive: every source into a new temporary file. */
static int write_archive(char *path, size_t path_size, zb_backup_request *req, zb_docker *d, char **volumes,
                         size_t volume_count, int *retry, double started)
{
    zb_archive_writer *w = NULL;
    int rc = archive_path(path, path_size, req->repo, req->name, time(NULL));
    if (rc == 0)
        zb_log_detail("writing %s", path);
    if (rc == 0)
        rc = zb_archive_writer_open(&w, path, &req->write);
    /* no total: the sources' sizes are known only once read */
    if (rc == 0)
        zb_progress_begin("backup", 0);
    zb_volume_backup_options volume = {req->stop_containers.items, req->pause_containers.items, req->volume_api,
                                       req->volume_agent};
    zb_source_selection sel = {(const char *const *)req->paths.items,
                               req->paths.count,
                               req->pg_selected,
                               req->pg_name,
                               &req->pg,
                               d,
                               volumes,
                               volume_count,
                               &volume,
                               retry};
    if (rc == 0)
        rc = back_up_sources(w, &sel);
    if (rc == 0)
        zb_progress_phase("publishing the archive", 0);
    if (rc == 0)
        rc = zb_archive_writer_close(w);
    zb_progress_end();
    if (rc == 0) {
        log_summary(path, w, zb_time_monotonic() - started);
        record_in_index(path, w);
    } else if (w)
        zb_log_detail("the incomplete archive was removed; no file was published");
    zb_archive_writer_free(w);
    return rc;
}

static void log_summary(const char *path, zb_archive_writer *w, double seconds)
{
    struct stat st;
    uint64_t in = zb_archive_writer_bytes_in(w), out = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    char in_text[32], out_text[32], rate[32], took[32];
    zb_format_bytes(in_text, sizeof(in_text), in);
    zb_format_bytes(out_text, sizeof(out_text), out);
    zb_format_bytes(rate, sizeof(rate), seconds > 0 ? (uint64_t)((double)in / seconds) : in);
    zb_format_duration(took, sizeof(took), seconds);
    zb_log_info("backup complete: %s (%s of data in %s archive, %s, %s/s)", path, in_text, out_text, took, rate);
}

/* What killed runs left: their unfinished archives here (safe under the
 * lock) and their helper containers. A failure is logged, never fatal. */
static void sweep_leftovers(const char *repo, zb_docker *docker)
{
    if (zb_repo_sweep_partials(repo) < 0)
        zb_log_warn("%s", zb_error_message());
    if (docker)
        zb_helper_sweep(docker);
    else
        zb_agent_sweep_folders();
}

void zb_backup_request_init(zb_backup_request *req)
{
    memset(req, 0, sizeof(*req));
    req->name = "zakpos";
    req->write.zstd_workers = -1;
}

void zb_backup_request_free(zb_backup_request *req)
{
    zb_strv_free(&req->recipients);
    zb_strv_free(&req->paths);
    zb_strv_free(&req->volumes);
    zb_strv_free(&req->volume_labels);
    zb_strv_free(&req->compose_projects);
    zb_strv_free(&req->stop_containers);
    zb_strv_free(&req->pause_containers);
    zb_strv_free(&req->remotes);
}

int zb_cmd_backup(zb_context *ctx, int argc, char **argv)
{
    zb_backup_request req;
    zb_backup_request_init(&req);
    int rc = parse(&req, argc, argv);
    if (rc == 0)
        rc = zb_backup_run(ctx, &req);
    zb_backup_request_free(&req);
    return rc > 0 ? 0 : rc;
}

int zb_backup_run(zb_context *ctx, zb_backup_request *r)
{
    zb_backup_request req = *r; /* the lists stay the caller's */
    const zb_config *config = NULL;
    zb_repo_lock *lock = NULL;
    zb_docker *docker = NULL;
    zb_remote_plan *remotes = NULL;
    char **volumes = NULL;
    size_t volume_count = 0;
    char path[PATH_MAX];
    double started = zb_time_monotonic();
    int rc = check(&req);
    if (rc != 0)
        goto done;
    if ((rc = zb_manifest_check_source_name(req.name)) < 0)
        goto done;
    /* the configuration names the remotes; a bad one fails before any work */
    if (!req.no_remote && (rc = zb_context_config(&config, ctx)) < 0)
        goto done;
    if ((rc = zb_remote_plan_new(&remotes, config, req.remotes.items, req.remotes.count, req.no_remote)) < 0)
        goto done;
    if (wants_volumes(&req) && ((rc = zb_docker_open(&docker, NULL)) < 0 ||
                                (rc = zb_volume_select(&volumes, &volume_count, docker, req.volumes.items,
                                                       req.volume_labels.items, req.compose_projects.items)) < 0))
        goto done;
    if (wants_volumes(&req) && volume_count == 0)
        zb_log_warn("no Docker volume matched the labels or projects given");
    /* One run at a time per repository: the lock dies with the process. */
    if ((rc = zb_fs_mkdir_p(req.repo, 0700)) < 0 || (rc = zb_repo_lock_take(&lock, req.repo, req.lock_wait)) < 0)
        goto done;
    sweep_leftovers(req.repo, docker);
    for (int attempt = 1;; attempt++) {
        int retry = 0;
        rc = write_archive(path, sizeof(path), &req, docker, volumes, volume_count, &retry, started);
        if (rc == 0 || !retry || attempt == VOLUME_ATTEMPTS || zb_interrupted())
            break;
        zb_log_warn("%s; writing the archive again (try %d of %d)", zb_error_message(), attempt + 1, VOLUME_ATTEMPTS);
    }
    if (rc < 0)
        goto done;
    zb_context_print(ctx, "%s\n", path);
    fflush(stdout);
    rc = zb_remote_plan_copy(remotes, path); /* under the lock: prune cannot remove it meanwhile */
done:
    zb_remote_plan_free(remotes);
    zb_volume_names_free(volumes, volume_count);
    zb_docker_close(docker);
    zb_repo_lock_release(lock);
    return rc;
}
