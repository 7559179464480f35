#include "zb_cmocka.h"

#include "zakpos_backup/command/run.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/place.h"
#include "zakpos_backup/config/context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A scratch folder with a repository and a configuration naming it. */
typedef struct scratch {
    char dir[64];
    char repo[128];
    char state[128];
    char file[128];
} scratch;

static void scratch_make(scratch *s, const char *extra)
{
    snprintf(s->dir, sizeof(s->dir), "/tmp/zbrun.XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->repo, sizeof(s->repo), "%s/repo", s->dir);
    snprintf(s->state, sizeof(s->state), "%s/state", s->dir);
    snprintf(s->file, sizeof(s->file), "%s/config", s->dir);
    assert_int_equal(mkdir(s->repo, 0700), 0);
    FILE *f = fopen(s->file, "w");
    assert_non_null(f);
    fprintf(f,
            "[repository]\npath = %s\nname = shop\nkeep_last = 2\nkeep_within = 7d\nzstd_level = 9\n"
            "[postgres]\nconninfo = host=db.invalid dbname=shop\njobs = 3\n"
            "[docker]\nhost = tcp://127.0.0.1:9\nvolumes = alpha  beta\n"
            "[paths]\nconf = /etc/shop\n"
            "[daemon]\nstate_dir = %s\n"
            "[job tidy]\nschedule = 0 3 * * *\naction = prune\n%s",
            s->repo, s->state, extra);
    fclose(f);
}

static void scratch_remove(scratch *s)
{
    char command[256];
    snprintf(command, sizeof(command), "rm -rf '%s'", s->dir);
    assert_int_equal(system(command), 0);
}

static void clear_env(void)
{
    const char *vars[] = {"DOCKER_HOST",
                          "ZAKPOS_BACKUP_STATE_DIR",
                          "ZAKPOS_BACKUP_REPO",
                          "ZAKPOS_BACKUP_PG_CONNINFO",
                          "DATABASE_URL",
                          "ZAKPOS_BACKUP_VOLUMES",
                          "ZAKPOS_BACKUP_PASSPHRASE_FILE",
                          "ZAKPOS_BACKUP_RECIPIENTS"};
    for (size_t i = 0; i < ZB_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
}

/* The requests a job makes are the configuration's settings, typed. */
static void requests_are_built_from_the_configuration(void **state)
{
    (void)state;
    clear_env();
    scratch s;
    scratch_make(&s, "");
    zb_context ctx;
    zb_context_init(&ctx, s.file);
    const zb_config *c = NULL;
    assert_int_equal(zb_context_config(&c, &ctx), 0);

    zb_run_backup b;
    assert_int_equal(zb_run_backup_request(&b, c, 120), 0);
    assert_string_equal(b.req.repo, s.repo);
    assert_string_equal(b.req.name, "shop");
    assert_int_equal(b.req.lock_wait, 120);
    assert_int_equal(b.req.write.zstd_level, 9);
    assert_true(b.req.pg_selected);
    assert_string_equal(b.req.pg.conninfo, "host=db.invalid dbname=shop");
    assert_int_equal(b.req.pg.jobs, 3);
    assert_int_equal(b.req.volumes.count, 2);
    assert_string_equal(b.req.volumes.items[0], "alpha");
    assert_string_equal(b.req.volumes.items[1], "beta");
    assert_int_equal(b.req.paths.count, 1);
    assert_string_equal(b.req.paths.items[0], "conf=/etc/shop");
    assert_int_equal(b.req.recipients.count, 0);
    assert_false(b.req.no_remote);
    zb_run_backup_free(&b);

    zb_prune_request p;
    zb_run_prune_request(&p, c, 5);
    assert_string_equal(p.repo, s.repo);
    assert_int_equal(p.policy.count[ZB_KEEP_LAST], 2);
    assert_int_equal(p.policy.count[ZB_KEEP_DAILY], 0); /* any keep_* replaces the built-in rules */
    assert_true(p.policy.within_set);
    assert_int_equal(p.lock_wait, 5);
    assert_false(p.dry_run);

    /* a verify job needs the secret: refused before anything is read */
    zb_verify_request v;
    char *latest = NULL;
    assert_int_equal(zb_run_verify_request(&v, &latest, c, 1), ZB_ENOTFOUND); /* an empty repository */
    free(latest);

    zb_context_free(&ctx);
    scratch_remove(&s);
}

/* run JOB leaves the process as it found it: no variable set for the
 * sources, stdout still the terminal's or the pipe's; the configured state
 * folder and Docker host reach the sources through the context. */
static void run_changes_neither_environment_nor_stdout(void **state)
{
    (void)state;
    clear_env();
    scratch s;
    scratch_make(&s, "");
    struct stat before, after;
    assert_int_equal(fstat(STDOUT_FILENO, &before), 0);
    zb_context ctx;
    zb_context_init(&ctx, s.file);
    char *argv[] = {"run", "tidy", NULL};
    int rc = zb_cmd_run(&ctx, 2, argv);
    if (rc < 0)
        fprintf(stderr, "run tidy: %s\n", zb_error_message());
    assert_int_equal(rc, 0);
    assert_true(ctx.quiet); /* results were not printed: quiet mode, not a silenced descriptor */
    assert_null(getenv("DOCKER_HOST"));
    assert_null(getenv("ZAKPOS_BACKUP_STATE_DIR"));
    assert_int_equal(fstat(STDOUT_FILENO, &after), 0);
    assert_true(before.st_dev == after.st_dev && before.st_ino == after.st_ino);
    assert_string_equal(zb_place_state_dir(), s.state);
    assert_string_equal(zb_place_docker_host(), "tcp://127.0.0.1:9");
    zb_place_set_state_dir(NULL);
    zb_place_set_docker_host(NULL);
    zb_context_free(&ctx);
    scratch_remove(&s);
}

ZB_TEST_MAIN(requests_are_built_from_the_configuration, run_changes_neither_environment_nor_stdout)
