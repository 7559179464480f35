#include "zb_cmocka.h"

#include "zakpos_backup/common/error.h"
#include "zakpos_backup/config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_config(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/zbconf.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static const char *origin_of(const zb_config *c, const char *line_start)
{
    static char printed[16384];
    FILE *f = fmemopen(printed, sizeof(printed), "w");
    zb_config_print(c, f);
    fclose(f);
    const char *at = strstr(printed, line_start);
    return at ? at : "";
}

static void clear_env(void)
{
    const char *vars[] = {
        "ZAKPOS_BACKUP_REPO",        "ZAKPOS_BACKUP_PG_CONNINFO",      "ZAKPOS_BACKUP_PG_CONNINFO_FILE", "DATABASE_URL",
        "ZAKPOS_BACKUP_WEBHOOK_URL", "ZAKPOS_BACKUP_WEBHOOK_URL_FILE", "ZAKPOS_BACKUP_ZSTD_LEVEL",       "DOCKER_HOST"};
    for (size_t i = 0; i < ZB_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
}

static void defaults_match_the_zakpos_stack(void **state)
{
    (void)state;
    clear_env();
    char *path = write_config("");
    zb_config c;
    assert_int_equal(zb_config_load(&c, path), 0);
    assert_string_equal(c.pg_conninfo, "postgresql://zakpos_user@zakpos-postgres:5432/zakpos_db");
    assert_non_null(strstr(c.volumes, "zakpos_redis_data"));
    assert_null(strstr(c.volumes, "zakpos_postgres_data"));
    assert_int_equal(c.path_count, 2);
    assert_string_equal(c.paths[0].dir, "/srv/zakpos/database/init");
    assert_int_equal(c.keep.count[ZB_KEEP_DAILY], 7);
    assert_int_equal(c.healthcheck_max_age_seconds, 26 * 3600);
    assert_int_equal(c.job_count, 2);
    assert_string_equal(c.jobs[0].schedule, "0 2 * * *");
    zb_config_free(&c);
    unlink(path);
}

static void file_then_environment_override(void **state)
{
    (void)state;
    clear_env();
    char *path = write_config(
        "; the nightly job of a shop\n"
        "[repository]\n"
        "path = /srv/backups\n"
        "keep_daily = 14\n"
        "keep_within = 2y6m\n"
        "[paths]\n"
        "nginx = /srv/zakpos/nginx\n"
        "[job nightly]\n"
        "schedule = 15 3 * * *\n"
        "prune = yes\n");
    setenv("ZAKPOS_BACKUP_ZSTD_LEVEL", "9", 1);
    setenv("DATABASE_URL", "postgresql://u:s3cret@db/x", 1);
    zb_config c;
    assert_int_equal(zb_config_load(&c, path), 0);
    assert_string_equal(c.repo, "/srv/backups");
    assert_int_equal(c.keep.count[ZB_KEEP_DAILY], 14);
    assert_int_equal(c.keep.within_years, 2);
    assert_int_equal(c.keep.within_months, 6);
    assert_int_equal(c.zstd_level, 9);
    assert_int_equal(c.path_count, 1); /* a [paths] section replaces the defaults */
    assert_string_equal(c.paths[0].name, "nginx");
    assert_int_equal(c.job_count, 1);
    assert_string_equal(c.jobs[0].schedule, "15 3 * * *");
    assert_true(c.jobs[0].prune);
    char where[128];
    snprintf(where, sizeof(where), "repository.path = /srv/backups  (%s:3)", path);
    assert_non_null(strstr(origin_of(&c, "repository.path"), where));
    assert_non_null(strstr(origin_of(&c, "repository.zstd_level"), "(env ZAKPOS_BACKUP_ZSTD_LEVEL)"));
    /* The password of a connection URI never shows. */
    const char *pg = origin_of(&c, "postgres.conninfo");
    assert_non_null(strstr(pg, "postgresql://u:****@db/x  (env DATABASE_URL)"));
    assert_null(strstr(origin_of(&c, "#"), "s3cret"));
    zb_config_free(&c);
    clear_env();
    unlink(path);
}

static void secrets_from_files_are_masked(void **state)
{
    (void)state;
    clear_env();
    char *secret = write_config("https://hooks.example/T0K3N\n");
    char secret_path[64];
    snprintf(secret_path, sizeof(secret_path), "%s", secret);
    setenv("ZAKPOS_BACKUP_WEBHOOK_URL_FILE", secret_path, 1);
    zb_config c;
    char *path = write_config("");
    assert_int_equal(zb_config_load(&c, path), 0);
    assert_string_equal(c.webhook_url, "https://hooks.example/T0K3N");
    assert_non_null(
        strstr(origin_of(&c, "daemon.webhook_url"), "daemon.webhook_url = ****  (env ZAKPOS_BACKUP_WEBHOOK_URL)"));
    assert_null(strstr(origin_of(&c, "#"), "T0K3N"));
    zb_config_free(&c);
    clear_env();
    unlink(path);
    unlink(secret_path);
}

typedef struct config_case {
    const char *text;
    const char *message;
} config_case;

/* Each text is refused at load with a message naming its file and more. */
static void expect_refused(const config_case *bad, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *path = write_config(bad[i].text);
        zb_config c;
        if (zb_config_load(&c, path) != ZB_ECONFIG)
            fail_msg("config %zu was accepted", i);
        if (!strstr(zb_error_message(), path) || !strstr(zb_error_message(), bad[i].message))
            fail_msg("config %zu: message '%s' lacks '%s'", i, zb_error_message(), bad[i].message);
        unlink(path);
    }
}

