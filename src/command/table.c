#include "zakpos_backup/command/table.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/command/backup.h"
#include "zakpos_backup/command/check.h"
#include "zakpos_backup/command/config.h"
#include "zakpos_backup/command/daemon.h"
#include "zakpos_backup/command/fetch.h"
#include "zakpos_backup/command/follow.h"
#include "zakpos_backup/command/healthcheck.h"
#include "zakpos_backup/command/keygen.h"
#include "zakpos_backup/command/latest.h"
#include "zakpos_backup/command/list.h"
#include "zakpos_backup/command/prune.h"
#include "zakpos_backup/command/recover.h"
#include "zakpos_backup/command/remote.h"
#include "zakpos_backup/command/restore.h"
#include "zakpos_backup/command/run.h"
#include "zakpos_backup/command/settings.h"
#include "zakpos_backup/command/show.h"
#include "zakpos_backup/command/sign.h"
#include "zakpos_backup/command/drill.h"
#include "zakpos_backup/command/verify.h"
#include "zakpos_backup/remote/copy.h"
#include "zakpos_backup/source/docker/swap.h"
#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/http.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/secret.h"
#include "zakpos_backup/common/signal.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A command reads an ARCHIVE argument given as remote:NAME/ARCHIVE from a
 * download made before it runs. */
#define REMOTE_ARCHIVE 1u
/* Internal: not listed in --help. */
#define HIDDEN         2u

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(zb_context *ctx, int argc, char **argv);
    unsigned flags;
} command;

static const command commands[] = {
    {"keygen", "create the keys: encryption pair and the backup host's signing key", zb_cmd_keygen, 0},
    {"backup", "write a new archive of the selected sources", zb_cmd_backup, 0},
    {"verify", "check every tag and hash of an archive (--restore: restore it and compare)", zb_cmd_verify,
     REMOTE_ARCHIVE},
    {"drill", "rehearse a disaster: restore everything, verify, run smoke checks, report RTO/RPO", zb_cmd_drill,
     REMOTE_ARCHIVE},
    {"list", "list the archives in a repository", zb_cmd_list, 0},
    {"latest", "print the path of the newest archive in a repository", zb_cmd_latest, 0},
    {"prune", "remove archives that no retention rule keeps", zb_cmd_prune, 0},
    {"config", "check the configuration and print the effective settings", zb_cmd_config, 0},
    {"healthcheck", "exit 0 if the last successful backup is recent enough", zb_cmd_healthcheck, 0},
    {"check", "check that the database can be reached as a backup reaches it", zb_cmd_check, 0},
    {"show", "show an archive's header and manifest summary", zb_cmd_show, REMOTE_ARCHIVE},
    {"sign", "vouch for archives written before signing (a detached ARCHIVE.sig)", zb_cmd_sign, 0},
    {"restore", "restore sources from an archive", zb_cmd_restore, REMOTE_ARCHIVE},
    {"recover", "bring the whole host back: roles, database, volumes, folders, then the stack", zb_cmd_recover,
     REMOTE_ARCHIVE},
    {"run", "run one job of the configuration once (for cron or a systemd timer)", zb_cmd_run, 0},
    {"daemon", "run the configured jobs on their schedules", zb_cmd_daemon, 0},
    {"fetch", "download an archive from a configured remote", zb_cmd_fetch, 0},
    {"follow", "stream the database's changes into the repository, for restore --until", zb_cmd_follow, 0},
    {"remote", "list, copy to, delete from or prune a configured remote", zb_cmd_remote, 0},
    {"settings", "the settings table as documentation lists", zb_cmd_settings, HIDDEN},
};

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: zakpos-backup [GLOBAL OPTIONS] COMMAND [OPTIONS]\n"
            "\n"
            "Backup and recovery for the zakpos stack: PostgreSQL, Docker volumes and\n"
            "host paths in one compressed, encrypted, verifiable archive.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < ZB_ARRAY_LEN(commands); i++)
        if (!(commands[i].flags & HIDDEN))
            fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Global options (before the command):\n"
            "  --config FILE        the config file (default /etc/zakpos-backup/config, then ./zakpos-backup.conf)\n"
            "  --log-level LEVEL    error, warn, info (default), detail, debug\n"
            "  --log-format FORMAT  text, json, auto (default: text on a terminal, json otherwise)\n"
            "  -q, --quiet          only errors (same as --log-level error)\n"
            "  -v, --verbose        more detail (same as --log-level detail)\n"
            "  --no-progress        never draw a progress bar\n"
            "  --version            print the version\n"
            "  -h, --help           this text; 'zakpos-backup COMMAND --help' for a command\n"
            "\n"
            "Exit status: 0 success; 2 usage; 3 configuration; 4 i/o; 5 not an archive;\n"
            "6 integrity failure; 7 wrong key; 8 unsafe entry; 9 target exists; 10 PostgreSQL;\n"
            "11 Docker; 12 repository locked; 13 not found; 14 restore verification differs;\n"
            "15 remote storage; 16 untrusted archive; 17 recovery blocked (recover --plan);\n"
            "130 interrupted; 1 other failures.\n");
}

