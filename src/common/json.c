#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"

#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Allocations stay plain malloc blocks (callers free json_dumps' text with
 * free()); only while a limited parse runs on this thread is each block's
 * usable size charged, and released again when jansson frees it. */
static _Thread_local int budget_on;
static _Thread_local size_t budget_used;
static _Thread_local int budget_exceeded;
static _Thread_local size_t budget_limit;

static void *counting_malloc(size_t n)
{
    if (budget_on && (budget_used >= budget_limit || n > budget_limit - budget_used)) {
        budget_exceeded = 1;
        return NULL;
    }
    void *p = malloc(n);
    if (p && budget_on)
        budget_used += malloc_usable_size(p);
    return p;
}

static void counting_free(void *p)
{
    if (p && budget_on) {
        size_t n = malloc_usable_size(p);
        budget_used = n < budget_used ? budget_used - n : 0;
    }
    free(p);
}

/* Installed before main: jansson allows changing them only while it holds
 * no values. */
__attribute__((constructor)) static void install_counting_allocator(void)
{
    json_set_alloc_funcs(counting_malloc, counting_free);
}

size_t zb_json_depth(const char *text, size_t len, size_t max)
{
    size_t depth = 0, deepest = 0;
    int in_string = 0;
    for (size_t i = 0; i < len && deepest <= max; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest)
                deepest = depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

int zb_json_parse_limited(json_t **out, const char *text, size_t len, const char *what)
{
    return zb_json_parse_bounded(out, text, len, what, ZB_JSON_MAX_TEXT, ZB_JSON_MAX_MEMORY);
}

int zb_json_parse_catalog(json_t **out, const char *text, size_t len, const char *what)
{
    size_t memory = len < ZB_JSON_MAX_CATALOG_TEXT ? len * ZB_JSON_CATALOG_MEMORY_PER_BYTE : 0;
    return zb_json_parse_bounded(out, text, len, what, ZB_JSON_MAX_CATALOG_TEXT,
                                 memory > ZB_JSON_MAX_MEMORY ? memory : ZB_JSON_MAX_MEMORY);
}

/* json_loadb under a memory budget: 0 and *out, or the error naming what. */
static int load_budgeted(json_t **out, const char *text, size_t len, size_t flags, json_error_t *err, const char *what,
                         size_t max_memory)
{
    budget_used = 0;
    budget_exceeded = 0;
    budget_limit = max_memory;
    budget_on = 1;
    *out = json_loadb(text, len, flags, err);
    budget_on = 0; /* the values now belong to the caller */
    if (*out)
        return 0;
    if (budget_exceeded)
        return zb_error_set(ZB_EUNSAFE, "%s needs more than %zu MiB of memory to parse; refused", what,
                            max_memory >> 20);
    return zb_error_set(ZB_EFORMAT, "%s is not valid JSON: %s", what, err->text);
}

int zb_json_parse_bounded(json_t **out, const char *text, size_t len, const char *what, size_t max_text,
                          size_t max_memory)
{
    *out = NULL;
    if (len > max_text)
        return zb_error_set(ZB_EUNSAFE, "%s is %zu bytes long; the reader accepts at most %zu MiB", what, len,
                            max_text >> 20);
    if (zb_json_depth(text, len, ZB_JSON_MAX_DEPTH) > ZB_JSON_MAX_DEPTH)
        return zb_error_set(ZB_EUNSAFE, "%s nests deeper than %d levels", what, ZB_JSON_MAX_DEPTH);
    json_error_t err;
    return load_budgeted(out, text, len, 0, &err, what, max_memory);
}

int zb_json_parse_next(json_t **out, size_t *used, const char *text, size_t len, const char *what, size_t max_memory)
{
    json_error_t err;
    int rc = load_budgeted(out, text, len, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &err, what, max_memory);
    /* what the value took, with the whitespace before it */
    *used = rc == 0 && err.position > 0 ? (size_t)err.position : 0;
    return rc;
}

/* ------------------------------------------------- text that is not UTF-8 */

/* What jansson accepts as a string: no overlong forms, no surrogates,
 * nothing past U+10FFFF. */
int zb_json_utf8_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (n == 0 || n > len - i || (n == 2 && c < 0xc2))
            return 0;
        unsigned int cp = n == 1 ? c : c & (0x7fu >> n);
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n;
    }
    return 1;
}

json_t *zb_json_bytes(const char *text, size_t len) { return json_stringn_nocheck(text, len); }

json_t *zb_json_text(const char *text, size_t len)
{
    if (zb_json_utf8_valid(text, len))
        return json_stringn(text, len);
    char *hex = malloc(len * 2 + 1);
    if (!hex)
        return NULL;
    sodium_bin2hex(hex, len * 2 + 1, (const unsigned char *)text, len);
    json_t *v = json_pack("{s:s}", "hex", hex);
    free(hex);
    return v;
}

