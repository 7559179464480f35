/* The little XML the remote drivers read: S3's ListObjectsV2, multipart and
 * error replies and WebDAV's PROPFIND multistatus. Elements are found by
 * local name (any namespace prefix), nested elements of the same name are
 * matched, and text is decoded (entities, character references, CDATA).
 * Replies only: nothing here writes XML but the escaping helper. */
#ifndef ZB_REMOTE_XML_H
#define ZB_REMOTE_XML_H

#include <stddef.h>

/* Finds the next element called `name` in [*pos, end); on success sets
 * *inner and *inner_len to its content, moves *pos past its end and returns 1;
 * returns 0 when there is none. */
int zb_xml_next(const char **pos, const char *end, const char *name, const char **inner, size_t *inner_len);
/* The decoded text of a content range (malloc'd), NULL when out of memory or malformed. */
char *zb_xml_text(const char *inner, size_t len);
/* The decoded text of the first element called `name` in [doc, doc+len), or NULL. */
char *zb_xml_find_text(const char *doc, size_t len, const char *name);

#endif
