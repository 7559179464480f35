/* JSON that comes out of an archive (manifest lines, tables of contents,
 * volume.json) is parsed under fixed limits, so a crafted archive cannot make
 * the reader allocate without bound: text length, nesting depth, and the
 * memory jansson may allocate for one document (counted by allocation
 * functions this module installs for the whole process). docs/SECURITY.md
 * lists the limits. */
#ifndef ZB_COMMON_JSON_H
#define ZB_COMMON_JSON_H

#include <jansson.h>
#include <sys/types.h>
#include <stddef.h>

#define ZB_JSON_MAX_TEXT   (16u << 20) /* one document or manifest line */
#define ZB_JSON_MAX_MEMORY (40u << 20) /* jansson's values for one document */
#define ZB_JSON_MAX_DEPTH  32          /* the writer nests at most 7 deep */

/* A database's table of contents and catalog fingerprint grow with its
 * number of objects (about 850 bytes of text a table, a fingerprint 120 an
 * object): they may be longer, and their parse may take memory in
 * proportion to the text actually read (jansson's values cost up to about
 * ten times their compact text), never more than that whatever they hold. */
#define ZB_JSON_MAX_CATALOG_TEXT        (64u << 20)
#define ZB_JSON_CATALOG_MEMORY_PER_BYTE 12u

/* 0 and *out, or <0: ZB_EUNSAFE past a limit, ZB_EFORMAT for invalid JSON.
 * `what` names the document in the message. */
int zb_json_parse_limited(json_t **out, const char *text, size_t len, const char *what);
/* The same under other limits: of the text, and of jansson's memory. */
int zb_json_parse_bounded(json_t **out, const char *text, size_t len, const char *what, size_t max_text,
                          size_t max_memory);
/* A catalog-sized document (ZB_JSON_MAX_CATALOG_TEXT, memory in proportion
 * to len, at least ZB_JSON_MAX_MEMORY). */
int zb_json_parse_catalog(json_t **out, const char *text, size_t len, const char *what);
/* One value at the start of text (a document read a piece at a time, as
 * a restore reads a table of contents' items one by one, so that never
 * the whole document is values at once), under max_memory; *used: the
 * bytes of text it took. The caller checks the nesting depth of the text
 * (zb_json_depth). Errors as above. */
int zb_json_parse_next(json_t **out, size_t *used, const char *text, size_t len, const char *what, size_t max_memory);
/* Nesting depth of JSON text (brackets outside strings); stops counting once
 * past max. */
size_t zb_json_depth(const char *text, size_t len, size_t max);

/* Text that may not be UTF-8: an SQL_ASCII database's names, comments and
 * bodies are its bytes as stored. In memory they are plain strings (jansson's
 * unchecked ones); in an archive's JSON a string that is not UTF-8 is the
 * object {"hex": "<its bytes in hex>"} (docs/FORMAT.md). */
int zb_json_utf8_valid(const char *text, size_t len);
/* A string of these bytes, UTF-8 or not (NULL: out of memory). */
json_t *zb_json_bytes(const char *text, size_t len);
/* The bytes as a string when they are UTF-8, else as {"hex": "..."}. */
json_t *zb_json_text(const char *text, size_t len);
/* *out: doc itself (a new reference) when every string in it is UTF-8, else
 * a copy whose strings that are not are {"hex": "..."}; doc is left as it
 * is, for it may be shared. */
int zb_json_texts_encode(json_t **out, json_t *doc);
/* In place, the reverse: every {"hex": "..."} in doc becomes the string of
 * its bytes. Malformed hex, or a NUL byte, is ZB_EFORMAT naming `what`. */
int zb_json_texts_decode(json_t *doc, const char *what);
/* Text for a message or a report (which are UTF-8): each byte that is not
 * part of a UTF-8 character shown as \xNN. Allocated; NULL: out of memory. */
char *zb_json_printable(const char *text);
/* doc as JSON text (json_dumps flags) in path, written whole and atomically
 * (zb_fs_write_file_atomic): a reader sees the old file or the new one. A
 * NULL doc is out of memory (what a failed json_pack gave). */
int zb_json_write_file(const char *path, json_t *doc, size_t flags, mode_t mode);

#endif
