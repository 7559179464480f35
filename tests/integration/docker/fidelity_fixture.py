#!/usr/bin/env python3
"""Fills a folder with every kind of thing a local volume can hold:
hard links; symbolic links that are absolute, dangling, leave the folder;
a fifo, a character and a block device; a sparse file (256 MiB, 1 MiB of
data); user.* and security.capability xattrs; POSIX ACLs (access and
default); nanosecond and pre-1970 mtimes; names with a newline, invalid
UTF-8 and 255 bytes; a path deeper than 4096 bytes; uid/gid above 65535.
usage: fidelity_fixture.py DIR [--no-deep] [--sparse-mib N] (default 256;
a smaller one keeps the listings of a test quick)"""
import os
import struct
import sys

root = sys.argv[1]
deep = "--no-deep" not in sys.argv
sparse_mib = int(sys.argv[sys.argv.index("--sparse-mib") + 1]) if "--sparse-mib" in sys.argv else 256
os.chdir(root)


def acl(entries):
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in entries)


ANY = 0xFFFFFFFF
with open("data.bin", "wb") as f:
    f.write(os.urandom(200000))
os.link("data.bin", "data-hardlink.bin")
os.symlink("/etc/passwd", "absolute-link")
os.symlink("no/such/target", "dangling-link")
os.symlink("../../../../../etc", "leaving-link")
os.symlink("data.bin", "inside-link")
os.mkfifo("fifo")
os.mknod("char-device", 0o620 | 0o020000, os.makedev(1, 3))
os.mknod("block-device", 0o660 | 0o060000, os.makedev(7, 200))
with open("sparse.img", "wb") as f:
    f.truncate(sparse_mib << 20)
    f.seek((sparse_mib * 100 // 256) << 20)
    f.write(os.urandom(1 << 20))
with open("xattr.txt", "w") as f:
    f.write("attributes\n")
os.setxattr("xattr.txt", "user.comment", b"kept through a restore")
os.setxattr("xattr.txt", "user.binary", bytes(range(32)))
with open("capability-tool", "wb") as f:
    f.write(b"#!/bin/sh\n")
os.chmod("capability-tool", 0o755)
# cap_net_bind_service, effective (VFS_CAP_REVISION_2)
os.setxattr("capability-tool", "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0))
with open("acl.txt", "w") as f:
    f.write("acl\n")
os.setxattr("acl.txt", "system.posix_acl_access", acl([(1, 6, ANY), (2, 4, 1234), (4, 4, ANY), (0x10, 4, ANY), (0x20, 4, ANY)]))
os.mkdir("acl-dir")
os.setxattr("acl-dir", "system.posix_acl_default", acl([(1, 7, ANY), (4, 5, ANY), (8, 5, 4321), (0x10, 5, ANY), (0x20, 5, ANY)]))
with open("nanoseconds", "w") as f:
    f.write("ns\n")
os.utime("nanoseconds", ns=(1620191105123456789, 1620191105123456789))
with open("before-1970", "w") as f:
    f.write("old\n")
os.utime("before-1970", ns=(-315619200500000000, -315619200500000000))
with open(b"new\nline", "w") as f:
    f.write("newline\n")
with open(b"latin1-\xe9\xff", "w") as f:
    f.write("not utf-8\n")
with open("n" * 255, "w") as f:
    f.write("255 bytes\n")
with open("big-ids", "w") as f:
    f.write("ids\n")
os.chown("big-ids", 100000, 200000)
if deep:
    # 21 levels of 200-byte names: a path of more than 4200 bytes
    fd = os.open(".", os.O_RDONLY)
    for level in range(21):
        name = ("d%02d" % level) + "x" * 197
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    wfd = os.open("deep-file", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(wfd, b"deep\n")
    os.close(wfd)
    os.close(fd)
