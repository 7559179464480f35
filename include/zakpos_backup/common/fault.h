/* Fault points: the moments a test must act at that no outside timing can
 * hit (a signal during the final flush, a restored file changed before it is
 * read back), and fault values: settings only a test may give (an older toc
 * format to write, SQL that alters a restored database before it is
 * compared). The shipped binary compiles them to nothing and reads nothing
 * for them; only the test executable zakpos-backup-faults, built from the
 * same sources with ZB_FAULT_INJECTION, calls zb_fault_point and
 * zb_fault_value, which the test tools define (tests/tools/fault_points.c). */
#ifndef ZB_COMMON_FAULT_H
#define ZB_COMMON_FAULT_H

#ifdef ZB_FAULT_INJECTION
/* name: the point; detail: what it is about (a path, a target), or NULL. */
void zb_fault_point(const char *name, const char *detail);
#define ZB_FAULT_POINT(name, detail) zb_fault_point(name, detail)
/* The value a test gave for name, or NULL. */
const char *zb_fault_value(const char *name);
#define ZB_FAULT_VALUE(name) zb_fault_value(name)
#else
#define ZB_FAULT_POINT(name, detail) ((void)0)
#define ZB_FAULT_VALUE(name)         ((const char *)NULL)
#endif

#endif
