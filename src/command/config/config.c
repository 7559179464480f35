#include "zakpos_backup/command/config.h"
#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/secret.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/config/config.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: zakpos-backup [--config FILE] config check [--config FILE]\n"
    "\n"
    "Loads the configuration as every command does: built-in defaults (the\n"
    "zakpos stack), then the config file (--config FILE, else\n"
    "/etc/zakpos-backup/config, else ./zakpos-backup.conf), then environment\n"
    "variables. Checks it (every key, every job's schedule, every recipient key\n"
    "file) and prints the effective settings on stdout, each with where it came\n"
    "from; secrets are masked. Exit 0 if valid; 3 with the file, line and key\n"
    "named if not. docs/CONFIG.md describes every key.\n";

/* The last error, as a configuration error at the line that set `key`. */
static int at_origin(const zb_config *c, const char *key)
{
    zb_error_saved was; /* a copy: the message is formatted into the record it comes from */
    zb_error_save(&was);
    const char *origin = zb_config_origin(c, "repository", key);
    if (strncmp(origin, "env ", 4) == 0)
        zb_error_set(ZB_ECONFIG, "environment variable %s: %s", origin + 4, was.message);
    else
        zb_error_set(ZB_ECONFIG, "%s: [repository] %s: %s", origin, key, was.message);
    return was.hint[0] ? zb_error_hint("%s", was.hint) : ZB_ECONFIG;
}

/* The recipients named in the config must be readable public keys; a bad
 * one is a configuration error at the line that names it. */
static int check_recipients(const zb_config *c)
{
    char *list = zb_strdup(c->recipients);
    int rc = list ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    char *save = NULL;
    for (char *f = list ? strtok_r(list, " \t", &save) : NULL; rc == 0 && f; f = strtok_r(NULL, " \t", &save)) {
        unsigned char pk[ZB_KEY_PUBLIC_BYTES];
        if (zb_keys_load_public(pk, f) < 0)
            rc = at_origin(c, "recipients");
    }
    free(list);
    return rc;
}

/* The signing key a backup for the recipients would use, found as the
 * writer finds it, must be a readable signing key that only its owner can
 * read: reported here, not at the first scheduled backup. */
static int check_signing_key(const zb_config *c)
{
    if (!c->recipients || !*c->recipients)
        return 0; /* only archives for recipient keys are signed */
    char first[PATH_MAX];
    size_t n = strcspn(c->recipients, " \t");
    snprintf(first, sizeof(first), "%.*s", (int)(n < sizeof(first) ? n : sizeof(first) - 1), c->recipients);
    int given = c->signing_key_file && *c->signing_key_file;
    zb_buf path = ZB_BUF_INIT;
    unsigned char *sk = NULL, pk[ZB_SIGN_PUBLIC_BYTES];
    int rc = zb_sign_key_path(&path, c->signing_key_file, first);
    if (rc == 0)
        rc = zb_sign_load_secret(&sk, pk, path.data);
    sodium_free(sk);
    if (rc < 0) {
        if (!given)
            zb_error_context("the signing key for the first recipient");
        rc = at_origin(c, given ? "signing_key_file" : "recipients");
    }
    zb_buf_free(&path);
    return rc;
}

/* The rule every reader applies to the secret key file, reported before a
 * scheduled verification trips over it. */
static int check_key_file(const zb_config *c)
{
    if (!c->key_file || !*c->key_file)
        return 0;
    int rc = zb_secret_check_file_mode(c->key_file);
    return rc < 0 ? zb_error_context("repository.key_file") : 0;
}

int zb_cmd_config(zb_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    zb_config_check_request req = {NULL};
    int opt;
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(help, stdout);
            return 0;
        }
        return zb_cli_usage_error("config", "the only subcommand is 'check'");
    }
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'c': req.config_file = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("config", argv);
        }
    }
    if (optind < argc)
        return zb_cli_usage_error("config", "unexpected argument '%s'", argv[optind]);
    return zb_config_check_run(ctx, &req);
}

int zb_config_check_run(zb_context *ctx, const zb_config_check_request *req)
{
    const zb_config *c = NULL;
    if (req->config_file) {
        zb_context_free(ctx); /* a configuration read from another file is not the one asked for */
        ctx->config_file = req->config_file;
    }
    int rc = zb_context_config(&c, ctx);
    if (rc < 0)
        return rc;
    if ((rc = check_recipients(c)) == 0 && (rc = check_signing_key(c)) == 0 && (rc = check_key_file(c)) == 0 &&
        !ctx->quiet)
        zb_config_print(c, stdout);
    return rc;
}