/* Every form libpq accepts a password in is masked, whatever its spacing,
 * quoting or repetition. */
static void conninfo_password_masked_in_every_form(void **state)
{
    (void)state;
    static const char *forms[] = {
        "host=db password = s3cr3t user=u",
        "host=db password='two words s3cr3t' user=u",
        "host=db password=first password=s3cr3t",
        "postgresql://u@db/app?password=s3cr3t",
        "postgresql://u@db/app?sslmode=require&password=s3cr3t&password=s3cr3t",
        "postgresql://u@db/app?%70assword=s3cr3t",
        "postgresql://u:s3cr3t@db:5432/app",
        "host=db password='never closed s3cr3t",
    };
    for (size_t i = 0; i < ZB_ARRAY_LEN(forms); i++) {
        clear_env();
        char text[256];
        snprintf(text, sizeof(text), "[postgres]\nconninfo = %s\n", forms[i]);
        char *path = write_config(text);
        zb_config c;
        assert_int_equal(zb_config_load(&c, path), 0);
        const char *line = origin_of(&c, "postgres.conninfo");
        if (strstr(origin_of(&c, "#"), "s3cr3t") || !(strstr(line, "****") || strstr(line, "hidden")))
            fail_msg("form %zu leaks or does not mask: %.120s", i, line);
        zb_config_free(&c);
        unlink(path);
    }
    clear_env();
}

static void errors_name_file_line_and_key(void **state)
{
    (void)state;
    clear_env();
    static const config_case bad[] = {
        {"[repository]\nzstd_level = 30\n", ":2: [repository] zstd_level: takes a whole number from 1 to 19"},
        {"[repository]\n\nkeep_dayly = 3\n", ":3: [repository] keep_dayly: unknown key"},
        {"[postgress]\nenabled = yes\n", ":2: [postgress] enabled: unknown section"},
        {"[docker]\nenabled = maybe\n", ":2: [docker] enabled: takes yes or no"},
        {"[daemon]\nhealthcheck_max_age = soon\n", ":2: [daemon] healthcheck_max_age: takes a duration"},
        {"[job nightly]\nschedule = 0 25 * * *\n", ":2: [job nightly] schedule: cron expression '0 25 * * *': hour 25"},
        {"[job nightly]\naction = reboot\n", ":2: [job nightly] action: not an action"},
        {"[job nightly]\nprune = yes\n", "[job nightly] has no schedule"},
        {"[paths]\nbad/name = /x\n", ":2: [paths] bad/name: not a valid source name"},
        {"[repository]\nthis line has no equals sign\n", ":2: not a valid line"},
    };
    expect_refused(bad, ZB_ARRAY_LEN(bad));
    /* A line longer than the reader's buffer is refused, not cut in two. */
    char long_line[1024];
    snprintf(long_line, sizeof(long_line), "[recover]\nsmoke_command = curl -fsS http://127.0.0.1:3000/health%0600d\n",
             0);
    const config_case too_long[] = {{long_line, ":2: the line is longer than"}};
    expect_refused(too_long, ZB_ARRAY_LEN(too_long));
    zb_config c;
    assert_int_equal(zb_config_load(&c, "/nonexistent/zakpos-backup.conf"), ZB_ENOTFOUND);
    setenv("ZAKPOS_BACKUP_ZSTD_LEVEL", "high", 1);
    char *path = write_config("");
    assert_int_equal(zb_config_load(&c, path), ZB_ECONFIG);
    assert_non_null(strstr(zb_error_message(), "environment variable ZAKPOS_BACKUP_ZSTD_LEVEL"));
    clear_env();
    unlink(path);
}

