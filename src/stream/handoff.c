#include "zakpos_backup/stream/handoff.h"
#include "zakpos_backup/common/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct zb_handoff {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned char **buffers;
    size_t *lens;
    size_t depth, buffer_size;
    /* The consumer reads buffers[head] on; it holds the one it read last
     * (holding) until its next read. The producer fills the buffer after
     * the held and queued ones: (head + holding + queued) % depth, a slot
     * that neither side's step moves, so it fills it outside the lock. */
    size_t head, queued;
    int holding;
    size_t filled; /* bytes in the producer's buffer */
    int ended;     /* the producer is done */
    int stopped;   /* the consumer is done */
};

int zb_handoff_new(zb_handoff **out, size_t buffer_size, size_t depth)
{
    *out = NULL;
    zb_handoff *h = calloc(1, sizeof(*h));
    if (!h)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    h->buffers = calloc(depth, sizeof(*h->buffers));
    h->lens = calloc(depth, sizeof(*h->lens));
    h->depth = depth, h->buffer_size = buffer_size;
    int ok = h->buffers && h->lens;
    for (size_t i = 0; ok && i < depth; i++)
        ok = (h->buffers[i] = malloc(buffer_size)) != NULL;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->changed, NULL);
    if (!ok) {
        zb_handoff_free(h);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    *out = h;
    return 0;
}

static size_t producer_slot(const zb_handoff *h) { return (h->head + (size_t)h->holding + h->queued) % h->depth; }

/* Queues the producer's buffer; under the lock. */
static void queue_filled(zb_handoff *h)
{
    h->lens[producer_slot(h)] = h->filled;
    h->queued++;
    h->filled = 0;
    pthread_cond_broadcast(&h->changed);
}

int zb_handoff_write(zb_handoff *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        pthread_mutex_lock(&h->lock);
        while ((size_t)h->holding + h->queued == h->depth && !h->stopped)
            pthread_cond_wait(&h->changed, &h->lock);
        int stopped = h->stopped;
        size_t slot = producer_slot(h);
        pthread_mutex_unlock(&h->lock);
        if (stopped)
            return zb_error_set(ZB_EIO, "the stream's reader stopped");
        size_t n = h->buffer_size - h->filled < len ? h->buffer_size - h->filled : len;
        memcpy(h->buffers[slot] + h->filled, p, n);
        h->filled += n, p += n, len -= n;
        if (h->filled == h->buffer_size) {
            pthread_mutex_lock(&h->lock);
            queue_filled(h);
            pthread_mutex_unlock(&h->lock);
        }
    }
    return 0;
}

void zb_handoff_end(zb_handoff *h)
{
    pthread_mutex_lock(&h->lock);
    if (h->filled && !h->stopped)
        queue_filled(h);
    h->ended = 1;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
}

ssize_t zb_handoff_read(zb_handoff *h, const void **data)
{
    pthread_mutex_lock(&h->lock);
    if (h->holding) { /* the last buffer read is free again */
        h->head = (h->head + 1) % h->depth;
        h->holding = 0;
        pthread_cond_broadcast(&h->changed);
    }
    while (h->queued == 0 && !h->ended)
        pthread_cond_wait(&h->changed, &h->lock);
    ssize_t n = 0;
    if (h->queued > 0) {
        h->holding = 1;
        h->queued--;
        *data = h->buffers[h->head];
        n = (ssize_t)h->lens[h->head];
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

void zb_handoff_stop(zb_handoff *h)
{
    pthread_mutex_lock(&h->lock);
    h->stopped = 1;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
}

void zb_handoff_free(zb_handoff *h)
{
    if (!h)
        return;
    for (size_t i = 0; h->buffers && i < h->depth; i++)
        free(h->buffers[i]);
    free(h->buffers);
    free(h->lens);
    pthread_cond_destroy(&h->changed);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