/* Parses the global options; returns the index of the command name. */
static int parse_global(int argc, char **argv, int *index, const char **config_file)
{
    zb_log_level level = ZB_LOG_INFO;
    zb_log_format format = ZB_LOG_FORMAT_AUTO;
    int progress = 1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (strcmp(a, "--log-level") == 0 && i + 1 < argc)
            rc = zb_log_parse_level(&level, argv[++i]);
        else if (strncmp(a, "--log-level=", 12) == 0)
            rc = zb_log_parse_level(&level, a + 12);
        else if (strcmp(a, "--log-format") == 0 && i + 1 < argc)
            rc = zb_log_parse_format(&format, argv[++i]);
        else if (strncmp(a, "--log-format=", 13) == 0)
            rc = zb_log_parse_format(&format, a + 13);
        else if (strcmp(a, "--config") == 0 && i + 1 < argc)
            *config_file = argv[++i];
        else if (strncmp(a, "--config=", 9) == 0)
            *config_file = a + 9;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
            level = ZB_LOG_ERROR;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
            level = ZB_LOG_DETAIL;
        else if (strcmp(a, "--no-progress") == 0)
            progress = 0;
        else if (strcmp(a, "--version") == 0) {
            printf("zakpos-backup %s\n", ZB_VERSION);
            *index = -1;
            return 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_usage(stdout);
            *index = -1;
            return 0;
        } else
            rc = zb_error_set(ZB_EUSAGE, "unknown global option '%s'", a);
        if (rc < 0) {
            zb_log_setup(level, format);
            return zb_error_hint("see 'zakpos-backup --help'");
        }
    }
    zb_log_setup(level, format);
    zb_progress_enable(progress && level >= ZB_LOG_INFO);
    *index = i;
    return 0;
}

/* The argument remote:NAME/ARCHIVE of a command that reads one is
 * downloaded before the command runs; the command finds the download in its
 * context (zb_context_archive), its argv stays as given. */
static int fetch_remote_archive(zb_remote_fetched **fetched, zb_context *ctx, int argc, char *const *argv)
{
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        if (!zb_remote_is_archive_spec(argv[i]))
            continue;
        if (spec)
            return zb_cli_usage_error(argv[0], "give one remote:NAME/ARCHIVE");
        spec = argv[i];
    }
    const zb_config *config = NULL;
    const char *local = NULL;
    int rc = 0;
    if (!spec || (rc = zb_context_config(&config, ctx)) < 0 ||
        (rc = zb_remote_fetch_archive(fetched, config, spec, &local)) < 0)
        return rc;
    ctx->download = (zb_context_download){
        .spec = spec,
        .local = local,
        .from = zb_remote_fetched_from(*fetched),
        .seconds = zb_remote_fetched_seconds(*fetched),
    };
    return 0;
}

int zb_command_main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "zakpos-backup: error: libsodium cannot initialise\n");
        return 1;
    }
    if (zb_secret_env_take() < 0) {
        fprintf(stderr, "zakpos-backup: error: %s\n", zb_error_message());
        return 1;
    }
    zb_signal_install();
    zb_http_global_init(); /* once, before any thread */
    int index = 0;
    const char *config_file = NULL;
    int rc = parse_global(argc, argv, &index, &config_file);
    if (rc == 0 && index < 0)
        return 0;
    if (rc == 0 && index >= argc) {
        print_usage(stderr);
        return zb_error_exit_status(ZB_EUSAGE);
    }
    if (rc == 0) {
        const command *cmd = NULL;
        for (size_t i = 0; i < ZB_ARRAY_LEN(commands); i++)
            if (strcmp(commands[i].name, argv[index]) == 0)
                cmd = &commands[i];
        if (!cmd) {
            rc = zb_error_set(ZB_EUSAGE, "unknown command '%s'", argv[index]);
            zb_error_hint("see 'zakpos-backup --help' for the list of commands");
        } else {
            /* a restore killed while it replaced a volume's content is
             * finished (or undone) before its users start again */
            if (zb_swap_recover(NULL) < 0)
                zb_log_error("cannot finish the volume replacement a killed restore began: %s", zb_error_message());
            /* a run killed while it held services stopped left a record:
             * any command starts them again first */
            if (zb_volume_has_record() && zb_volume_recover(NULL) < 0)
                zb_log_error("cannot restart the containers a killed run stopped: %s", zb_error_message());
            optind = 1;
            opterr = 0; /* the commands report bad options in their own words */
            zb_context ctx;
            zb_context_init(&ctx, config_file);
            zb_remote_fetched *fetched = NULL;
            if (cmd->flags & REMOTE_ARCHIVE)
                rc = fetch_remote_archive(&fetched, &ctx, argc - index, argv + index);
            if (rc == 0)
                rc = cmd->run(&ctx, argc - index, argv + index);
            zb_remote_fetched_free(fetched);
            zb_context_free(&ctx);
        }
    }
    if (rc < 0) {
        zb_log_last_error();
        zb_log_debug("error %s raised at %s:%d", zb_error_name(rc), zb_error_file(), zb_error_line());
        return zb_error_exit_status(rc);
    }
    return 0;
}
