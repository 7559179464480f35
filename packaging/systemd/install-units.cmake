# Runs at install time (from packaging/CMakeLists.txt): writes the units with
# the installed binary's path and installs them. file(INSTALL) is what
# install() itself runs, so DESTDIR and install_manifest.txt work as usual.
if(IS_ABSOLUTE "${ZB_INSTALL_BINDIR}")
  set(ZB_BINDIR "${ZB_INSTALL_BINDIR}")
else()
  set(ZB_BINDIR "${CMAKE_INSTALL_PREFIX}/${ZB_INSTALL_BINDIR}")
endif()
if(IS_ABSOLUTE "${ZB_SYSTEMD_UNITDIR}")
  set(unit_dir "${ZB_SYSTEMD_UNITDIR}")
else()
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/${ZB_SYSTEMD_UNITDIR}")
endif()

# Two installations running at once (different DESTDIR or prefix) must not
# write each other's units.
string(MD5 install_id "$ENV{DESTDIR}|${CMAKE_INSTALL_PREFIX}")
set(work "${ZB_UNIT_WORK_DIR}/${install_id}")
set(units)
foreach(unit zakpos-backup.service zakpos-backup-daemon.service)
  configure_file("${ZB_UNIT_SOURCE_DIR}/${unit}.in" "${work}/${unit}" @ONLY)
  list(APPEND units "${work}/${unit}")
endforeach()
list(APPEND units "${ZB_UNIT_SOURCE_DIR}/zakpos-backup.timer")
file(INSTALL DESTINATION "${unit_dir}" TYPE FILE FILES ${units})
file(REMOVE_RECURSE "${work}")
