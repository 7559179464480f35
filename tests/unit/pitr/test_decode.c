#include "zb_cmocka.h"

#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/source/pg/pitr/streamed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages are built by hand, byte by byte, as the server's pgoutput writes
 * them (src/backend/replication/logical/proto.c), not with the code under test. */
typedef struct msgbuf {
    uint8_t b[1024];
    size_t n;
} msgbuf;

static void u8(msgbuf *m, uint8_t v) { m->b[m->n++] = v; }
static void u16(msgbuf *m, uint16_t v) { u8(m, (uint8_t)(v >> 8)), u8(m, (uint8_t)v); }
static void u32(msgbuf *m, uint32_t v) { u16(m, (uint16_t)(v >> 16)), u16(m, (uint16_t)v); }
static void u64(msgbuf *m, uint64_t v) { u32(m, (uint32_t)(v >> 32)), u32(m, (uint32_t)v); }
static void str(msgbuf *m, const char *s)
{
    size_t n = strlen(s) + 1;
    memcpy(m->b + m->n, s, n);
    m->n += n;
}
static void text(msgbuf *m, const char *s)
{
    u8(m, 't');
    u32(m, (uint32_t)strlen(s));
    memcpy(m->b + m->n, s, strlen(s));
    m->n += strlen(s);
}

static void decode_begin_and_commit(void **state)
{
    (void)state;
    msgbuf m = {{0}, 0};
    u8(&m, 'B'), u64(&m, 0x100001234ULL), u64(&m, 123456789ULL), u32(&m, 777);
    zb_pgo_msg msg;
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.kind, ZB_PGO_BEGIN);
    assert_true(msg.final_lsn == 0x100001234ULL);
    assert_true(msg.commit_time == 123456789);
    assert_int_equal(msg.xid, 777);
    zb_pgo_msg_clear(&msg);

    m.n = 0;
    u8(&m, 'C'), u8(&m, 0), u64(&m, 0x100001234ULL), u64(&m, 0x100001264ULL), u64(&m, 123456789ULL);
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.kind, ZB_PGO_COMMIT);
    assert_true(msg.commit_lsn == 0x100001234ULL);
    assert_true(msg.end_lsn == 0x100001264ULL);
    zb_pgo_msg_clear(&msg);
}

static void decode_relation(void **state)
{
    (void)state;
    msgbuf m = {{0}, 0};
    u8(&m, 'R'), u32(&m, 16384), str(&m, "public"), str(&m, "sales"), u8(&m, 'd'), u16(&m, 2);
    u8(&m, 1), str(&m, "id"), u32(&m, 23), u32(&m, 0xffffffffu);
    u8(&m, 0), str(&m, "total"), u32(&m, 1700), u32(&m, 655366);
    zb_pgo_msg msg;
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.relation.oid, 16384);
    assert_string_equal(msg.relation.schema, "public");
    assert_string_equal(msg.relation.name, "sales");
    assert_int_equal(msg.relation.identity, 'd');
    assert_int_equal(msg.relation.column_count, 2);
    assert_int_equal(msg.relation.columns[0].flags, ZB_PGO_COLUMN_KEY);
    assert_string_equal(msg.relation.columns[1].name, "total");
    assert_int_equal(msg.relation.columns[0].typmod, -1);
    zb_pgo_relation rel;
    zb_pgo_relation_take(&rel, &msg);
    zb_pgo_msg_clear(&msg);
    assert_string_equal(rel.name, "sales"); /* still owned by rel */
    zb_pgo_relation_clear(&rel);
}

