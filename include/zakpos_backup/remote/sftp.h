/* The SFTP driver, through libcurl's libssh2 backend: key authentication,
 * the server checked against known_hosts, uploads to a hidden .partial
 * name renamed into place, listing, download, removal. */
#ifndef ZB_REMOTE_SFTP_H
#define ZB_REMOTE_SFTP_H

#include "zakpos_backup/remote/driver.h"

extern const zb_remote_driver zb_remote_sftp;

#endif
