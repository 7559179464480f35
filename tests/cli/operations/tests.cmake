# Operations that must never surprise: time zones, retention settings,
# configuration checks, the repository lock, health and metrics.
foreach(t time_zone retention_settings config_check lock_wait healthcheck_trust metrics_format json_hint list_columns first_contact progress_tty)
  zb_shell_test(cli.ops.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS cli)
endforeach()
