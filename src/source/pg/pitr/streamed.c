#include "zakpos_backup/source/pg/pitr/streamed.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/source/pg/pitr/decode.h"

#include <stdlib.h>
#include <string.h>

/* Where a subtransaction's first change lies in its transaction's spill:
 * its abort cuts the spill back there (later subtransactions are nested in
 * it or began after it, so they go too). */
typedef struct subxact {
    uint32_t xid;
    uint64_t offset;
} subxact;

typedef struct streamed_tx {
    uint32_t xid;
    zb_pitr_spool *spill;
    subxact *subxacts;
    size_t subxact_count;
} streamed_tx;

struct zb_pitr_streamed {
    char *dir;
    streamed_tx *txs;
    size_t tx_count;
    streamed_tx *current; /* the transaction of the open Stream block, or NULL */
    zb_buf message;       /* a message with its xid taken out */
};

int zb_pitr_streamed_new(zb_pitr_streamed **out, const char *dir)
{
    *out = calloc(1, sizeof(**out));
    if (!*out || !((*out)->dir = zb_strdup(dir))) {
        free(*out);
        *out = NULL;
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    return 0;
}

static void tx_clear(streamed_tx *t)
{
    zb_pitr_spool_free(t->spill);
    free(t->subxacts);
    memset(t, 0, sizeof(*t));
}

static streamed_tx *find_tx(zb_pitr_streamed *s, uint32_t xid)
{
    for (size_t i = 0; i < s->tx_count; i++)
        if (s->txs[i].xid == xid)
            return &s->txs[i];
    return NULL;
}

static void forget_tx(zb_pitr_streamed *s, streamed_tx *t)
{
    tx_clear(t);
    *t = s->txs[--s->tx_count];
    memset(&s->txs[s->tx_count], 0, sizeof(*t));
}

static int on_start(zb_pitr_streamed *s, const zb_pgo_msg *m)
{
    streamed_tx *t = find_tx(s, m->xid);
    if (t && m->first_segment) /* sent again from its start: what came before goes */
        forget_tx(s, t), t = NULL;
    if (!t && !m->first_segment)
        return zb_error_set(ZB_EFORMAT, "a later block of streamed transaction %u, whose first block never came",
                            m->xid);
    if (!t) {
        streamed_tx *grown = realloc(s->txs, (s->tx_count + 1) * sizeof(*grown));
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        s->txs = grown;
        t = &s->txs[s->tx_count];
        memset(t, 0, sizeof(*t));
        t->xid = m->xid;
        int rc = zb_pitr_spool_new(&t->spill, s->dir);
        if (rc < 0)
            return rc;
        s->tx_count++;
    }
    s->current = t;
    return 0;
}

static int on_abort(zb_pitr_streamed *s, const zb_pgo_msg *m)
{
    streamed_tx *t = find_tx(s, m->xid);
    if (!t) /* nothing of it came (the server may abort what it never streamed) */
        return 0;
    if (m->subxid == m->xid) {
        forget_tx(s, t);
        return 0;
    }
    for (size_t i = 0; i < t->subxact_count; i++) {
        if (t->subxacts[i].xid != m->subxid)
            continue;
        int rc = zb_pitr_spool_truncate(t->spill, t->subxacts[i].offset);
        t->subxact_count = i;
        return rc;
    }
    return 0; /* a subtransaction without a change */
}

/* A change inside a block: spilled as version 1 sends it (no xid), after
 * noting where a subtransaction's first change starts. */
static int on_block_message(zb_pitr_streamed *s, const uint8_t *data, size_t len, uint64_t lsn)
{
    if (len < 5)
        return zb_error_set(ZB_EFORMAT, "a pgoutput message ends early");
    streamed_tx *t = s->current;
    uint32_t xid = zb_pgo_get_u32(data + 1);
    int known = xid == t->xid;
    for (size_t i = 0; !known && i < t->subxact_count; i++)
        known = t->subxacts[i].xid == xid;
    if (!known) {
        subxact *grown = realloc(t->subxacts, (t->subxact_count + 1) * sizeof(*grown));
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        t->subxacts = grown;
        t->subxacts[t->subxact_count++] = (subxact){xid, zb_pitr_spool_bytes(t->spill)};
    }
    zb_buf_reset(&s->message);
    int rc = zb_buf_append(&s->message, data, 1);
    if (rc == 0)
        rc = zb_buf_append(&s->message, data + 5, len - 5);
    return rc == 0 ? zb_pitr_spool_add(t->spill, lsn, (const uint8_t *)s->message.data, s->message.len) : rc;
}

/* The committed transaction as version 1 sends one. */
static int on_commit(zb_pitr_streamed *s, const zb_pgo_msg *m, uint64_t lsn, zb_pitr_record_fn fn, void *payload)
{
    streamed_tx *t = find_tx(s, m->xid);
    if (!t)
        return zb_error_set(ZB_EFORMAT, "the commit of streamed transaction %u, of which nothing came", m->xid);
    uint8_t begin[21], commit[26];
    begin[0] = ZB_PGO_BEGIN;
    zb_pgo_put_u64(begin + 1, m->commit_lsn);
    zb_pgo_put_u64(begin + 9, (uint64_t)m->commit_time);
    zb_pgo_put_u32(begin + 17, m->xid);
    commit[0] = ZB_PGO_COMMIT;
    commit[1] = 0;
    zb_pgo_put_u64(commit + 2, m->commit_lsn);
    zb_pgo_put_u64(commit + 10, m->end_lsn);
    zb_pgo_put_u64(commit + 18, (uint64_t)m->commit_time);
    int rc = fn(lsn, begin, sizeof(begin), payload);
    if (rc == 0)
        rc = zb_pitr_spool_each(t->spill, fn, payload);
    if (rc == 0)
        rc = fn(lsn, commit, sizeof(commit), payload);
    forget_tx(s, t);
    return rc;
}

int zb_pitr_streamed_take(zb_pitr_streamed *s, const uint8_t *data, size_t len, uint64_t lsn, zb_pitr_record_fn fn,
                          void *payload)
{
    if (len == 0)
        return 0;
    uint8_t kind = data[0];
    if (s->current && zb_pgo_streams_xid(kind)) {
        int rc = on_block_message(s, data, len, lsn);
        return rc < 0 ? rc : 1;
    }
    if (kind != ZB_PGO_STREAM_START && kind != ZB_PGO_STREAM_STOP && kind != ZB_PGO_STREAM_COMMIT &&
        kind != ZB_PGO_STREAM_ABORT)
        return 0;
    zb_pgo_msg m;
    int rc = zb_pgo_decode(&m, data, len);
    if (rc < 0)
        return rc;
    if (kind == ZB_PGO_STREAM_START && s->current)
        rc = zb_error_set(ZB_EFORMAT, "a Stream Start inside a Stream block");
    else if (kind != ZB_PGO_STREAM_START && kind != ZB_PGO_STREAM_STOP && s->current)
        rc = zb_error_set(ZB_EFORMAT, "a Stream Commit or Abort inside a Stream block");
    if (rc == 0 && kind == ZB_PGO_STREAM_START)
        rc = on_start(s, &m);
    else if (rc == 0 && kind == ZB_PGO_STREAM_STOP)
        s->current = NULL;
    else if (rc == 0 && kind == ZB_PGO_STREAM_ABORT)
        rc = on_abort(s, &m);
    else if (rc == 0)
        rc = on_commit(s, &m, lsn, fn, payload);
    zb_pgo_msg_clear(&m);
    return rc < 0 ? rc : rc > 0 ? rc : 1;
}

size_t zb_pitr_streamed_open_count(const zb_pitr_streamed *s) { return s ? s->tx_count : 0; }

void zb_pitr_streamed_free(zb_pitr_streamed *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->tx_count; i++)
        tx_clear(&s->txs[i]);
    free(s->txs);
    zb_buf_free(&s->message);
    free(s->dir);
    free(s);
}
