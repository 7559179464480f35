/* The WebDAV driver: PUT to a hidden .partial name then MOVE (without
 * overwriting) into place, PROPFIND (Depth: 1) to list, GET, DELETE;
 * basic authentication with a password read from a file. */
#ifndef ZB_REMOTE_WEBDAV_H
#define ZB_REMOTE_WEBDAV_H

#include "zakpos_backup/remote/driver.h"

extern const zb_remote_driver zb_remote_webdav;

#endif
