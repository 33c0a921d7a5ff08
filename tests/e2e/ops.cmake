# End-to-end tests of imqd's operations: reload under traffic, a reload applied
# in part and the counters reloads leave, device hooks,
# persistent devices, sd_notify, least privilege. Root only, like the rest of
# tests/e2e; helpers in lib.sh and lib_ops.sh.
foreach(t reload_traffic reload_partial reload_move reload_sizes metrics_file hooks hook_async persist notify
          caps)
  add_test(NAME e2e_${t}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
  set_tests_properties(e2e_${t} PROPERTIES
    ENVIRONMENT "IMQD=$<TARGET_FILE:imqd>;IMQCTL=$<TARGET_FILE:imqctl>;UDPSEQ=$<TARGET_FILE:udpseq>"
    RESOURCE_LOCK netns
    TIMEOUT 180
    LABELS e2e)
endforeach()
