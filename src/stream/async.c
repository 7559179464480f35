#include "zakpos_backup/stream/async.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/signal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static struct async_stage *abandoned_stages;

/* How often a waiting producer looks for a signal. */
#define SIGNAL_POLL_NS (100 * 1000 * 1000)

typedef struct async_buffer {
    unsigned char *data;
    size_t len;
} async_buffer;

typedef struct async_stage {
    zb_stage base;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    async_buffer *ring;
    size_t depth;
    size_t buffer_size;
    size_t head;   /* next buffer the consumer writes out */
    size_t queued; /* buffers full and waiting for the consumer */
    size_t fill;   /* the producer's buffer is ring[(head + queued) % depth] */
    int ending;    /* producer is done: drain, close next and stop */
    int aborting;  /* being freed after an error: stop now */
    int busy;      /* the consumer is inside the rest of the chain */
    int done;      /* the consumer drained and closed next */
    int abandoned; /* freed after a signal while busy: left to the exit */
    struct async_stage *next_abandoned;
    /* The consumer's failure, carried across threads (errors are thread-local). */
    int failed_code;
    zb_error_saved failure;
} async_stage;

static void consumer_failed(async_stage *a, int rc)
{
    if (rc < 0 && !a->failed_code) {
        a->failed_code = rc;
        zb_error_save(&a->failure);
    }
}

/* The consumer also closes the rest of the chain (a zstd frame's end can
 * take long), so that a producer waiting for it can stop on a signal. */
static void *consumer_main(void *arg)
{
    async_stage *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (a->queued == 0 && !a->ending && !a->aborting)
            pthread_cond_wait(&a->changed, &a->lock);
        if (a->aborting)
            break;
        if (a->queued == 0 && a->ending) {
            int failed = a->failed_code;
            a->busy = 1;
            pthread_mutex_unlock(&a->lock);
            int rc = failed ? 0 : zb_stage_close(a->base.next);
            pthread_mutex_lock(&a->lock);
            a->busy = 0;
            consumer_failed(a, rc);
            a->done = 1;
            pthread_cond_broadcast(&a->changed);
            break;
        }
        async_buffer *b = &a->ring[a->head];
        a->busy = 1;
        pthread_mutex_unlock(&a->lock);
        int rc = a->failed_code ? 0 : zb_stage_write(a->base.next, b->data, b->len);
        pthread_mutex_lock(&a->lock);
        a->busy = 0;
        consumer_failed(a, rc);
        b->len = 0;
        a->head = (a->head + 1) % a->depth;
        a->queued--;
        pthread_cond_broadcast(&a->changed);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* One bounded wait for the consumer (lock held): 1 when a signal arrived. */
static int wait_or_signal(async_stage *a)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += SIGNAL_POLL_NS;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&a->changed, &a->lock, &until);
    return zb_interrupted() != 0;
}

/* Re-raises the consumer's error in the calling thread. */
static int consumer_failure(async_stage *a) { return zb_error_raise(&a->failure); }

/* Queues the producer's current buffer and waits until another is free. */
static int hand_over(async_stage *a)
{
    pthread_mutex_lock(&a->lock);
    a->queued++;
    pthread_cond_broadcast(&a->changed);
    while (a->queued == a->depth && !a->failed_code) {
        if (wait_or_signal(a)) {
            pthread_mutex_unlock(&a->lock);
            return zb_check_interrupt();
        }
    }
    a->fill = (a->head + a->queued) % a->depth;
    int failed = a->failed_code;
    pthread_mutex_unlock(&a->lock);
    return failed ? consumer_failure(a) : 0;
}

static int async_write(zb_stage *s, const void *data, size_t len)
{
    async_stage *a = (async_stage *)s;
    const unsigned char *p = data;
    while (len > 0) {
        async_buffer *b = &a->ring[a->fill];
        size_t n = a->buffer_size - b->len;
        if (n > len)
            n = len;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        p += n;
        len -= n;
        if (b->len == a->buffer_size) {
            int rc = hand_over(a);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int async_close(zb_stage *s)
{
    async_stage *a = (async_stage *)s;
    pthread_mutex_lock(&a->lock);
    if (a->ring[a->fill].len > 0)
        a->queued++;
    a->ending = 1;
    pthread_cond_broadcast(&a->changed);
    while (!a->done) {
        if (wait_or_signal(a)) {
            pthread_mutex_unlock(&a->lock);
            return zb_check_interrupt();
        }
    }
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    a->thread_started = 0;
    return a->failed_code ? consumer_failure(a) : 0;
}

int zb_stage_async_abandon(zb_stage *s)
{
    async_stage *a = (async_stage *)s;
    if (!a || !zb_interrupted())
        return 0;
    pthread_mutex_lock(&a->lock);
    /* not only while busy: the chain's own threads (zstd workers) may be
     * at work, and freeing it would wait for them */
    a->abandoned = a->thread_started && !a->done;
    pthread_mutex_unlock(&a->lock);
    return a->abandoned;
}

static void async_free(zb_stage *s)
{
    async_stage *a = (async_stage *)s;
    if (a->thread_started) {
        pthread_mutex_lock(&a->lock);
        a->aborting = 1;
        pthread_cond_broadcast(&a->changed);
        pthread_mutex_unlock(&a->lock);
        if (a->abandoned) {
            /* its thread may still be inside the chain: nothing it uses is
             * freed; the process is about to exit. Kept reachable, so a
             * leak checker does not report what is left on purpose. */
            pthread_detach(a->thread);
            pthread_mutex_lock(&abandoned_lock);
            a->next_abandoned = abandoned_stages;
            abandoned_stages = a;
            pthread_mutex_unlock(&abandoned_lock);
            return;
        }
        pthread_join(a->thread, NULL);
    }
    zb_stage_free_chain(a->base.next);
    for (size_t i = 0; a->ring && i < a->depth; i++)
        free(a->ring[i].data);
    free(a->ring);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->changed);
    free(a);
}

int zb_stage_async_new(zb_stage **out, size_t buffer_size, size_t depth, zb_stage *next)
{
    *out = NULL;
    async_stage *a = calloc(1, sizeof(*a));
    if (!a)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    a->base.write = async_write;
    a->base.close = async_close;
    a->base.free = async_free;
    a->depth = depth < 2 ? 2 : depth;
    a->buffer_size = buffer_size;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->changed, NULL);
    a->ring = calloc(a->depth, sizeof(*a->ring));
    int ok = a->ring != NULL;
    for (size_t i = 0; ok && i < a->depth; i++)
        ok = (a->ring[i].data = malloc(buffer_size)) != NULL;
    if (!ok) {
        size_t buffers = a->depth; /* the message is written after the stage is gone */
        async_free(&a->base);
        return zb_error_set(ZB_ENOMEM, "cannot allocate %zu stream buffers", buffers);
    }
    a->base.next = next;
    a->base.owns_next = 1;
    if (pthread_create(&a->thread, NULL, consumer_main, a) != 0) {
        a->base.next = NULL;
        async_free(&a->base);
        return zb_error_set(ZB_EFAIL, "cannot start the output thread");
    }
    a->thread_started = 1;
    *out = &a->base;
    return 0;
}
