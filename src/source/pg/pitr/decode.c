#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A cursor over one message: every read checks what is left first. */
typedef struct cursor {
    const uint8_t *p;
    size_t left;
} cursor;

uint64_t zb_pgo_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

uint32_t zb_pgo_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

void zb_pgo_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)(v & 0xff);
}

void zb_pgo_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)(v & 0xff);
}

static int truncated(void) { return zb_error_set(ZB_EFORMAT, "a pgoutput message ends early"); }

static int get_u8(cursor *c, uint8_t *out)
{
    if (c->left < 1)
        return truncated();
    *out = c->p[0];
    c->p++, c->left--;
    return 0;
}

static int get_u16(cursor *c, uint16_t *out)
{
    if (c->left < 2)
        return truncated();
    *out = (uint16_t)((c->p[0] << 8) | c->p[1]);
    c->p += 2, c->left -= 2;
    return 0;
}

static int get_u32(cursor *c, uint32_t *out)
{
    if (c->left < 4)
        return truncated();
    *out = zb_pgo_get_u32(c->p);
    c->p += 4, c->left -= 4;
    return 0;
}

static int get_u64(cursor *c, uint64_t *out)
{
    if (c->left < 8)
        return truncated();
    *out = zb_pgo_get_u64(c->p);
    c->p += 8, c->left -= 8;
    return 0;
}

/* A NUL-terminated string inside the message, copied. */
static int get_string(cursor *c, char **out)
{
    const uint8_t *end = memchr(c->p, 0, c->left);
    if (!end)
        return truncated();
    size_t n = (size_t)(end - c->p);
    *out = strndup((const char *)c->p, n);
    if (!*out)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    c->p += n + 1, c->left -= n + 1;
    return 0;
}

static void tuple_clear(zb_pgo_tuple *t)
{
    free(t->kinds);
    free(t->values);
    free(t->data);
    memset(t, 0, sizeof(*t));
}

/* Text values are copied into one block with a NUL after each, so they can
 * go to PQexecParams as they are. Two passes: sizes first, then copies. */
