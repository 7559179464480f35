#include "zakpos_backup/command/follow.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/build.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/source/pg/conn.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: zakpos-backup [--config FILE] follow [--repo DIR] [--pg CONNINFO]\n"
    "           (--recipient PUBFILE... | --passphrase-file FILE | --no-encryption)\n"
    "           [--segment-seconds N] [--segment-size SIZE] [--slot NAME]\n"
    "           [--replica-identity-full SCHEMA.TABLE...] [--exclude-table SCHEMA.TABLE...]\n"
    "       zakpos-backup follow --stop --pg CONNINFO [--repo DIR] [--slot NAME]\n"
    "\n"
    "Streams the database's committed changes into encrypted, signed segments in\n"
    "DIR/pitr/<chain>/, for `restore --until`. The first run creates a publication\n"
    "listing the tables (FOR TABLE, never FOR ALL TABLES) and a logical replication\n"
    "slot, and writes the chain's base snapshot (an ordinary archive in DIR) through\n"
    "the slot's exported snapshot: no gap and no overlap with the stream. Later runs\n"
    "resume where the last durable segment ends. The server learns that a change\n"
    "may be released only once its segment is on disk. Runs until SIGINT/SIGTERM,\n"
    "then publishes the complete transactions it holds.\n"
    "The server needs wal_level=logical. A dropped connection or a server restart\n"
    "is waited out (reconnecting after 1s, 2s, 4s ... up to 60s) and the stream\n"
    "resumes from the newest published segment. What the command line does not\n"
    "say comes from the configuration: repository.*, postgres.* and follow.*\n"
    "(docs/CONFIG.md); a list flag replaces the configured list. The daemon runs\n"
    "this command as a service when follow.enabled is yes.\n"
    "\n"
    "  --repo DIR               the repository folder (created if missing)\n"
    "  --pg CONNINFO            the database (as for backup)\n"
    "  --pg-name NAME           the database's name in archives (default: its dbname)\n"
    "  --pg-password-file FILE  the database password, read from FILE\n"
    "  --jobs N                 connections for the base snapshot (default: cores)\n"
    "  --slot NAME              the publication's name and each chain's slot's prefix\n"
    "                           (NAME_<chain>; default zakpos_backup)\n"
    "  --segment-seconds N      close a segment N seconds after its first commit (default 10)\n"
    "  --segment-size SIZE      ... or once it holds SIZE of changes (default 16M)\n"
    "  --replica-identity-full SCHEMA.TABLE  a table without a primary key to follow\n"
    "                           anyway: it is set to REPLICA IDENTITY FULL (repeatable)\n"
    "  --exclude-table SCHEMA.TABLE  a table not to follow (repeatable)\n"
    "  --name NAME              the base archive's name prefix (default: zakpos)\n"
    "  --recipient PUBFILE / --signing-key FILE / --passphrase-file FILE /\n"
    "  --no-encryption          protection, as for backup\n"
    "  --stop                   drop every chain's slot and the publication (the\n"
    "                           segments stay)\n";

enum {
    OPT_PG_NAME = ZB_OPT_COMMAND_BASE,
    OPT_NO_ENCRYPTION,
    OPT_STOP,
};

#define UNKNOWN_OPTION 2

/* The request's options and the lists and names they point into. */
typedef struct follow_cli {
    zb_pitr_follow_options o;
    zb_strv recipients, full_identity, exclude;
    const char *pg_name;
    char *dbname;
    int pg_selected, stop;
    int protection_given; /* a protection flag replaces the configured protection */
    char *words[3];       /* the configured lists' words (the strv point into them) */
} follow_cli;

/* What the command line left unsaid comes from the configuration's rows of
 * the same settings, so the daemon's follower and one run by hand with the
 * same file behave alike. A list given on the command line replaces the
 * configured one. */
static int apply_config(follow_cli *req, const zb_config *c)
{
    zb_pitr_follow_options *o = &req->o;
    int rc = 0;
    if (!o->repo)
        o->repo = c->repo;
    if (!o->pg.conninfo)
        o->pg.conninfo = c->pg_conninfo;
    if (!o->pg.password_file && c->pg_password_file && *c->pg_password_file)
        o->pg.password_file = c->pg_password_file;
    if (o->pg.jobs == 0 && c->pg_jobs > 0)
        o->pg.jobs = c->pg_jobs;
    if (!o->name)
        o->name = c->archive_name;
    if (!o->slot)
        o->slot = c->follow_slot;
    if (o->segment_seconds == 0)
        o->segment_seconds = c->follow_segment_seconds;
    if (o->segment_bytes == 0)
        o->segment_bytes = (size_t)c->follow_segment_bytes;
    if (req->full_identity.count == 0)
        rc = zb_strv_push_words(&req->full_identity, &req->words[0], c->follow_replica_identity_full);
    if (rc == 0 && req->exclude.count == 0)
        rc = zb_strv_push_words(&req->exclude, &req->words[1], c->follow_exclude_tables);
    if (rc == 0 && !req->protection_given) {
        rc = zb_strv_push_words(&req->recipients, &req->words[2], c->recipients);
        if (c->passphrase_file && *c->passphrase_file)
            o->write.keys.passphrase_file = c->passphrase_file;
    }
    /* as `run` does: a signing key goes with recipients only */
    if (rc == 0 && !o->write.keys.signing_key_file && req->recipients.count > 0 && c->signing_key_file &&
        *c->signing_key_file)
        o->write.keys.signing_key_file = c->signing_key_file;
    return rc;
}

