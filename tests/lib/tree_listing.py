#!/usr/bin/env python3
"""A listing of a folder tree made without the tool: one line per entry with
its name (bytes, escaped), type, mode, owner, size, mtime in nanoseconds,
device numbers, link target, content hash, hard-link group and every
extended attribute (ACLs and security.capability included). Folders are
opened relative to their parent (dir_fd), so paths deeper than PATH_MAX are
listed too.  usage: tree_listing.py DIR [--no-root-times]"""
import hashlib
import os
import stat
import sys


def xattrs(dir_fd, name):
    # a short path to the entry whatever its depth: the folder's fd in /proc
    path = b"/proc/self/fd/%d/%s" % (dir_fd, name)
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        return "?"
    return ",".join("%s=%s" % (n, os.getxattr(path, n, follow_symlinks=False).hex()) for n in names)


def content_hash(dir_fd, name):
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def walk(dir_fd, prefix, out, inodes, root_times):
    for name in sorted(os.listdir(dir_fd)):
        name = os.fsencode(name)
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        rel = prefix + b"/" + name if prefix else name
        line(dir_fd, name, rel, st, out, inodes)
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            try:
                walk(fd, rel, out, inodes, root_times)
            finally:
                os.close(fd)


def line(dir_fd, name, rel, st, out, inodes, times=True):
    kind = stat.S_IFMT(st.st_mode)
    fields = [repr(rel)[2:-1], "%o" % st.st_mode, str(st.st_uid), str(st.st_gid)]
    fields.append(str(st.st_mtime_ns) if times else "-")
    if stat.S_ISREG(kind):
        key = (st.st_dev, st.st_ino)
        group = inodes.setdefault(key, repr(rel)[2:-1]) if st.st_nlink > 1 else "-"
        fields += [str(st.st_size), content_hash(dir_fd, name), "link-group:" + group]
    elif stat.S_ISLNK(kind):
        fields.append("-> " + repr(os.readlink(name, dir_fd=dir_fd))[2:-1])
    elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
        fields.append("dev %d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
    fields.append(xattrs(dir_fd, name))
    out.append(" ".join(fields))


def main():
    root = os.fsencode(sys.argv[1])
    root_times = "--no-root-times" not in sys.argv
    out, inodes = [], {}
    parent_fd = os.open(os.path.dirname(root) or b".", os.O_RDONLY | os.O_DIRECTORY)
    base = os.path.basename(root)
    line(parent_fd, base, b".", os.stat(base, dir_fd=parent_fd, follow_symlinks=False), out, inodes, root_times)
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY, dir_fd=parent_fd)
    walk(fd, b"", out, inodes, root_times)
    sys.stdout.write("\n".join(out) + "\n")


main()
