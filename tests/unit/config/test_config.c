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
    const char *vars[] = {"ZAKPOS_BACKUP_REPO", "ZAKPOS_BACKUP_PG_CONNINFO", "ZAKPOS_BACKUP_PG_CONNINFO_FILE",
                          "DATABASE_URL", "ZAKPOS_BACKUP_WEBHOOK_URL", "ZAKPOS_BACKUP_WEBHOOK_URL_FILE",
                          "ZAKPOS_BACKUP_ZSTD_LEVEL", "DOCKER_HOST"};
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
    char *path = write_config("; the nightly job of a shop\n"
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
    assert_non_null(strstr(origin_of(&c, "daemon.webhook_url"), "daemon.webhook_url = ****  (env ZAKPOS_BACKUP_WEBHOOK_URL)"));
    assert_null(strstr(origin_of(&c, "#"), "T0K3N"));
    zb_config_free(&c);
    clear_env();
    unlink(path);
    unlink(secret_path);
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
    static const struct {
        const char *text;
        const char *message;
    } bad[] = {
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
    for (size_t i = 0; i < ZB_ARRAY_LEN(bad); i++) {
        char *path = write_config(bad[i].text);
        zb_config c;
        if (zb_config_load(&c, path) != ZB_ECONFIG)
            fail_msg("config %zu was accepted", i);
        if (!strstr(zb_error_message(), path) || !strstr(zb_error_message(), bad[i].message))
            fail_msg("config %zu: message '%s' lacks '%s'", i, zb_error_message(), bad[i].message);
        unlink(path);
    }
    zb_config c;
    assert_int_equal(zb_config_load(&c, "/nonexistent/zakpos-backup.conf"), ZB_ENOTFOUND);
    setenv("ZAKPOS_BACKUP_ZSTD_LEVEL", "high", 1);
    char *path = write_config("");
    assert_int_equal(zb_config_load(&c, path), ZB_ECONFIG);
    assert_non_null(strstr(zb_error_message(), "environment variable ZAKPOS_BACKUP_ZSTD_LEVEL"));
    clear_env();
    unlink(path);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_match_the_zakpos_stack),
        cmocka_unit_test(file_then_environment_override),
        cmocka_unit_test(secrets_from_files_are_masked),
        cmocka_unit_test(errors_name_file_line_and_key),
        cmocka_unit_test(conninfo_password_masked_in_every_form),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}
