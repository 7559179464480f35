#include "zakpos_backup/remote/xml.h"
#include "zakpos_backup/common/buf.h"

#include <stdlib.h>
#include <string.h>

/* Skips a comment, processing instruction, CDATA section or declaration
 * starting at p ('<'); returns the position after it, or NULL if p starts
 * none of them. */
static const char *skip_special(const char *p, const char *end)
{
    static const struct {
        const char *open, *close;
    } kinds[] = {{"<!--", "-->"}, {"<![CDATA[", "]]>"}, {"<?", "?>"}, {"<!", ">"}};
    for (size_t i = 0; i < ZB_ARRAY_LEN(kinds); i++) {
        size_t n = strlen(kinds[i].open);
        if ((size_t)(end - p) < n || memcmp(p, kinds[i].open, n) != 0)
            continue;
        size_t c = strlen(kinds[i].close);
        for (const char *q = p + n; q + c <= end; q++)
            if (memcmp(q, kinds[i].close, c) == 0)
                return q + c;
        return end;
    }
    return NULL;
}

/* The end of a tag starting at p ('<'): the position after its '>', quoted
 * attribute values skipped; sets *self_closing for "<x/>". */
static const char *tag_end(const char *p, const char *end, int *self_closing)
{
    char quote = 0;
    for (const char *q = p + 1; q < end; q++) {
        if (quote) {
            if (*q == quote)
                quote = 0;
        } else if (*q == '"' || *q == '\'') {
            quote = *q;
        } else if (*q == '>') {
            *self_closing = q > p + 1 && q[-1] == '/';
            return q + 1;
        }
    }
    return NULL;
}

/* The tag's qualified name at p (after '<' or '</'). */
static size_t name_len(const char *p, const char *end)
{
    size_t n = 0;
    while (p + n < end && !strchr(" \t\r\n/>", p[n]))
        n++;
    return n;
}

static int local_name_is(const char *qname, size_t qlen, const char *name)
{
    const char *colon = memchr(qname, ':', qlen);
    const char *local = colon ? colon + 1 : qname;
    size_t llen = qlen - (size_t)(local - qname);
    return llen == strlen(name) && memcmp(local, name, llen) == 0;
}

int zb_xml_next(const char **pos, const char *end, const char *name, const char **inner, size_t *inner_len)
{
    const char *p = *pos;
    while (p < end && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        const char *after = skip_special(p, end);
        if (after) {
            p = after;
            continue;
        }
        int self_closing = 0;
        const char *content = tag_end(p, end, &self_closing);
        if (!content)
            return 0;
        if (p[1] == '/') {
            p = content;
            continue;
        }
        const char *qname = p + 1;
        size_t qlen = name_len(qname, end);
        if (!local_name_is(qname, qlen, name)) {
            p = content;
            continue;
        }
        if (self_closing) {
            *inner = content;
            *inner_len = 0;
            *pos = content;
            return 1;
        }
        /* The matching end tag: same qualified name, nesting counted. */
        int depth = 1;
        const char *q = content;
        while (q < end && (q = memchr(q, '<', (size_t)(end - q))) != NULL) {
            const char *special = skip_special(q, end);
            if (special) {
                q = special;
                continue;
            }
            int sc = 0;
            const char *next = tag_end(q, end, &sc);
            if (!next)
                return 0;
            int closing = q[1] == '/';
            const char *qn = q + 1 + closing;
            size_t ql = name_len(qn, end);
            if (ql == qlen && memcmp(qn, qname, qlen) == 0 && !sc) {
                depth += closing ? -1 : 1;
                if (depth == 0) {
                    *inner = content;
                    *inner_len = (size_t)(q - content);
                    *pos = next;
                    return 1;
                }
            }
            q = next;
        }
        return 0;
    }
    return 0;
}

static int append_utf8(zb_buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    if (cp < 0x80)
        u[0] = (char)cp, n = 1;
    else if (cp < 0x800)
        u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[2] = (char)(0x80 | (cp & 0x3F)),
        n = 3;
    else
        u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    return zb_buf_append(b, u, n);
}

char *zb_xml_text(const char *inner, size_t len)
{
    static const struct {
        const char *entity;
        char c;
    } named[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    zb_buf b = ZB_BUF_INIT;
    const char *p = inner, *end = inner + len;
    int rc = zb_buf_reserve(&b, len + 1) < 0 ? -1 : zb_buf_append(&b, "", 0); /* "" for empty text */
    while (rc == 0 && p < end) {
        if (*p == '<') {
            if ((size_t)(end - p) >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
                const char *c = p + 9, *stop = c;
                while (stop + 3 <= end && memcmp(stop, "]]>", 3) != 0)
                    stop++;
                if (stop + 3 > end)
                    rc = -1;
                else
                    rc = zb_buf_append(&b, c, (size_t)(stop - c)), p = stop + 3;
                continue;
            }
            const char *after = skip_special(p, end);
            if (after) { /* a comment inside text */
                p = after;
                continue;
            }
            rc = -1; /* an element: not text */
            break;
        }
        if (*p != '&') {
            rc = zb_buf_append(&b, p++, 1);
            continue;
        }
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi) {
            rc = -1;
            break;
        }
        size_t elen = (size_t)(semi + 1 - p);
        if (p[1] == '#') {
            char *stop = NULL;
            unsigned long cp = p[2] == 'x' || p[2] == 'X' ? strtoul(p + 3, &stop, 16) : strtoul(p + 2, &stop, 10);
            rc = stop == semi ? append_utf8(&b, cp) : -1;
            p = semi + 1;
            continue;
        }
        rc = -1;
        for (size_t i = 0; i < ZB_ARRAY_LEN(named); i++)
            if (strlen(named[i].entity) == elen && memcmp(p, named[i].entity, elen) == 0) {
                rc = zb_buf_append(&b, &named[i].c, 1);
                break;
            }
        p = semi + 1;
    }
    if (rc < 0) {
        zb_buf_free(&b);
        return NULL;
    }
    return zb_buf_detach(&b);
}

char *zb_xml_find_text(const char *doc, size_t len, const char *name)
{
    const char *pos = doc, *inner = NULL;
    size_t inner_len = 0;
    if (!doc || !zb_xml_next(&pos, doc + len, name, &inner, &inner_len))
        return NULL;
    return zb_xml_text(inner, inner_len);
}
