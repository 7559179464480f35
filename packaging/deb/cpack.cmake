# The Debian package: `cpack -G DEB` in the build tree writes
# zakpos-backup_<version>_<arch>.deb holding everything `cmake --install`
# puts under /usr (the binary, the manual page, the documentation, the example
# configuration and Compose service, the systemd units), so a new host
# installs the tool with `apt install ./zakpos-backup_*.deb`. The library
# dependencies come from dpkg-shlibdeps, as Debian's own packages get them.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "zakpos-backup")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "zakpos-backup maintainers <maintainers@users.noreply.b-seed-4f9aba2a.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "backup and disaster recovery for the zakpos stack")
set(CPACK_PACKAGE_DESCRIPTION "One compressed, encrypted, signed archive of a PostgreSQL database (with the cluster's roles), Docker named volumes and host folders; restore, verification, drills and whole-host recovery.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# the static busybox writes volumes whose folder this host cannot reach
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "busybox-static")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "docker.io")
set(CPACK_SOURCE_IGNORE_FILES "/build.*/;/\\\\.git/")
include(CPack)