static int all_utf8(json_t *v)
{
    size_t i;
    const char *key;
    json_t *x;
    if (json_is_string(v))
        return zb_json_utf8_valid(json_string_value(v), json_string_length(v));
    if (json_is_array(v)) {
        json_array_foreach (v, i, x)
            if (!all_utf8(x))
                return 0;
    } else if (json_is_object(v)) {
        json_object_foreach (v, key, x)
            if (!all_utf8(x))
                return 0;
    }
    return 1; /* keys are the writer's own names, always ASCII */
}

/* Replaces, in a tree of this module's own making, each string that is not
 * UTF-8; returns how many replacements failed for memory. */
static int encode_in_place(json_t *v)
{
    size_t i;
    json_t *x;
    int failed = 0;
    if (json_is_array(v)) {
        json_array_foreach (v, i, x) {
            if (json_is_string(x) && !zb_json_utf8_valid(json_string_value(x), json_string_length(x)))
                failed |= json_array_set_new(v, i, zb_json_text(json_string_value(x), json_string_length(x))) != 0;
            else
                failed |= encode_in_place(x);
        }
    } else if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            x = json_object_iter_value(it);
            if (json_is_string(x) && !zb_json_utf8_valid(json_string_value(x), json_string_length(x)))
                failed |=
                    json_object_iter_set_new(v, it, zb_json_text(json_string_value(x), json_string_length(x))) != 0;
            else
                failed |= encode_in_place(x);
        }
    }
    return failed;
}

int zb_json_texts_encode(json_t **out, json_t *doc)
{
    *out = NULL;
    if (all_utf8(doc)) {
        *out = json_incref(doc);
        return 0;
    }
    json_t *copy = json_deep_copy(doc); /* copies unchecked strings as they are */
    if (!copy || encode_in_place(copy)) {
        json_decref(copy);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    *out = copy;
    return 0;
}

/* The bytes of {"hex": "..."}, as a string; NULL with *bad set when the
 * object is one but its hex is not, or holds a NUL. */
static json_t *hex_string(json_t *v, int *bad)
{
    json_t *hex = json_object_get(v, "hex");
    if (json_object_size(v) != 1 || !json_is_string(hex))
        return NULL;
    size_t hex_len = json_string_length(hex), len = 0;
    unsigned char *bytes = malloc(hex_len / 2 + 1);
    if (!bytes || hex_len % 2 ||
        sodium_hex2bin(bytes, hex_len / 2 + 1, json_string_value(hex), hex_len, NULL, &len, NULL) != 0 ||
        len != hex_len / 2 || memchr(bytes, 0, len)) {
        *bad = 1;
        free(bytes);
        return NULL;
    }
    json_t *s = json_stringn_nocheck((const char *)bytes, len);
    free(bytes);
    *bad = !s;
    return s;
}

/* 1 when some {"hex": ...} in v is not valid hex (or memory ran out). */
static int decode_in_place(json_t *v)
{
    size_t i;
    json_t *x, *s;
    int bad = 0;
    if (json_is_array(v)) {
        json_array_foreach (v, i, x) {
            if ((s = hex_string(x, &bad)) != NULL)
                bad = json_array_set_new(v, i, s) != 0;
            else if (!bad)
                bad = decode_in_place(x);
            if (bad)
                break;
        }
    } else if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it && !bad; it = json_object_iter_next(v, it)) {
            x = json_object_iter_value(it);
            if ((s = hex_string(x, &bad)) != NULL)
                bad = json_object_iter_set_new(v, it, s) != 0;
            else if (!bad)
                bad = decode_in_place(x);
        }
    }
    return bad;
}

int zb_json_texts_decode(json_t *doc, const char *what)
{
    return decode_in_place(doc)
               ? zb_error_set(ZB_EFORMAT, "%s holds text in hex that is not valid (odd, not hex, or a NUL byte)", what)
               : 0;
}

char *zb_json_printable(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strlen(text);
    zb_buf b = ZB_BUF_INIT;
    for (size_t i = 0; i < len;) {
        size_t n = s[i] < 0x80             ? 1
                   : (s[i] & 0xe0) == 0xc0 ? 2
                   : (s[i] & 0xf0) == 0xe0 ? 3
                   : (s[i] & 0xf8) == 0xf0 ? 4
                                           : 0;
        if (n && n <= len - i && zb_json_utf8_valid(text + i, n)) {
            zb_buf_append(&b, text + i, n);
            i += n;
        } else {
            zb_buf_printf(&b, "\\x%02x", s[i++]);
        }
    }
    if (!b.data)
        zb_buf_puts(&b, "");
    return zb_buf_detach(&b);
}

int zb_json_write_file(const char *path, json_t *doc, size_t flags, mode_t mode)
{
    char *text = doc ? json_dumps(doc, flags) : NULL;
    int rc = text ? zb_fs_write_file_atomic(path, text, strlen(text), mode) : zb_error_set(ZB_ENOMEM, "out of memory");
    free(text);
    return rc;
}