/* What used to pass and then failed at 02:00 (or never ran): each is
 * refused at load, naming the file and line. */
static void load_refuses_what_would_fail_later(void **state)
{
    (void)state;
    clear_env();
    static const config_case bad[] = {
        {"[repository]\nzstd_level = 3\n[daemon]\n[repository]\nname = x\n",
         ":4: [repository] appears twice (first at line 1)"},
        {"[repository]\nname = a\nname = b\n", ":3: [repository] name: given twice (first at line 2)"},
        {"[job a]\nschedule = 0 2 * * *\n[job a]\naction = prune\n", ":3: [job a] appears twice (first at line 1)"},
        {"[paths]\nx = /srv/a\nx = /srv/b\n", ":3: [paths] x: given twice"},
        {"[job a]\nschedule = 0 0 31 2 *\n", ":2: [job a] schedule: cron expression '0 0 31 2 *' never fires"},
        {"[postgres]\npassword_file = /nonexistent/pg_password\n",
         ":2: [postgres] password_file: cannot read /nonexistent/pg_password"},
        {"[repository]\n\nrecipients = /nonexistent/backup.pub\n",
         ":3: [repository] recipients: cannot read /nonexistent/backup.pub"},
        {"[repository]\nkey_file = /nonexistent/backup.key\n", ":2: [repository] key_file: cannot read"},
        {"[repository]\npath = backups\n", ":2: [repository] path: 'backups' is a relative path"},
        {"[daemon]\nmetrics_file = metrics.prom\n", ":2: [daemon] metrics_file: 'metrics.prom' is a relative path"},
        {"[paths]\nsrc = srv/src\n", ":2: [paths] src: 'srv/src' is a relative path"},
        {"[daemon]\nwebhook_url = ftp://host/token\n",
         ":2: [daemon] webhook_url: takes an http:// or https:// URL, not a ftp one"},
        {"[daemon]\ntimezone = Europe/Berlinn\n", ":2: [daemon] timezone: unknown time zone 'Europe/Berlinn'"},
        {"[repository]\nkeep_within = 0d\n", ":2: [repository] keep_within: these keep_* rules keep no archive"},
        {"[repository]\nkeep_daily = 0\nkeep_monthly = 0\n", "keep no archive"},
        {"[remote r]\ntype = s3\nbucket = b\nkeep_within = 0h\n", "[remote r] its keep_* rules keep no archive"},
    };
    expect_refused(bad, ZB_ARRAY_LEN(bad));
    char *path = write_config("");
    zb_config c;
    setenv("ZAKPOS_BACKUP_TZ", "Mars/Olympus", 1);
    assert_int_equal(zb_config_load(&c, path), ZB_ECONFIG);
    assert_non_null(
        strstr(zb_error_message(), "environment variable ZAKPOS_BACKUP_TZ: unknown time zone 'Mars/Olympus'"));
    setenv("ZAKPOS_BACKUP_TZ", "Europe/Berlin", 1);
    assert_int_equal(zb_config_load(&c, path), 0);
    zb_config_free(&c);
    unsetenv("ZAKPOS_BACKUP_TZ");
    unlink(path);
}

/* keep_* means the same in [repository] as in [remote]: the rules given,
 * and only those. */
static void any_keep_replaces_the_defaults(void **state)
{
    (void)state;
    clear_env();
    char *path = write_config("[repository]\nkeep_last = 3\n");
    zb_config c;
    assert_int_equal(zb_config_load(&c, path), 0);
    assert_int_equal(c.keep.count[ZB_KEEP_LAST], 3);
    assert_int_equal(c.keep.count[ZB_KEEP_DAILY], 0);
    assert_int_equal(c.keep.count[ZB_KEEP_WEEKLY], 0);
    assert_int_equal(c.keep.count[ZB_KEEP_MONTHLY], 0);
    zb_config_free(&c);
    unlink(path);
    path = write_config("");
    assert_int_equal(zb_config_load(&c, path), 0);
    assert_int_equal(c.keep.count[ZB_KEEP_DAILY], 7); /* nothing given: the built-in rules */
    assert_int_equal(c.keep.count[ZB_KEEP_MONTHLY], 12);
    zb_config_free(&c);
    unlink(path);
}

ZB_TEST_MAIN(defaults_match_the_zakpos_stack, file_then_environment_override, secrets_from_files_are_masked,
             errors_name_file_line_and_key, load_refuses_what_would_fail_later, any_keep_replaces_the_defaults,
             conninfo_password_masked_in_every_form)
