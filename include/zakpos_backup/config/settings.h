/* The settings table: each setting defined once (settings.def) with its
 * command-line flag, configuration key, environment variable, type, range,
 * default, help and the commands that take it. From it come the
 * configuration's key specification (config.c), `config check`'s lines, the
 * commands' getopt tables for the flags it holds, and the key lists of
 * docs/CONFIG.md and the manual page (`zakpos-backup settings`). */
#ifndef ZB_CONFIG_SETTINGS_H
#define ZB_CONFIG_SETTINGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

typedef enum zb_setting_type {
    ZB_SETTING_STRING,
    ZB_SETTING_PATH,        /* a file or folder */
    ZB_SETTING_LIST,        /* space-separated words; a repeatable flag */
    ZB_SETTING_SECRET,      /* the value itself is secret: masked when printed */
    ZB_SETTING_CONNINFO,    /* a libpq conninfo or URI: its password is masked */
    ZB_SETTING_SECRET_FILE, /* a file that holds a secret (a key, a passphrase, a password) */
    ZB_SETTING_INT,         /* from min to max */
    ZB_SETTING_BOOL,
    ZB_SETTING_DURATION, /* seconds, from min to max */
    ZB_SETTING_WITHIN,   /* a retention span such as 2y6m */
    ZB_SETTING_SWITCH,   /* a flag without a value */
    ZB_SETTING_SIZE,     /* bytes (256K, 64M, 2G), from min to max; a long long field */
} zb_setting_type;

enum {
    ZB_SETTING_REPEATABLE = 1u << 0, /* the flag may be given more than once */
    ZB_SETTING_SAFETY = 1u << 1,     /* command line only, never a key or a variable */
    ZB_SETTING_KEY_GROUP = 1u << 2,  /* the key options of every command that reads an archive */
};

typedef enum zb_setting_id {
#define ZB_SETTING(ID, ...) ZB_SET_##ID,
#include "zakpos_backup/config/settings.def"
#undef ZB_SETTING
    ZB_SET_COUNT
} zb_setting_id;

/* The getopt code of a setting's flag: above the commands' own codes. */
#define ZB_SETTING_OPT_BASE 2000
#define ZB_SETTING_OPT(id)  (ZB_SETTING_OPT_BASE + (int)(id))

typedef struct zb_setting {
    const char *flag;    /* without "--"; NULL: a key only */
    const char *section; /* NULL: command line only */
    const char *key;
    const char *env;
    zb_setting_type type;
    long long min, max;
    const char *fallback;
    unsigned rules; /* enum zb_value_rule */
    size_t offset;  /* into zb_config; ZB_SETTING_NO_FIELD for a flag only */
    const char *commands;
    unsigned flags;
    const char *help;
} zb_setting;

#define ZB_SETTING_NO_FIELD ((size_t)-1)

extern const zb_setting zb_settings[ZB_SET_COUNT];

/* Whether command's command line takes setting s's flag. */
int zb_setting_for(const zb_setting *s, const char *command);
/* command's getopt_long table: the table's flags for it, then its own
 * (`local`, ended by a zero entry), then the zero entry. ZB_EFAIL if it does
 * not fit in cap (a programming error, caught by any run of the command). */
int zb_settings_options(struct option *out, size_t cap, const char *command, const struct option *local);
/* The configuration keys as docs/CONFIG.md's Markdown table and as the
 * manual page's list (troff); exactly what the committed files hold between
 * their "settings:begin" and "settings:end" markers. */
void zb_settings_write_markdown(FILE *out);
void zb_settings_write_man(FILE *out);

#endif
