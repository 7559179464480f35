#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/error.h"

#include <malloc.h>
#include <stdlib.h>

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
    budget_used = 0;
    budget_exceeded = 0;
    budget_limit = max_memory;
    budget_on = 1;
    *out = json_loadb(text, len, 0, &err);
    budget_on = 0; /* the values now belong to the caller */
    if (*out)
        return 0;
    if (budget_exceeded)
        return zb_error_set(ZB_EUNSAFE, "%s needs more than %zu MiB of memory to parse; refused", what,
                            max_memory >> 20);
    return zb_error_set(ZB_EFORMAT, "%s is not valid JSON: %s", what, err.text);
}
