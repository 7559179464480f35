/* The restore plan: a database source's table of contents (toc.json, see
 * docs/FORMAT.md) parsed once into structs, as pg_dump's TocEntry is:
 * section and kind as enums, the tables an item depends on and locks, and
 * the fields the restore steps read. Parsing checks every field the
 * restore relies on, so the scheduler and the steps look nothing up by
 * name. The document is read one item at a time and never held as JSON
 * values whole: names are kept once each (common/intern.h), statements
 * compressed until they run (stream/textpack.h), so what a plan holds is
 * a few hundred bytes an item, whatever the database's shape. A kind this reader has no rule for (a later backup may
 * write new ones) is kept as ZB_PG_KIND_OTHER with its name and SQL, and restored by its section and order like any
 * other item. */
#ifndef ZB_SOURCE_PG_RESTORE_PLAN_H
#define ZB_SOURCE_PG_RESTORE_PLAN_H

#include "zakpos_backup/common/intern.h"
#include "zakpos_backup/stream/textpack.h"

#include <stddef.h>

/* Bounds on what a table of contents may hold, beyond the JSON limits of
 * common/json.h; past them the plan is refused with a message. */
#define ZB_PG_PLAN_MAX_ITEMS       1000000u
#define ZB_PG_PLAN_MAX_TABLES      1000000u
#define ZB_PG_PLAN_MAX_STEPS       16u
#define ZB_PG_PLAN_MAX_CONNECTIONS 65536

/* The server's table lock modes that restore statements take (their
 * conflicts are in restore_schedule.h). */
enum {
    ZB_PG_LOCK_ROW_SHARE = 1 << 0,              /* what VALIDATE of a foreign key takes on the table it references */
    ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE = 1 << 1, /* VALIDATE, ANALYZE */
    ZB_PG_LOCK_SHARE = 1 << 2,                  /* CREATE INDEX */
    ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE = 1 << 3,    /* adding a foreign key */
    ZB_PG_LOCK_ACCESS_EXCLUSIVE = 1 << 4,       /* other ALTER TABLE */
};

typedef enum zb_pg_section {
    ZB_PG_SECTION_PRE_DATA, /* before the rows: schemas, types, functions, tables ... */
    ZB_PG_SECTION_POST_DATA /* after them: indexes, constraints, triggers ... */
} zb_pg_section;

/* The kinds the restore has a rule for; every other one is OTHER. */
typedef enum zb_pg_kind {
    ZB_PG_KIND_OTHER,
    ZB_PG_KIND_TABLE,
    ZB_PG_KIND_VIEW,
    ZB_PG_KIND_MATERIALIZED_VIEW,
    ZB_PG_KIND_INDEX,
    ZB_PG_KIND_CONSTRAINT,
    ZB_PG_KIND_FK_CONSTRAINT,
    ZB_PG_KIND_EXTENSION,
    ZB_PG_KIND_EVENT_TRIGGER,
    ZB_PG_KIND_FOREIGN_DATA_WRAPPER,
    ZB_PG_KIND_SERVER,
    ZB_PG_KIND_ACCESS_METHOD,
    ZB_PG_KIND_PROCEDURAL_LANGUAGE,
    ZB_PG_KIND_LANGUAGE,
    ZB_PG_KIND_PUBLICATION_TABLE, /* left out with its table, with a warning */
} zb_pg_kind;

/* Relations (tables an item belongs to or references) are numbered once:
 * the scheduler compares numbers, not names. */
#define ZB_PG_NO_RELATION     (-1L)
/* data_references of an item that references no table. */
#define ZB_PG_REFERENCES_NONE (-2L)

/* A statement held in the plan's texts: zb_pg_plan_text reads it; 0 is
 * none. */
typedef zb_textpack_ref zb_pg_text;

typedef struct zb_pg_plan_step {
    zb_pg_text sql;
    int lock;            /* ZB_PG_LOCK_ bit it takes on the item's table */
    int references_lock; /* and on the table it references */
} zb_pg_plan_step;

/* Names are the plan's (its intern table), statements its texts. */
typedef struct zb_pg_plan_item {
    size_t index; /* its position among the toc's items, from 0: the restore order */
    zb_pg_section section;
    zb_pg_kind kind;
    const char *kind_name; /* as the toc names it (an OTHER kind too) */
    const char *schema, *name;
    zb_pg_text sql, owner, acl; /* 0 when absent */
    long table;                 /* the relation it belongs to, or ZB_PG_NO_RELATION */
    long references;            /* the relation a foreign key references, or ZB_PG_NO_RELATION */
    long partition_of;          /* a partition's parent relation, or ZB_PG_NO_RELATION (and in archives before it) */
    long data_table;            /* the plan's table whose rows it works on, or -1 */
    long data_references;       /* the plan's table it references, -1 if none with rows, or ZB_PG_REFERENCES_NONE */
    int lock;                   /* ZB_PG_LOCK_ bit its sql takes on table (ACCESS EXCLUSIVE when the toc says none) */
    zb_pg_plan_step *steps;     /* the same work split into statements, or NULL */
    size_t step_count;
    unsigned on_pool : 1;         /* runs on the worker pool, side by side with others */
    unsigned early : 1;           /* locks nothing but its tables: may start while other tables load */
    unsigned relation : 1;        /* a table, view or materialized view */
    unsigned needs_privilege : 1; /* creating it may need more than owning the database */
    unsigned selected : 1;        /* kept by the selection (zb_pg_plan_select) */
    unsigned adds_tables : 1;     /* a publication whose sql adds its tables (archives before PUBLICATION TABLE) */
} zb_pg_plan_item;

