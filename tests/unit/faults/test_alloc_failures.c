/* Allocation failures and calls the C library leaves undefined, on paths no
 * outside test reaches. The executable is linked with --wrap for malloc,
 * free, zb_strdup and qsort (tests/unit/faults/tests.cmake), so, while a test
 * arms them, an allocation of a chosen size or a copy of a chosen string
 * fails, freed memory is overwritten before it is released (a read after
 * free sees garbage, not the old value), and a qsort with a NULL base is
 * counted. Only this test executable has the wrappers; the shipped binary
 * and the other tests are linked as usual. */
#include "zb_cmocka.h"

#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/config/remote.h"
#include "zakpos_backup/remote/driver.h"
#include "zakpos_backup/remote/sftp.h"
#include "zakpos_backup/restore/plan.h"
#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/stream/async.h"
#include "zakpos_backup/stream/stage.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the wrappers ---- */

void *__real_malloc(size_t size);
void __real_free(void *p);
char *__real_zb_strdup(const char *s);
void __real_qsort(void *base, size_t count, size_t size, int (*compare)(const void *, const void *));
void *__wrap_malloc(size_t size);
void __wrap_free(void *p);
char *__wrap_zb_strdup(const char *s);
void __wrap_qsort(void *base, size_t count, size_t size, int (*compare)(const void *, const void *));

static struct {
    size_t fail_size;          /* malloc of exactly this many bytes fails (0: none) */
    const char *fail_copy;     /* zb_strdup of this string fails (NULL: none) */
    int poison_freed;          /* free overwrites the block first */
    unsigned null_qsort_calls; /* qsort called with a NULL base */
} armed;

void *__wrap_malloc(size_t size)
{
    if (armed.fail_size && size == armed.fail_size)
        return NULL;
    return __real_malloc(size);
}

void __wrap_free(void *p)
{
    if (p && armed.poison_freed)
        memset(p, 0xA5, malloc_usable_size(p));
    __real_free(p);
}

char *__wrap_zb_strdup(const char *s)
{
    if (s && armed.fail_copy && strcmp(s, armed.fail_copy) == 0)
        return NULL;
    return __real_zb_strdup(s);
}

void __wrap_qsort(void *base, size_t count, size_t size, int (*compare)(const void *, const void *))
{
    if (!base) {
        armed.null_qsort_calls++; /* undefined even for no elements: UBSan aborts on it */
        return;
    }
    __real_qsort(base, count, size, compare);
}

static void disarm(void) { memset(&armed, 0, sizeof(armed)); }

/* ---- the cases ---- */

static int discard_write(zb_stage *s, const void *data, size_t len)
{
    (void)s, (void)data, (void)len;
    return 0;
}
static int discard_close(zb_stage *s)
{
    (void)s;
    return 0;
}
static void discard_free(zb_stage *s) { free(s); }

/* A stream buffer that cannot be allocated: the message counts the buffers
 * from before the stage was freed, not from the freed stage. */
static void async_stage_out_of_memory_names_its_buffers(void **state)
{
    (void)state;
    zb_stage *next = calloc(1, sizeof(*next));
    assert_non_null(next);
    next->write = discard_write;
    next->close = discard_close;
    next->free = discard_free;
    zb_stage *s = NULL;
    enum { ODD_BUFFER_SIZE = 123457 }; /* no other allocation of the call has this size */
    armed.fail_size = ODD_BUFFER_SIZE;
    armed.poison_freed = 1;
    int rc = zb_stage_async_new(&s, ODD_BUFFER_SIZE, 3, next);
    disarm();
    assert_int_equal(rc, ZB_ENOMEM);
    assert_null(s);
    assert_string_equal(zb_error_message(), "cannot allocate 3 stream buffers");
    free(next); /* the stage takes its next only once it is made */
}

/* No volume named, labelled or in a project: an empty selection, and no
 * qsort over a NULL array. */
