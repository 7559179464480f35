/* POSIX ACLs between libarchive's entry ACLs (how the archive holds them,
 * as the direct reader stores them) and the system.posix_acl_access and
 * system.posix_acl_default xattrs in the kernel's binary form (how the
 * volume agent reads and sets them). */
#ifndef ZB_SOURCE_DOCKER_ACL_H
#define ZB_SOURCE_DOCKER_ACL_H

#include <archive.h>
#include <archive_entry.h>

/* The ACL xattrs of e become its ACL entries (libarchive's disk writer
 * skips those xattrs, and sets ACLs from the entries). */
int zb_acl_from_xattrs(struct archive_entry *e);
/* e's ACL entries become ACL xattrs (unless it has them already). */
int zb_acl_to_xattrs(struct archive_entry *e);

#endif