/* A table whose rows the archive carries. */
typedef struct zb_pg_plan_table {
    unsigned int oid;
    const char *schema, *name;
    const char *quoted;  /* its qualified, quoted name */
    long relation;       /* its number among the relations */
    const char *columns; /* the column list, as the backup recorded it (zb_pg_ident_column_list) */
    unsigned binary : 1; /* its rows are COPY's binary format */
    unsigned selected : 1;
} zb_pg_plan_table;

/* What an item of no table of its own needs (a relation), kept by the
 * selection only with it; in the items' order. */
typedef struct zb_pg_plan_need {
    size_t item;
    long relation; /* ZB_PG_NO_RELATION: none of the document's */
    const char *name;
} zb_pg_plan_need;

typedef struct zb_pg_plan {
    int format;                /* of the toc: 0 or 1 for early archives */
    int server_version;        /* of the source, 0 when unknown */
    int connections;           /* the backup's, 0 when unknown (format 1) */
    const char *database;      /* the source's name, or NULL */
    const char *encoding;      /* or NULL */
    const char *copy_encoding; /* of the rows (the toc's copy_encoding), or NULL for UTF8 */
    zb_pg_plan_item *items;
    size_t item_count;
    zb_pg_plan_table *tables;
    size_t table_count;
    const char **relations; /* sorted quoted names; an item's table is an index here */
    size_t relation_count;
    /* per table, the items with rows of it: its data_table or data_references
     * (zb_pg_plan_table_items) */
    size_t *table_items;       /* item indexes grouped by table, each group in the toc's order */
    size_t *table_items_start; /* table t's group: table_items[start[t]] up to table_items[start[t + 1]] */
    zb_pg_plan_step *steps;    /* every item's steps, item after item */
    size_t step_count;
    zb_pg_plan_need *needs;
    size_t need_count;
    const char **tablespaces; /* the source's relations are in (besides the default) */
    size_t tablespace_count;
    zb_intern *names;   /* the names above */
    zb_textpack *texts; /* the statements */
} zb_pg_plan;

/* Parses a table of contents' text (JSON, len bytes; the plan keeps
 * nothing of it); every item and table is selected. ZB_EFORMAT naming the
 * item and field at fault, ZB_EUNSAFE past a bound above, ZB_ENOMEM. */
int zb_pg_plan_read(zb_pg_plan **out, const char *text, size_t len);
/* The same of a text of len bytes read a window at a time (an archive
 * entry): read() puts up to room bytes in buf and says how many in *got.
 * Of the text, what one value takes is held at once, not the whole. */
typedef int (*zb_pg_plan_source_fn)(void *payload, char *buf, size_t room, size_t *got);
int zb_pg_plan_read_stream(zb_pg_plan **out, size_t len, zb_pg_plan_source_fn read, void *payload);

/* *sql: the statement text of ref (NULL for 0), valid until the next call
 * on the plan; the plan's texts are read by one thread at a time. 0, or
 * ZB_ENOMEM. */
int zb_pg_plan_text(zb_pg_plan *plan, zb_pg_text ref, const char **sql);

/* The memory the plan holds, in bytes (its arrays, names and texts). */
size_t zb_pg_plan_held(const zb_pg_plan *plan);

/* Keeps what a selective restore (tables as "schema.name", schemas; NULL or
 * empty lists: everything) needs: everything tables may need (schemas,
 * extensions, types, functions, sequences), the selected tables and views,
 * and what hangs off them; a foreign key only if the table it references is
 * kept. A partitioned table brings its partitions, at every level (their
 * rows are the table's). 0, or ZB_ENOMEM. */
int zb_pg_plan_select(zb_pg_plan *plan, const char *const *tables, const char *const *schemas);

/* Whether a post-data pool item may start while other tables still load:
 * it locks only its own tables and the rows of every table it works on are
 * committed (committed(table index, payload) says so). */
/* The items whose data_table or data_references is this table, in the toc's
 * order: what may become ready when its rows are committed. Their count. */
size_t zb_pg_plan_table_items(const zb_pg_plan *plan, size_t table, const size_t **items);

int zb_pg_plan_item_ready(const zb_pg_plan *plan, const zb_pg_plan_item *it,
                          int (*committed)(size_t table, void *payload), void *payload);

/* A lock mode named in the table of contents; anything else (and none) is
 * taken as the strongest, which conflicts with everything. */
int zb_pg_lock_mode(const char *name);

void zb_pg_plan_free(zb_pg_plan *plan);

#endif