static void decode_insert_update_delete(void **state)
{
    (void)state;
    msgbuf m = {{0}, 0};
    u8(&m, 'I'), u32(&m, 16384), u8(&m, 'N'), u16(&m, 3), text(&m, "42"), u8(&m, 'n'), text(&m, "");
    zb_pgo_msg msg;
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.relation_oid, 16384);
    assert_int_equal(msg.new_tuple.column_count, 3);
    assert_string_equal(msg.new_tuple.values[0], "42");
    assert_int_equal(msg.new_tuple.kinds[1], 'n');
    assert_null(msg.new_tuple.values[1]);
    assert_string_equal(msg.new_tuple.values[2], "");
    zb_pgo_msg_clear(&msg);

    /* an update that changed the key: old key, then the new row with an unchanged TOAST value */
    m.n = 0;
    u8(&m, 'U'), u32(&m, 16384), u8(&m, 'K'), u16(&m, 2), text(&m, "1"), u8(&m, 'n');
    u8(&m, 'N'), u16(&m, 2), text(&m, "2"), u8(&m, 'u');
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.old_kind, 'K');
    assert_string_equal(msg.old_tuple.values[0], "1");
    assert_string_equal(msg.new_tuple.values[0], "2");
    assert_int_equal(msg.new_tuple.kinds[1], 'u');
    zb_pgo_msg_clear(&msg);

    /* an update that kept the key: no old row */
    m.n = 0;
    u8(&m, 'U'), u32(&m, 16384), u8(&m, 'N'), u16(&m, 1), text(&m, "x");
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.old_kind, 0);
    assert_string_equal(msg.new_tuple.values[0], "x");
    zb_pgo_msg_clear(&msg);

    m.n = 0;
    u8(&m, 'D'), u32(&m, 16384), u8(&m, 'O'), u16(&m, 2), text(&m, "7"), text(&m, "tab\there");
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.old_kind, 'O');
    assert_string_equal(msg.old_tuple.values[1], "tab\there");
    assert_int_equal(msg.new_tuple.column_count, 0);
    zb_pgo_msg_clear(&msg);
}

static void decode_truncate(void **state)
{
    (void)state;
    msgbuf m = {{0}, 0};
    u8(&m, 'T'), u32(&m, 2), u8(&m, ZB_PGO_TRUNCATE_RESTART_IDENTITY), u32(&m, 16384), u32(&m, 16390);
    zb_pgo_msg msg;
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.truncate_count, 2);
    assert_int_equal(msg.truncate_options, ZB_PGO_TRUNCATE_RESTART_IDENTITY);
    assert_int_equal(msg.truncate_oids[1], 16390);
    zb_pgo_msg_clear(&msg);
}

/* Every prefix of a valid message is refused, never read past. */
static void decode_refuses_truncated_messages(void **state)
{
    (void)state;
    msgbuf m = {{0}, 0};
    u8(&m, 'U'), u32(&m, 16384), u8(&m, 'O'), u16(&m, 2), text(&m, "1"), text(&m, "abc");
    u8(&m, 'N'), u16(&m, 2), text(&m, "2"), text(&m, "def");
    zb_pgo_msg msg;
    for (size_t n = 0; n < m.n; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any read past it */
        memcpy(copy, m.b, n);
        assert_int_equal(zb_pgo_decode(&msg, copy, n), ZB_EFORMAT);
        free(copy);
    }
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    zb_pgo_msg_clear(&msg);

    /* a text length beyond the message, binary values, unknown kinds */
    m.n = 0;
    u8(&m, 'I'), u32(&m, 1), u8(&m, 'N'), u16(&m, 1), u8(&m, 't'), u32(&m, 0x7fffffff);
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), ZB_EFORMAT);
    m.n = 0;
    u8(&m, 'I'), u32(&m, 1), u8(&m, 'N'), u16(&m, 1), u8(&m, 'b'), u32(&m, 0);
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), ZB_EFORMAT);
    m.n = 0;
    u8(&m, 'Z');
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), ZB_EFORMAT);
    m.n = 0;
    u8(&m, 'T'), u32(&m, 1000000), u8(&m, 0), u32(&m, 1);
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), ZB_EFORMAT);
}

static void lsn_and_time_text(void **state)
{
    (void)state;
    uint64_t lsn;
    char text[64];
    assert_int_equal(zb_pgo_lsn_parse(&lsn, "16/B374D848"), 0);
    assert_true(lsn == 0x16B374D848ULL);
    zb_pgo_lsn_format(text, sizeof(text), lsn);
    assert_string_equal(text, "16/B374D848");
    assert_true(zb_pgo_lsn_parse(&lsn, "16B374D848") < 0);
    assert_true(zb_pgo_lsn_parse(&lsn, "1/2x") < 0);
    /* 2026-12-07T13:00:05.000123Z in microseconds since 2000-01-01 */
    int64_t t = (int64_t)(1796648405LL - ZB_PGO_EPOCH_OFFSET) * 1000000 + 123;
    zb_pgo_time_format(text, sizeof(text), t);
    assert_string_equal(text, "2026-12-07T13:00:05.000123Z");
}

