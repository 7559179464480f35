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

/* 0 and *out, or <0: ZB_EUNSAFE past a limit, ZB_EFORMAT for invalid JSON.
 * `what` names the document in the message. */
int zb_json_parse_limited(json_t **out, const char *text, size_t len, const char *what);
/* Nesting depth of JSON text (brackets outside strings); stops counting once
 * past max. */
size_t zb_json_depth(const char *text, size_t len, size_t max);

#endif
