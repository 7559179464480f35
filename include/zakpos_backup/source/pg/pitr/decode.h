/* The pgoutput logical replication protocol (version 1, text tuple data):
 * one message at a time from a byte buffer into a typed struct. Used by the
 * follower (to find transaction boundaries and relations) and by replay (to
 * turn changes into SQL). Every length is checked against the buffer: a
 * segment is read back only after its signature and hashes were checked, but
 * a decoder that trusts lengths is one bug away from reading out of bounds. */
#ifndef ZB_SOURCE_PG_PITR_DECODE_H
#define ZB_SOURCE_PG_PITR_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* pgoutput's column flag: the column is part of the replica identity key. */
#define ZB_PGO_COLUMN_KEY                1
/* PostgreSQL's limit on columns of a table. */
#define ZB_PGO_MAX_COLUMNS               1664
/* TRUNCATE options */
#define ZB_PGO_TRUNCATE_CASCADE          1
#define ZB_PGO_TRUNCATE_RESTART_IDENTITY 2

typedef struct zb_pgo_column {
    uint8_t flags;
    char *name;
    uint32_t type_oid;
    int32_t typmod;
} zb_pgo_column;

typedef struct zb_pgo_relation {
    uint32_t oid;
    char *schema;
    char *name;
    char identity; /* 'd' default (primary key), 'n' nothing, 'f' full, 'i' index */
    int column_count;
    zb_pgo_column *columns;
} zb_pgo_relation;

/* One row image: per column a kind ('n' null, 'u' unchanged TOAST value,
 * 't' text) and, for 't', a NUL-terminated value (pointing into data). */
typedef struct zb_pgo_tuple {
    int column_count;
    char *kinds;
    char **values;
    char *data;
} zb_pgo_tuple;

typedef enum zb_pgo_kind {
    ZB_PGO_BEGIN = 'B',
    ZB_PGO_COMMIT = 'C',
    ZB_PGO_ORIGIN = 'O',
    ZB_PGO_RELATION = 'R',
    ZB_PGO_TYPE = 'Y',
    ZB_PGO_INSERT = 'I',
    ZB_PGO_UPDATE = 'U',
    ZB_PGO_DELETE = 'D',
    ZB_PGO_TRUNCATE = 'T',
    ZB_PGO_MESSAGE = 'M',
    /* protocol version 2, streaming on (PostgreSQL 14+): a transaction in
     * progress, in blocks; inside a block every change, Relation, Type and
     * Message carries the (sub)transaction's xid right after its kind */
    ZB_PGO_STREAM_START = 'S',
    ZB_PGO_STREAM_STOP = 'E',
    ZB_PGO_STREAM_COMMIT = 'c',
    ZB_PGO_STREAM_ABORT = 'A',
} zb_pgo_kind;

typedef struct zb_pgo_msg {
    zb_pgo_kind kind;
    /* Begin: final_lsn (the commit record), commit_time, xid.
     * Commit: commit_lsn, end_lsn, commit_time. */
    uint64_t final_lsn, commit_lsn, end_lsn;
    int64_t commit_time; /* microseconds since 2000-01-01 UTC */
    uint32_t xid;
    /* Stream Start: 1 on the transaction's first block; Stream Abort: the
     * subtransaction aborted (xid itself: the whole transaction) */
    uint8_t first_segment;
    uint32_t subxid;
    /* Relation (owned), or the relation oid of a change */
    zb_pgo_relation relation;
    uint32_t relation_oid;
    /* Update/Delete: old_kind 'K' (key columns only), 'O' (whole old row) or
     * 0 (none: the key did not change); Insert/Update: new_tuple */
    char old_kind;
    zb_pgo_tuple old_tuple, new_tuple;
    /* Truncate */
    uint8_t truncate_options;
    uint32_t truncate_count;
    uint32_t *truncate_oids;
    /* Origin and Type: the name (owned) */
    char *name;
} zb_pgo_msg;

/* Inside a Stream block, the message kinds that carry an xid after their
 * kind byte: 1 for those. */
int zb_pgo_streams_xid(uint8_t kind);
/* Decodes one pgoutput message; on failure (ZB_EFORMAT: truncated,
 * unknown kind, too many columns) msg holds nothing to free. */
int zb_pgo_decode(zb_pgo_msg *msg, const uint8_t *data, size_t len);
/* Frees what the message owns; the struct may be decoded into again. */
void zb_pgo_msg_clear(zb_pgo_msg *msg);
/* Moves the relation out of msg (msg no longer owns it). */
void zb_pgo_relation_take(zb_pgo_relation *out, zb_pgo_msg *msg);
void zb_pgo_relation_clear(zb_pgo_relation *rel);

/* Microseconds since 2000-01-01 UTC <-> Unix seconds. */
#define ZB_PGO_EPOCH_OFFSET 946684800LL
double zb_pgo_time_to_unix(int64_t pg_time);
/* "X/Y" LSN text <-> number */
int zb_pgo_lsn_parse(uint64_t *out, const char *text);
void zb_pgo_lsn_format(char *out, size_t size, uint64_t lsn);
/* "2026-12-07T13:00:05.123456Z" */
void zb_pgo_time_format(char *out, size_t size, int64_t pg_time);

/* Big-endian helpers shared with the replication stream. */
uint64_t zb_pgo_get_u64(const uint8_t *p);
uint32_t zb_pgo_get_u32(const uint8_t *p);
void zb_pgo_put_u64(uint8_t *p, uint64_t v);
void zb_pgo_put_u32(uint8_t *p, uint32_t v);

#endif
