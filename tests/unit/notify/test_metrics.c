#include "zb_cmocka.h"

#include "zakpos_backup/notify/metrics.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITERS         4
#define RUNS_PER_WRITER 20

/* The daemon's slot watcher and its `run` children record into one state
 * file at once: each writer's every run (a job of its own name) and the
 * watcher's slot must all be there in the end, none written over by a
 * writer that read the state before it. */
static void concurrent_recorders_lose_nothing(void **state)
{
    (void)state;
    char dir[] = "/tmp/zb-metrics-XXXXXX", metrics[64], path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(metrics, sizeof(metrics), "%s/metrics.prom", dir);
    pid_t pids[WRITERS + 1];
    for (int w = 0; w <= WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] > 0)
            continue;
        int failed = 0;
        for (int i = 0; i < RUNS_PER_WRITER; i++) {
            char job[32];
            snprintf(job, sizeof(job), "w%d-run%d", w, i);
            zb_metrics_run run = {job, "backup", NULL, 1, 1.0, 10};
            zb_metrics_slot slot = {"zakpos_backup", 1, (double)i, 0, 0, 0};
            /* the last writer plays the slot watcher */
            failed |= (w == WRITERS ? zb_metrics_record_slot(metrics, dir, &slot)
                                    : zb_metrics_record(metrics, dir, &run, NULL, 0)) < 0;
        }
        _exit(failed);
    }
    for (int w = 0; w <= WRITERS; w++) {
        int status = 0;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    snprintf(path, sizeof(path), "%s/metrics.json", dir);
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_object_size(json_object_get(doc, "jobs")), WRITERS * RUNS_PER_WRITER);
    assert_true(json_number_value(json_object_get(json_object_get(json_object_get(doc, "slots"), "zakpos_backup"),
                                                  "lag_bytes")) == RUNS_PER_WRITER - 1);
    json_decref(doc);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", dir);
    assert_int_equal(system(command), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_recorders_lose_nothing),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}