/* Protocol version 2's Stream messages (PostgreSQL 14+, streaming on). */
static void decode_stream_messages(void **state)
{
    (void)state;
    msgbuf m = {{0}, 0};
    zb_pgo_msg msg;
    u8(&m, 'S'), u32(&m, 900), u8(&m, 1);
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.kind, ZB_PGO_STREAM_START);
    assert_int_equal(msg.xid, 900);
    assert_int_equal(msg.first_segment, 1);
    m.n = 0;
    u8(&m, 'c'), u32(&m, 900), u8(&m, 0), u64(&m, 0x200ULL), u64(&m, 0x230ULL), u64(&m, 5555ULL);
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.kind, ZB_PGO_STREAM_COMMIT);
    assert_int_equal(msg.xid, 900);
    assert_true(msg.commit_lsn == 0x200ULL && msg.end_lsn == 0x230ULL && msg.commit_time == 5555);
    m.n = 0;
    u8(&m, 'A'), u32(&m, 900), u32(&m, 901);
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.kind, ZB_PGO_STREAM_ABORT);
    assert_int_equal(msg.subxid, 901);
    m.n = 0;
    u8(&m, 'E');
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), 0);
    assert_int_equal(msg.kind, ZB_PGO_STREAM_STOP);
    m.n = 0;
    u8(&m, 'c'), u32(&m, 900), u8(&m, 0), u64(&m, 0x200ULL);
    assert_int_equal(zb_pgo_decode(&msg, m.b, m.n), ZB_EFORMAT);
}

/* What the streamed transactions hand on: the messages as version 1 sends
 * a committed transaction, one line each ("B lsn xid", "I oid value", "C
 * commit end"). */
typedef struct handed {
    char text[2048];
} handed;

static int collect(uint64_t lsn, const uint8_t *data, size_t len, void *payload)
{
    handed *h = payload;
    zb_pgo_msg msg;
    assert_int_equal(zb_pgo_decode(&msg, data, len), 0);
    size_t n = strlen(h->text);
    if (msg.kind == ZB_PGO_BEGIN)
        snprintf(h->text + n, sizeof(h->text) - n, "B %llx %u|", (unsigned long long)msg.final_lsn, msg.xid);
    else if (msg.kind == ZB_PGO_COMMIT)
        snprintf(h->text + n, sizeof(h->text) - n, "C %llx %llx|", (unsigned long long)msg.commit_lsn,
                 (unsigned long long)msg.end_lsn);
    else if (msg.kind == ZB_PGO_INSERT)
        snprintf(h->text + n, sizeof(h->text) - n, "I %u %s @%llx|", msg.relation_oid, msg.new_tuple.values[0],
                 (unsigned long long)lsn);
    else
        snprintf(h->text + n, sizeof(h->text) - n, "%c|", (char)msg.kind);
    zb_pgo_msg_clear(&msg);
    return 0;
}

static int take(zb_pitr_streamed *s, const msgbuf *m, uint64_t lsn, handed *h)
{
    return zb_pitr_streamed_take(s, m->b, m->n, lsn, collect, h);
}

static void start(zb_pitr_streamed *s, uint32_t xid, int first, handed *h)
{
    msgbuf m = {{0}, 0};
    u8(&m, 'S'), u32(&m, xid), u8(&m, (uint8_t)first);
    assert_int_equal(take(s, &m, 0, h), 1);
}

static void stop(zb_pitr_streamed *s, handed *h)
{
    msgbuf m = {{0}, 0};
    u8(&m, 'E');
    assert_int_equal(take(s, &m, 0, h), 1);
}

/* an insert inside a block: the (sub)transaction's xid after the kind */
static void insert(zb_pitr_streamed *s, uint32_t xid, const char *value, uint64_t lsn, handed *h)
{
    msgbuf m = {{0}, 0};
    u8(&m, 'I'), u32(&m, xid), u32(&m, 16384), u8(&m, 'N'), u16(&m, 1), text(&m, value);
    assert_int_equal(take(s, &m, lsn, h), 1);
}

static void abort_tx(zb_pitr_streamed *s, uint32_t xid, uint32_t subxid, handed *h)
{
    msgbuf m = {{0}, 0};
    u8(&m, 'A'), u32(&m, xid), u32(&m, subxid);
    assert_int_equal(take(s, &m, 0, h), 1);
}

static void commit(zb_pitr_streamed *s, uint32_t xid, uint64_t commit_lsn, handed *h)
{
    msgbuf m = {{0}, 0};
    u8(&m, 'c'), u32(&m, xid), u8(&m, 0), u64(&m, commit_lsn), u64(&m, commit_lsn + 0x30), u64(&m, 1000);
    assert_int_equal(take(s, &m, commit_lsn, h), 1);
}

/* Two transactions streamed in turns, a subtransaction of one aborted, the
 * other aborted whole; an ordinary message between blocks is not taken. */
