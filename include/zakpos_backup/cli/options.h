/* Pieces shared by the commands' option parsing: repeatable options, the key
 * options every reading command takes, numbers with range checks. */
#ifndef ZB_CLI_OPTIONS_H
#define ZB_CLI_OPTIONS_H

#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/config/context.h"

#include <stddef.h>

/* A repeatable option's values (pointers into argv, not copied), ended by a
 * NULL once one was pushed. */
typedef struct zb_strv {
    const char **items;
    size_t count;
    size_t cap;
} zb_strv;

int zb_strv_push(zb_strv *v, const char *item);
/* Each word of a space-separated list (a configuration value), pushed onto
 * v; the words live in *copy, which the caller frees after v. */
int zb_strv_push_words(zb_strv *v, char **copy, const char *list);
void zb_strv_free(zb_strv *v);

int zb_cli_parse_int(int *out, const char *text, const char *option, int min, int max);
int zb_cli_parse_size(size_t *out, const char *text, const char *option);
/* "0", "90s", "15m", "2h", "1d" into seconds; a usage error otherwise. */
int zb_cli_parse_duration(int *seconds, const char *text, const char *option);

/* Prints "zakpos-backup: error: ..." (and the hint) for a usage error and
 * returns ZB_EUSAGE. */
int zb_cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For getopt_long's '?': names the offending argument. */
int zb_cli_bad_option(const char *command, char **argv);

/* getopt_long codes for options several commands share that are no setting
 * (the settings table's flags have ZB_SETTING_OPT codes). */
enum {
    ZB_OPT_HELP = 1000,
    ZB_OPT_JSON,
    ZB_OPT_NO_OWNER,
    ZB_OPT_NO_ACL,
    ZB_OPT_KEEP,
    ZB_OPT_SCRATCH_DIR,
    ZB_OPT_COMMAND_BASE = 1100,
};

/* The key options of every command that reads an archive (--key,
 * --passphrase-file, --trust, --allow-untrusted, --allow-unencrypted) are one
 * group of the settings table (ZB_SETTING_KEY_GROUP); the two allow_
 * switches are never configuration keys or variables: an emergency is
 * decided by the person at the keyboard, each time. */
#define ZB_READ_KEYS_HELP                                                                                              \
    "  --trust FILE             also accept archives signed by this writer (keygen's\n"                                \
    "                           FILE.signer; repeatable; also repository.trust). The key\n"                            \
    "                           file already trusts the signer it was made with\n"                                     \
    "  --allow-untrusted        emergency: read an unsigned, untrusted or badly signed\n"                              \
    "                           archive (logged as a warning)\n"                                                       \
    "  --allow-unencrypted      emergency: read an unencrypted archive although a key or\n"                            \
    "                           passphrase was given (logged as a warning)\n"

/* 1: opt was one of the key group's flags (taken), 0: it was not, <0: error. */
int zb_cli_read_keys_option(zb_read_keys *keys, int opt, const char *arg);
/* Adds the configuration's repository.trust signers when a key is given
 * (only a read with a key checks signatures). */
int zb_cli_read_keys_configured(zb_context *ctx, zb_read_keys *keys);
/* Adds repository.trust's signers whether or not a key is given (fetch:
 * trusted signers alone are enough to check a download's header). */
int zb_cli_read_trust_configured(zb_context *ctx, zb_read_keys *keys);

#endif
