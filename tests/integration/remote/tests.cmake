foreach(t s3 sftp webdav sync partial_files)
  zb_shell_test(integration.remote.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;remote" TIMEOUT 300)
endforeach()