static int get_tuple(cursor *c, zb_pgo_tuple *t)
{
    uint16_t n = 0;
    int rc = get_u16(c, &n);
    if (rc < 0)
        return rc;
    if (n > ZB_PGO_MAX_COLUMNS)
        return zb_error_set(ZB_EFORMAT, "a pgoutput row has %u columns (at most %d)", n, ZB_PGO_MAX_COLUMNS);
    cursor scan = *c;
    size_t bytes = 0;
    for (uint16_t i = 0; i < n; i++) {
        uint8_t kind = 0;
        uint32_t len;
        if ((rc = get_u8(&scan, &kind)) < 0)
            return rc;
        if (kind == 'n' || kind == 'u')
            continue;
        if (kind != 't')
            return zb_error_set(ZB_EFORMAT, "a pgoutput column of kind '%c' (text expected)", kind);
        if ((rc = get_u32(&scan, &len)) < 0)
            return rc;
        if (len > scan.left)
            return truncated();
        scan.p += len, scan.left -= len, bytes += (size_t)len + 1;
    }
    t->column_count = n;
    t->kinds = calloc((size_t)n + 1, 1);
    t->values = calloc((size_t)n + 1, sizeof(*t->values));
    t->data = malloc(bytes + 1);
    if (!t->kinds || !t->values || !t->data) {
        tuple_clear(t);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    char *out = t->data;
    for (uint16_t i = 0; i < n; i++) {
        uint8_t kind = c->p[0];
        c->p++, c->left--;
        t->kinds[i] = (char)kind;
        if (kind != 't')
            continue;
        uint32_t len = zb_pgo_get_u32(c->p);
        c->p += 4, c->left -= 4;
        memcpy(out, c->p, len);
        out[len] = '\0';
        t->values[i] = out;
        out += (size_t)len + 1;
        c->p += len, c->left -= len;
    }
    return 0;
}

static int get_relation(cursor *c, zb_pgo_relation *r)
{
    uint8_t identity = 0;
    uint16_t n = 0;
    int rc = get_u32(c, &r->oid);
    if (rc == 0)
        rc = get_string(c, &r->schema);
    if (rc == 0)
        rc = get_string(c, &r->name);
    if (rc == 0)
        rc = get_u8(c, &identity);
    if (rc == 0)
        rc = get_u16(c, &n);
    if (rc < 0)
        return rc;
    if (n > ZB_PGO_MAX_COLUMNS)
        return zb_error_set(ZB_EFORMAT, "a pgoutput relation has %u columns (at most %d)", n, ZB_PGO_MAX_COLUMNS);
    r->identity = (char)identity;
    r->columns = calloc((size_t)n + 1, sizeof(*r->columns));
    if (!r->columns)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (uint16_t i = 0; rc == 0 && i < n; i++) {
        zb_pgo_column *col = &r->columns[i];
        uint32_t typmod;
        r->column_count = i + 1;
        if ((rc = get_u8(c, &col->flags)) == 0 && (rc = get_string(c, &col->name)) == 0 &&
            (rc = get_u32(c, &col->type_oid)) == 0 && (rc = get_u32(c, &typmod)) == 0)
            col->typmod = (int32_t)typmod;
    }
    return rc;
}

static int get_change(cursor *c, zb_pgo_msg *m)
{
    int rc = get_u32(c, &m->relation_oid);
    uint8_t tag = 0;
    if (rc == 0)
        rc = get_u8(c, &tag);
    if (rc == 0 && m->kind != ZB_PGO_INSERT && (tag == 'K' || tag == 'O')) {
        m->old_kind = (char)tag;
        if ((rc = get_tuple(c, &m->old_tuple)) == 0 && m->kind == ZB_PGO_UPDATE)
            rc = get_u8(c, &tag);
        if (rc == 0 && m->kind == ZB_PGO_DELETE)
            return 0;
    }
    if (rc == 0 && (m->kind == ZB_PGO_DELETE || tag != 'N'))
        return zb_error_set(ZB_EFORMAT, "a pgoutput %c message without the row it needs", (char)m->kind);
    return rc == 0 ? get_tuple(c, &m->new_tuple) : rc;
}

static int get_truncate(cursor *c, zb_pgo_msg *m)
{
    int rc = get_u32(c, &m->truncate_count);
    if (rc == 0)
        rc = get_u8(c, &m->truncate_options);
    if (rc < 0)
        return rc;
    if (m->truncate_count > c->left / 4)
        return truncated();
    m->truncate_oids = calloc((size_t)m->truncate_count + 1, sizeof(uint32_t));
    if (!m->truncate_oids)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (uint32_t i = 0; rc == 0 && i < m->truncate_count; i++)
        rc = get_u32(c, &m->truncate_oids[i]);
    return rc;
}

static int decode_body(cursor *c, zb_pgo_msg *m)
{
    uint64_t u64;
    uint8_t flags;
    int rc = 0;
    switch (m->kind) {
    case ZB_PGO_BEGIN:
        if ((rc = get_u64(c, &m->final_lsn)) == 0 && (rc = get_u64(c, &u64)) == 0)
            m->commit_time = (int64_t)u64, rc = get_u32(c, &m->xid);
        return rc;
    case ZB_PGO_COMMIT:
        if ((rc = get_u8(c, &flags)) == 0 && (rc = get_u64(c, &m->commit_lsn)) == 0 &&
            (rc = get_u64(c, &m->end_lsn)) == 0 && (rc = get_u64(c, &u64)) == 0)
            m->commit_time = (int64_t)u64;
        return rc;
    case ZB_PGO_ORIGIN: return (rc = get_u64(c, &u64)) == 0 ? get_string(c, &m->name) : rc;
    case ZB_PGO_RELATION: return get_relation(c, &m->relation);
    case ZB_PGO_TYPE:
        if ((rc = get_u32(c, &m->relation_oid)) == 0) {
            char *schema = NULL;
            rc = get_string(c, &schema);
            free(schema);
        }
        return rc == 0 ? get_string(c, &m->name) : rc;
    case ZB_PGO_INSERT:
    case ZB_PGO_UPDATE:
    case ZB_PGO_DELETE: return get_change(c, m);
    case ZB_PGO_TRUNCATE: return get_truncate(c, m);
    case ZB_PGO_MESSAGE: return 0; /* logical messages carry nothing replay needs */
    case ZB_PGO_STREAM_START: return (rc = get_u32(c, &m->xid)) == 0 ? get_u8(c, &m->first_segment) : rc;
    case ZB_PGO_STREAM_STOP: return 0;
    case ZB_PGO_STREAM_COMMIT:
        if ((rc = get_u32(c, &m->xid)) == 0 && (rc = get_u8(c, &flags)) == 0 &&
            (rc = get_u64(c, &m->commit_lsn)) == 0 && (rc = get_u64(c, &m->end_lsn)) == 0 &&
            (rc = get_u64(c, &u64)) == 0)
            m->commit_time = (int64_t)u64;
        return rc;
    case ZB_PGO_STREAM_ABORT: return (rc = get_u32(c, &m->xid)) == 0 ? get_u32(c, &m->subxid) : rc;
    }
    return zb_error_set(ZB_EFORMAT, "unknown pgoutput message kind 0x%02x", (unsigned)m->kind);
}

int zb_pgo_streams_xid(uint8_t kind)
{
    return kind == ZB_PGO_RELATION || kind == ZB_PGO_TYPE || kind == ZB_PGO_INSERT || kind == ZB_PGO_UPDATE ||
           kind == ZB_PGO_DELETE || kind == ZB_PGO_TRUNCATE || kind == ZB_PGO_MESSAGE;
}

int zb_pgo_decode(zb_pgo_msg *msg, const uint8_t *data, size_t len)
{
    memset(msg, 0, sizeof(*msg));
    if (len < 1)
        return truncated();
    cursor c = {data + 1, len - 1};
    msg->kind = (zb_pgo_kind)data[0];
    int rc = decode_body(&c, msg);
    if (rc < 0)
        zb_pgo_msg_clear(msg);
    return rc;
}

void zb_pgo_relation_clear(zb_pgo_relation *rel)
{
    if (!rel)
        return;
    for (int i = 0; i < rel->column_count; i++)
        free(rel->columns[i].name);
    free(rel->columns);
    free(rel->schema);
    free(rel->name);
    memset(rel, 0, sizeof(*rel));
}

void zb_pgo_relation_take(zb_pgo_relation *out, zb_pgo_msg *msg)
{
    *out = msg->relation;
    memset(&msg->relation, 0, sizeof(msg->relation));
}

void zb_pgo_msg_clear(zb_pgo_msg *msg)
{
    if (!msg)
        return;
    zb_pgo_relation_clear(&msg->relation);
    tuple_clear(&msg->old_tuple);
    tuple_clear(&msg->new_tuple);
    free(msg->truncate_oids);
    free(msg->name);
    zb_pgo_kind kind = msg->kind;
    memset(msg, 0, sizeof(*msg));
    msg->kind = kind;
}

double zb_pgo_time_to_unix(int64_t pg_time) { return (double)pg_time / 1e6 + (double)ZB_PGO_EPOCH_OFFSET; }

int zb_pgo_lsn_parse(uint64_t *out, const char *text)
{
    unsigned int hi, lo;
    int used = 0;
    if (!text || sscanf(text, "%X/%X%n", &hi, &lo, &used) != 2 || text[used] != '\0')
        return zb_error_set(ZB_EUSAGE, "'%s' is not an LSN like 0/16B3748", text ? text : "");
    *out = ((uint64_t)hi << 32) | lo;
    return 0;
}

void zb_pgo_lsn_format(char *out, size_t size, uint64_t lsn)
{
    snprintf(out, size, "%X/%X", (unsigned int)(lsn >> 32), (unsigned int)(lsn & 0xffffffffu));
}

void zb_pgo_time_format(char *out, size_t size, int64_t pg_time)
{
    int64_t micros = pg_time % 1000000;
    int64_t seconds = pg_time / 1000000;
    if (micros < 0)
        micros += 1000000, seconds -= 1;
    time_t t = (time_t)(seconds + ZB_PGO_EPOCH_OFFSET);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%06" PRId64 "Z", stamp, micros);
}