static void volume_selection_of_nothing_sorts_nothing(void **state)
{
    (void)state;
    char **names = NULL;
    size_t count = 7;
    int rc = zb_volume_select(&names, &count, NULL, NULL, NULL, NULL);
    unsigned null_sorts = armed.null_qsort_calls;
    disarm();
    assert_int_equal(rc, 0);
    assert_int_equal(count, 0);
    assert_null(names);
    assert_int_equal(null_sorts, 0);
}

/* A database target added without a name takes the archive's database
 * source; when copying that name fails, the restore says out of memory,
 * never that the source was not selected. */
static void restore_plan_out_of_memory_is_not_unselected(void **state)
{
    (void)state;
    char path[] = "/tmp/zb-alloc-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    zb_archive_write_options opts = {0};
    opts.keys.no_encryption = 1;
    zb_archive_writer *w = NULL;
    assert_int_equal(zb_archive_writer_open(&w, path, &opts), 0);
    assert_int_equal(zb_archive_writer_begin_source(w, ZB_SOURCE_PG, "orders-db-7f3", NULL), 0);
    assert_int_equal(zb_archive_writer_add_file(w, "toc.json", "[]", 2, 0600), 0);
    assert_int_equal(zb_archive_writer_end_source(w, NULL), 0);
    assert_int_equal(zb_archive_writer_close(w), 0);
    zb_archive_writer_free(w);

    zb_read_keys keys = {0};
    zb_archive_reader *r = NULL;
    zb_restore_plan *p = NULL;
    zb_pg_restore_options pg = {0};
    pg.target_db = "scratch";
    assert_int_equal(zb_archive_reader_open(&r, path, &keys), 0);
    assert_int_equal(zb_restore_plan_new(&p), 0);
    assert_int_equal(zb_restore_plan_add_pg(p, NULL, &pg), 0);
    armed.fail_copy = "orders-db-7f3";
    int rc = zb_restore_plan_run(p, r);
    disarm();
    char message[ZB_ERROR_MESSAGE_MAX];
    snprintf(message, sizeof(message), "%s", zb_error_message());
    zb_restore_plan_free(p);
    zb_archive_reader_free(r);
    unlink(path);
    assert_int_equal(rc, ZB_ENOMEM);
    assert_string_equal(message, "out of memory");
}

/* The SFTP driver's last copy fails: the open fails and hands out no state
 * (which its caller, seeing the failure, would never close). */
static void sftp_open_out_of_memory_hands_out_no_state(void **state)
{
    (void)state;
    char dir[] = "/tmp/zb-alloc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    zb_buf key = ZB_BUF_INIT, hosts = ZB_BUF_INIT;
    assert_int_equal(zb_buf_printf(&key, "%s/id", dir), 0);
    assert_int_equal(zb_buf_printf(&hosts, "%s/known_hosts", dir), 0);
    FILE *f = fopen(key.data, "w");
    assert_non_null(f);
    fclose(f);
    assert_non_null(f = fopen(hosts.data, "w"));
    fclose(f);
    zb_config_remote conf;
    zb_config_remote_init(&conf);
    conf.name = "offsite";
    conf.type = "sftp";
    conf.url = "sftp://backup.invalid:2222/zakpos-alloc-test";
    conf.key_file = key.data;
    conf.known_hosts = hosts.data;
    void *driver_state = NULL;
    char *where = NULL;
    armed.fail_copy = "sftp://backup.invalid:2222/zakpos-alloc-test/";
    int rc = zb_remote_sftp.open(&driver_state, &where, &conf);
    disarm();
    int leaked = driver_state != NULL;
    if (rc == 0 || leaked)
        zb_remote_sftp.close(driver_state);
    free(where);
    unlink(key.data);
    unlink(hosts.data);
    rmdir(dir);
    zb_buf_free(&key);
    zb_buf_free(&hosts);
    assert_int_equal(rc, ZB_ENOMEM);
    assert_false(leaked);
}

ZB_TEST_MAIN(async_stage_out_of_memory_names_its_buffers, volume_selection_of_nothing_sorts_nothing,
             restore_plan_out_of_memory_is_not_unselected, sftp_open_out_of_memory_hands_out_no_state)
