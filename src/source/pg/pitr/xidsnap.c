#include "zakpos_backup/source/pg/pitr/xidsnap.h"
#include "zakpos_backup/common/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_xid(uint64_t *out, const char **p, const char *text)
{
    char *end;
    if (**p < '0' || **p > '9')
        return zb_error_set(ZB_EFORMAT, "'%s' is not a snapshot (xmin:xmax:xip,...)", text);
    errno = 0;
    unsigned long long v = strtoull(*p, &end, 10);
    if (errno != 0)
        return zb_error_set(ZB_EFORMAT, "'%s' is not a snapshot (xmin:xmax:xip,...)", text);
    *out = (uint64_t)v;
    *p = end;
    return 0;
}

static int compare_xid(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int parse_xip(zb_xid_snapshot *s, const char *p, const char *text)
{
    size_t room = 1;
    for (const char *c = p; *c; c++)
        room += *c == ',';
    s->xip = *p ? calloc(room, sizeof(*s->xip)) : NULL;
    if (*p && !s->xip)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = 0;
    while (rc == 0 && *p) {
        uint64_t xid;
        rc = parse_xid(&xid, &p, text);
        if (rc == 0 && (xid < s->xmin || xid >= s->xmax || (*p && *p != ',')))
            rc = zb_error_set(ZB_EFORMAT, "'%s' is not a snapshot (an in-progress id outside xmin..xmax)", text);
        if (rc == 0)
            s->xip[s->xip_count++] = xid;
        if (rc == 0 && *p == ',' && !*++p)
            rc = zb_error_set(ZB_EFORMAT, "'%s' is not a snapshot (xmin:xmax:xip,...)", text);
    }
    if (rc == 0 && s->xip && s->xip_count > 1)
        qsort(s->xip, s->xip_count, sizeof(*s->xip), compare_xid);
    return rc;
}

int zb_xid_snapshot_parse(zb_xid_snapshot *out, const char *text)
{
    memset(out, 0, sizeof(*out));
    const char *p = text ? text : "";
    int rc = parse_xid(&out->xmin, &p, p);
    if (rc == 0 && *p++ != ':')
        rc = zb_error_set(ZB_EFORMAT, "'%s' is not a snapshot (xmin:xmax:xip,...)", text);
    if (rc == 0)
        rc = parse_xid(&out->xmax, &p, text);
    if (rc == 0 && (*p++ != ':' || out->xmin > out->xmax))
        rc = zb_error_set(ZB_EFORMAT, "'%s' is not a snapshot (xmin:xmax:xip,...)", text);
    if (rc == 0)
        rc = parse_xip(out, p, text);
    if (rc < 0)
        zb_xid_snapshot_clear(out);
    return rc;
}

void zb_xid_snapshot_clear(zb_xid_snapshot *s)
{
    if (!s)
        return;
    free(s->xip);
    memset(s, 0, sizeof(*s));
}

uint64_t zb_xid_widen(const zb_xid_snapshot *s, uint32_t xid)
{
    /* the signed 32-bit distance from xmax's low bits, as PostgreSQL's own
     * TransactionIdPrecedes compares ids modulo 2^32 */
    int32_t distance = (int32_t)(xid - (uint32_t)s->xmax);
    if (distance < 0 && (uint64_t)(-(int64_t)distance) > s->xmax)
        return (uint64_t)xid; /* before the first epoch: cannot be below 0 */
    return (uint64_t)((int64_t)s->xmax + distance);
}

int zb_xid_visible(const zb_xid_snapshot *s, uint32_t xid)
{
    uint64_t full = zb_xid_widen(s, xid);
    if (full < s->xmin)
        return 1;
    if (full >= s->xmax)
        return 0;
    return s->xip_count == 0 || bsearch(&full, s->xip, s->xip_count, sizeof(*s->xip), compare_xid) == NULL;
}