static int parse_option(follow_cli *req, int opt)
{
    zb_pitr_follow_options *o = &req->o;
    switch (opt) {
    case ZB_SETTING_OPT(ZB_SET_REPO): o->repo = optarg; return 0;
    case ZB_SETTING_OPT(ZB_SET_PG_CONNINFO): req->pg_selected = 1, o->pg.conninfo = optarg; return 0;
    case OPT_PG_NAME: req->pg_name = optarg; return 0;
    case ZB_SETTING_OPT(ZB_SET_PG_PASSWORD_FILE): o->pg.password_file = optarg; return 0;
    case ZB_SETTING_OPT(ZB_SET_PG_JOBS): return zb_cli_parse_int(&o->pg.jobs, optarg, "--jobs", 1, 64);
    case ZB_SETTING_OPT(ZB_SET_FOLLOW_SLOT): o->slot = optarg; return 0;
    case ZB_SETTING_OPT(ZB_SET_FOLLOW_SEGMENT_SECONDS):
        return zb_cli_parse_int(&o->segment_seconds, optarg, "--segment-seconds", 1, 86400);
    case ZB_SETTING_OPT(ZB_SET_FOLLOW_SEGMENT_SIZE):
        return zb_cli_parse_size(&o->segment_bytes, optarg, "--segment-size");
    case ZB_SETTING_OPT(ZB_SET_FOLLOW_REPLICA_IDENTITY_FULL): return zb_strv_push(&req->full_identity, optarg);
    case ZB_SETTING_OPT(ZB_SET_FOLLOW_EXCLUDE_TABLES): return zb_strv_push(&req->exclude, optarg);
    case ZB_SETTING_OPT(ZB_SET_NAME): o->name = optarg; return 0;
    case ZB_SETTING_OPT(ZB_SET_RECIPIENTS): return req->protection_given = 1, zb_strv_push(&req->recipients, optarg);
    case ZB_SETTING_OPT(ZB_SET_SIGNING_KEY_FILE): o->write.keys.signing_key_file = optarg; return 0;
    case ZB_SETTING_OPT(ZB_SET_PASSPHRASE_FILE):
        req->protection_given = 1;
        o->write.keys.passphrase_file = optarg;
        return 0;
    case OPT_NO_ENCRYPTION:
        req->protection_given = 1;
        o->write.keys.no_encryption = 1;
        return 0;
    case OPT_STOP: req->stop = 1; return 0;
    case ZB_OPT_HELP: fputs(help, stdout); return 1;
    default: return UNKNOWN_OPTION;
    }
}

/* Protection as backup has it: exactly one way, said explicitly. */
static int check_protection(follow_cli *req)
{
    zb_write_keys *keys = &req->o.write.keys;
    keys->recipient_files = req->recipients.items;
    keys->recipient_count = req->recipients.count;
    int protections = (req->recipients.count > 0 || keys->passphrase_file) + keys->no_encryption;
    if (protections == 0 && zb_keys_env_has_passphrase())
        keys->use_env_passphrase = 1, protections = 1;
    if (protections == 0)
        return zb_cli_usage_error("follow",
                                  "say how to protect the segments: --recipient PUBFILE, "
                                  "--passphrase-file FILE, or --no-encryption");
    if (protections > 1)
        return zb_cli_usage_error("follow", "--no-encryption cannot be combined with a recipient or passphrase");
    return 0;
}

static int parse(follow_cli *req, zb_context *ctx, int argc, char **argv)
{
    static const struct option local[] = {
        {"pg-name", required_argument, NULL, OPT_PG_NAME},
        {"no-encryption", no_argument, NULL, OPT_NO_ENCRYPTION},
        {"stop", no_argument, NULL, OPT_STOP},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[48];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "follow", local) < 0)
        return zb_error_code();
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1)
        if ((rc = parse_option(req, opt)) == UNKNOWN_OPTION)
            return zb_cli_bad_option("follow", argv);
    if (rc != 0)
        return rc;
    if (optind < argc)
        return zb_cli_usage_error("follow", "unexpected argument '%s'", argv[optind]);
    const zb_config *config = NULL;
    if ((rc = zb_context_config(&config, ctx)) < 0 || (rc = apply_config(req, config)) < 0)
        return rc;
    if (req->stop)
        return 0;
    req->dbname = req->pg_name ? NULL : zb_pg_conninfo_dbname(req->o.pg.conninfo);
    req->o.source_name = req->pg_name ? req->pg_name : req->dbname ? req->dbname : "db";
    if ((rc = zb_manifest_check_source_name(req->o.source_name)) < 0)
        return rc;
    req->o.full_identity = (const char *const *)req->full_identity.items;
    req->o.exclude = (const char *const *)req->exclude.items;
    return check_protection(req);
}

int zb_follow_run(zb_context *ctx, const zb_follow_request *req)
{
    (void)ctx; /* the configuration is merged into the request when it is parsed */
    return req->stop ? zb_pitr_follow_stop(&req->follow) : zb_pitr_follow(&req->follow);
}

int zb_cmd_follow(zb_context *ctx, int argc, char **argv)
{
    follow_cli req;
    memset(&req, 0, sizeof(req));
    req.o.write.zstd_workers = 0; /* segments are small: one thread is plenty and keeps the follower light */
    int rc = parse(&req, ctx, argc, argv);
    if (rc == 0)
        rc = zb_follow_run(ctx, &(zb_follow_request){.follow = req.o, .stop = req.stop});
    zb_strv_free(&req.recipients);
    zb_strv_free(&req.full_identity);
    zb_strv_free(&req.exclude);
    free(req.dbname);
    for (size_t i = 0; i < ZB_ARRAY_LEN(req.words); i++)
        free(req.words[i]);
    return rc > 0 ? 0 : rc;
}
