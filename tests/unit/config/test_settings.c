#include "zb_cmocka.h"

#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/config/settings.h"

#include <string.h>

static const char *const command_names[] = {"keygen",  "backup", "verify",      "drill", "list",   "latest",
                                            "prune",   "config", "healthcheck", "check", "show",   "sign",
                                            "restore", "run",    "daemon",      "fetch", "remote", "recover"};

/* A row is a key, a flag or both; a safety switch is a flag only. */
static void rows_are_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        const zb_setting *s = &zb_settings[i];
        assert_true(s->flag || s->section);
        assert_non_null(s->help);
        assert_true(strlen(s->help) > 5);
        assert_non_null(s->fallback);
        assert_true(!s->section == !s->key);
        assert_true(!s->section == (s->offset == ZB_SETTING_NO_FIELD));
        if (s->flags & ZB_SETTING_SAFETY) {
            assert_null(s->section);
            assert_null(s->env);
            assert_int_equal(s->type, ZB_SETTING_SWITCH);
        }
        if (s->type == ZB_SETTING_INT || (s->type == ZB_SETTING_DURATION && s->section))
            assert_true(s->min <= s->max);
        if (!s->flag)
            assert_string_equal(s->commands, "");
    }
}

/* The key group: the same five flags for every command that reads archives
 * (fetch and sign take a key but no passphrase). */
static void the_key_group_is_one_group(void **state)
{
    (void)state;
    static const char *const readers[] = {"verify", "drill", "list", "show", "restore"};
    for (size_t r = 0; r < ZB_ARRAY_LEN(readers); r++) {
        size_t taken = 0;
        for (size_t i = 0; i < ZB_SET_COUNT; i++)
            if ((zb_settings[i].flags & ZB_SETTING_KEY_GROUP) && zb_setting_for(&zb_settings[i], readers[r]))
                taken++;
        assert_int_equal(taken, 5);
    }
    assert_true(zb_setting_for(&zb_settings[ZB_SET_KEY_FILE], "fetch"));
    assert_false(zb_setting_for(&zb_settings[ZB_SET_PASSPHRASE_FILE], "fetch"));
}

/* A command's getopt table: the table's flags with their codes, then its
 * own; a flag never twice; words matched whole ("list" is not "latest"). */
static void getopt_tables_come_from_the_table(void **state)
{
    (void)state;
    static const struct option local[] = {{"entries", no_argument, NULL, 'e'}, {NULL, 0, NULL, 0}};
    struct option options[64];
    assert_int_equal(zb_settings_options(options, ZB_ARRAY_LEN(options), "show", local), 0);
    int key = -1, allow = -1, entries = -1, repo = -1, end = -1;
    for (int i = 0; i < 64 && end < 0; i++) {
        if (!options[i].name)
            end = i;
        else if (strcmp(options[i].name, "key") == 0)
            key = i;
        else if (strcmp(options[i].name, "allow-untrusted") == 0)
            allow = i;
        else if (strcmp(options[i].name, "entries") == 0)
            entries = i;
        else if (strcmp(options[i].name, "repo") == 0)
            repo = i;
    }
    assert_true(key >= 0 && allow >= 0 && entries == end - 1 && repo < 0);
    assert_int_equal(options[key].val, ZB_SETTING_OPT(ZB_SET_KEY_FILE));
    assert_int_equal(options[key].has_arg, required_argument);
    assert_int_equal(options[allow].has_arg, no_argument);
    assert_true(zb_setting_for(&zb_settings[ZB_SET_REPO], "latest"));
    assert_true(zb_setting_for(&zb_settings[ZB_SET_REPO], "list"));
    assert_false(zb_setting_for(&zb_settings[ZB_SET_REPO], "lis"));
    assert_false(zb_setting_for(&zb_settings[ZB_SET_REPO], "show"));
    for (size_t c = 0; c < ZB_ARRAY_LEN(command_names); c++) {
        assert_int_equal(zb_settings_options(options, ZB_ARRAY_LEN(options), command_names[c], NULL), 0);
        for (int i = 0; options[i].name; i++)
            for (int k = i + 1; options[k].name; k++)
                assert_true(strcmp(options[i].name, options[k].name) != 0);
        /* the settings' codes never meet the commands' own */
        for (int i = 0; options[i].name; i++)
            assert_true(options[i].val >= ZB_SETTING_OPT_BASE && options[i].val > ZB_OPT_COMMAND_BASE + 100);
    }
    /* too small a table is an error, not an overflow */
    assert_int_equal(zb_settings_options(options, 3, "show", local), ZB_EFAIL);
}

/* The flag of the table's row with that name in command's getopt table, or NULL. */
static const struct option *find_flag(const struct option *options, const char *name)
{
    for (; options->name; options++)
        if (strcmp(options->name, name) == 0)
            return options;
    return NULL;
}

/* A yes/no setting's flag says yes and takes no value (--with-role-passwords
 * must not swallow the next argument); recover reads its key and path
 * options from the table like restore. */
static void yes_no_flags_take_no_value(void **state)
{
    (void)state;
    struct option options[64];
    assert_int_equal(zb_settings_options(options, ZB_ARRAY_LEN(options), "backup", NULL), 0);
    const struct option *roles = find_flag(options, "with-role-passwords");
    assert_non_null(roles);
    assert_int_equal(roles->has_arg, no_argument);
    assert_int_equal(roles->val, ZB_SETTING_OPT(ZB_SET_PG_WITH_ROLE_PASSWORDS));
    assert_int_equal(zb_settings_options(options, ZB_ARRAY_LEN(options), "recover", NULL), 0);
    static const char *const recover_flags[] = {"key",
                                                "passphrase-file",
                                                "trust",
                                                "allow-untrusted",
                                                "allow-unencrypted",
                                                "repo",
                                                "jobs",
                                                "pg-password-file",
                                                "docker-host",
                                                "force"};
    for (size_t i = 0; i < ZB_ARRAY_LEN(recover_flags); i++)
        assert_non_null(find_flag(options, recover_flags[i]));
}

ZB_TEST_MAIN(rows_are_whole, the_key_group_is_one_group, getopt_tables_come_from_the_table, yes_no_flags_take_no_value)
