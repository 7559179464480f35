/* Fault points: the moments a test must act at that no outside timing can
 * hit (a signal during the final flush, a restored file changed before it is
 * read back). The shipped binary compiles them to nothing and reads nothing
 * for them; only the test executable zakpos-backup-faults, built from the
 * same sources with ZB_FAULT_INJECTION, calls zb_fault_point, which the test
 * tools define (tests/tools/fault_points.c). */
#ifndef ZB_COMMON_FAULT_H
#define ZB_COMMON_FAULT_H

#ifdef ZB_FAULT_INJECTION
/* name: the point; detail: what it is about (a path, a target), or NULL. */
void zb_fault_point(const char *name, const char *detail);
#define ZB_FAULT_POINT(name, detail) zb_fault_point(name, detail)
#else
#define ZB_FAULT_POINT(name, detail) ((void)0)
#endif

#endif
