/* JSON that comes out of an archive (manifest lines, tables of contents,
 * volume.json) is parsed under fixed limits, so a crafted archive cannot make
 * the reader allocate without bound: text length, nesting depth, and the
 * memory jansson may allocate for one document (counted by allocation
 * functions this module installs for the whole process). docs/SECURITY.md
 * lists the limits. */
#ifndef ZB_COMMON_JSON_H
#define ZB_COMMON_JSON_H

#include <jansson.h>
#include <stddef.h>

#define ZB_JSON_MAX_TEXT (16u << 20)   /* one document or manifest line */
#define ZB_JSON_MAX_MEMORY (40u << 20) /* jansson's values for one document */
#define ZB_JSON_MAX_DEPTH 32           /* the writer nests at most 7 deep */

/* A database's table of contents and catalog fingerprint grow with its
 * number of objects (about 850 bytes of text a table, a fingerprint 120 an
 * object): they may be longer, and their parse may take memory in
 * proportion to the text actually read (jansson's values cost up to about
 * ten times their compact text), never more than that whatever they hold. */
#define ZB_JSON_MAX_CATALOG_TEXT (64u << 20)
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
/* Nesting depth of JSON text (brackets outside strings); stops counting once
 * past max. */
size_t zb_json_depth(const char *text, size_t len, size_t max);

#endif
