# Packaging: the installation, the manual page, the systemd units, the Compose
# service and the Dockerfile, all checked on this machine without a registry.
foreach(t install man systemd compose dockerfile monitoring deb)
  zb_shell_test(packaging.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS packaging TIMEOUT 300
                ARGS ${PROJECT_BINARY_DIR})
endforeach()