static void streamed_transactions_in_commit_order(void **state)
{
    (void)state;
    zb_pitr_streamed *s = NULL;
    handed h = {{0}};
    assert_int_equal(zb_pitr_streamed_new(&s, "/tmp"), 0);
    start(s, 900, 1, &h);
    insert(s, 900, "a1", 0x10, &h);
    stop(s, &h);
    start(s, 950, 1, &h);
    insert(s, 950, "b1", 0x20, &h);
    stop(s, &h);
    start(s, 900, 0, &h);
    insert(s, 901, "a-sub1", 0x30, &h); /* subtransaction 901 */
    insert(s, 902, "a-sub2", 0x40, &h); /* 902, nested in or after 901 */
    insert(s, 900, "a2", 0x50, &h);
    stop(s, &h);
    assert_int_equal(zb_pitr_streamed_open_count(s), 2);
    /* ROLLBACK TO the savepoint of 902: its change goes, 901's stays */
    abort_tx(s, 900, 902, &h);
    msgbuf plain = {{0}, 0};
    u8(&plain, 'I'), u32(&plain, 16384), u8(&plain, 'N'), u16(&plain, 1), text(&plain, "ordinary");
    assert_int_equal(take(s, &plain, 0x60, &h), 0);
    abort_tx(s, 950, 950, &h);
    assert_string_equal(h.text, "");
    commit(s, 900, 0x100, &h);
    assert_string_equal(h.text, "B 100 900|I 16384 a1 @10|I 16384 a-sub1 @30|C 100 130|");
    assert_int_equal(zb_pitr_streamed_open_count(s), 0);
    zb_pitr_streamed_free(s);
}

/* The abort of a subtransaction also cuts what later ones added, and a
 * transaction sent again from its first block starts over. */
static void streamed_abort_cuts_later_subtransactions(void **state)
{
    (void)state;
    zb_pitr_streamed *s = NULL;
    handed h = {{0}};
    assert_int_equal(zb_pitr_streamed_new(&s, "/tmp"), 0);
    start(s, 700, 1, &h);
    insert(s, 700, "x", 0x10, &h);
    insert(s, 701, "sub1", 0x20, &h);
    insert(s, 702, "sub2", 0x30, &h);
    stop(s, &h);
    abort_tx(s, 700, 701, &h);
    start(s, 700, 0, &h);
    insert(s, 700, "y", 0x40, &h);
    stop(s, &h);
    commit(s, 700, 0x200, &h);
    assert_string_equal(h.text, "B 200 700|I 16384 x @10|I 16384 y @40|C 200 230|");
    h.text[0] = '\0';
    start(s, 800, 1, &h);
    insert(s, 800, "old", 0x10, &h);
    stop(s, &h);
    start(s, 800, 1, &h);
    insert(s, 800, "again", 0x10, &h);
    stop(s, &h);
    commit(s, 800, 0x300, &h);
    assert_string_equal(h.text, "B 300 800|I 16384 again @10|C 300 330|");
    zb_pitr_streamed_free(s);
}

/* A later block of a transaction whose first never came, a commit of one
 * never seen, a block inside a block: refused. */
static void streamed_refuses_what_cannot_be(void **state)
{
    (void)state;
    zb_pitr_streamed *s = NULL;
    handed h = {{0}};
    msgbuf m = {{0}, 0};
    assert_int_equal(zb_pitr_streamed_new(&s, "/tmp"), 0);
    u8(&m, 'S'), u32(&m, 5), u8(&m, 0);
    assert_int_equal(take(s, &m, 0, &h), ZB_EFORMAT);
    m.n = 0;
    u8(&m, 'c'), u32(&m, 6), u8(&m, 0), u64(&m, 1), u64(&m, 2), u64(&m, 3);
    assert_int_equal(take(s, &m, 0, &h), ZB_EFORMAT);
    start(s, 7, 1, &h);
    m.n = 0;
    u8(&m, 'S'), u32(&m, 8), u8(&m, 1);
    assert_int_equal(take(s, &m, 0, &h), ZB_EFORMAT);
    zb_pitr_streamed_free(s);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_begin_and_commit),
        cmocka_unit_test(decode_relation),
        cmocka_unit_test(decode_insert_update_delete),
        cmocka_unit_test(decode_truncate),
        cmocka_unit_test(decode_refuses_truncated_messages),
        cmocka_unit_test(lsn_and_time_text),
        cmocka_unit_test(decode_stream_messages),
        cmocka_unit_test(streamed_transactions_in_commit_order),
        cmocka_unit_test(streamed_abort_cuts_later_subtransactions),
        cmocka_unit_test(streamed_refuses_what_cannot_be),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}
