/* File-system helpers with the guarantees a backup tool needs: full writes,
 * fsync of file and folder, and an atomic "write under a temporary name, then
 * publish" file that never leaves a complete-looking partial result. */
#ifndef ZB_COMMON_FS_H
#define ZB_COMMON_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int zb_fs_write_all(int fd, const void *data, size_t len, const char *what);
/* Reads up to len bytes, retrying short reads; *got < len only at end of file. */
int zb_fs_read_full(int fd, void *data, size_t len, size_t *got, const char *what);
int zb_fs_mkdir_p(const char *path, mode_t mode);
int zb_fs_fsync_dir(const char *dir);
/* 1 if path is a folder with no entries, 0 if it has entries; errors otherwise. */
int zb_fs_dir_is_empty(const char *path);
int zb_fs_remove_tree(const char *path);
/* Reads a small whole file (a key, a passphrase) into a NUL-terminated,
 * sodium-locked buffer; free with zb_fs_secret_free. Trailing newlines go. */
int zb_fs_read_secret(char **out, size_t *out_len, const char *path);
void zb_fs_secret_free(char *secret, size_t len);
/* Reads a small text file whole (NUL-terminated, free()). */
int zb_fs_read_text(char **out, const char *path, size_t max_bytes);
/* The same for any content (NUL bytes included): *out_len is its length. */
int zb_fs_read_file(char **out, size_t *out_len, const char *path, size_t max_bytes);

/* An output file written under a hidden temporary name in its destination
 * folder, published by zb_atomic_file_commit (fsync, no-replace rename, fsync
 * of the folder) and removed by zb_atomic_file_abort. */
typedef struct zb_atomic_file zb_atomic_file;

int zb_atomic_file_open(zb_atomic_file **out, const char *final_path, mode_t mode);
int zb_atomic_file_fd(const zb_atomic_file *f);
const char *zb_atomic_file_temp_path(const zb_atomic_file *f);
int zb_atomic_file_commit(zb_atomic_file *f);
/* Closes and unlinks the temporary file unless it was committed; frees. NULL is fine. */
void zb_atomic_file_abort(zb_atomic_file *f);
/* Like abort, but the descriptor is left open: after a signal, threads
 * abandoned to the process's exit may still write to it. */
void zb_atomic_file_abandon(zb_atomic_file *f);

/* Creates a small file (a key) with O_EXCL: an existing file is never
 * replaced (ZB_EEXIST); a failed write removes it. */
int zb_fs_write_new_file(const char *path, const char *text, mode_t mode);
/* Writes a small file atomically (used for indexes, metrics, records). */
int zb_fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

#endif
