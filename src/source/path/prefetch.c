#include "zakpos_backup/source/path/prefetch.h"
#include "zakpos_backup/common/buf.h"

#include <fcntl.h>
#include <fts.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct zb_prefetch {
    pthread_t thread;
    char *root;
    uint64_t window;
    _Atomic uint64_t consumed;
    _Atomic int stop;
    int name_order;
    /* the walker sleeps until the reader has consumed enough: a wake-up
     * when there is room, not a poll (thousands of wake-ups a second, which
     * took CPU from the reader and from dockerd) */
    pthread_mutex_t lock;
    pthread_cond_t room;
    uint64_t wanted; /* the walker waits for consumed to reach this; 0: not waiting */
};

static int by_name(const FTSENT **a, const FTSENT **b) { return strcmp((*a)->fts_name, (*b)->fts_name); }

static void wait_for_room(zb_prefetch *p, uint64_t ahead_of)
{
    if (ahead_of <= atomic_load(&p->consumed) + p->window)
        return;
    pthread_mutex_lock(&p->lock);
    p->wanted = ahead_of - p->window;
    while (!atomic_load(&p->stop) && ahead_of > atomic_load(&p->consumed) + p->window)
        pthread_cond_wait(&p->room, &p->lock);
    p->wanted = 0;
    pthread_mutex_unlock(&p->lock);
}

static void *prefetch_main(void *arg)
{
    zb_prefetch *p = arg;
    char *paths[] = {p->root, NULL};
    FTS *fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, p->name_order ? by_name : NULL);
    if (!fts)
        return NULL;
    uint64_t requested = 0;
    FTSENT *e;
    /* read before checking for stop: glibc's fts_close frees the root
     * entries only once fts_read has returned one */
    while ((e = fts_read(fts)) != NULL && !atomic_load(&p->stop)) {
        if (e->fts_info != FTS_F || e->fts_statp->st_size == 0)
            continue;
        wait_for_room(p, requested);
        int fd = open(e->fts_accpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            continue;
        posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
        close(fd);
        requested += (uint64_t)e->fts_statp->st_size;
    }
    fts_close(fts);
    return NULL;
}

void zb_prefetch_start(zb_prefetch **out, const char *root, uint64_t window_bytes, int name_order)
{
    *out = NULL;
    zb_prefetch *p = calloc(1, sizeof(*p));
    if (!p)
        return;
    p->root = zb_strdup(root);
    p->window = window_bytes;
    p->name_order = name_order;
    atomic_init(&p->consumed, 0);
    atomic_init(&p->stop, 0);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->room, NULL);
    if (!p->root || pthread_create(&p->thread, NULL, prefetch_main, p) != 0) {
        pthread_cond_destroy(&p->room);
        pthread_mutex_destroy(&p->lock);
        free(p->root);
        free(p);
        return;
    }
    *out = p;
}

void zb_prefetch_advance(zb_prefetch *p, uint64_t bytes)
{
    if (!p)
        return;
    uint64_t consumed = atomic_fetch_add(&p->consumed, bytes) + bytes;
    /* an uncontended lock per file, cheap next to reading the file */
    pthread_mutex_lock(&p->lock);
    if (p->wanted && consumed >= p->wanted)
        pthread_cond_signal(&p->room);
    pthread_mutex_unlock(&p->lock);
}

void zb_prefetch_stop(zb_prefetch *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, 1);
    pthread_cond_signal(&p->room);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->room);
    pthread_mutex_destroy(&p->lock);
    free(p->root);
    free(p);
}
