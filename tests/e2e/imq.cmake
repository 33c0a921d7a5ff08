# End-to-end tests of the IMQ migration guide (docs/migrating-from-imq.md):
# its recipes run as written, the NAT hook positions it states, the delay it
# quotes; and counters_exact, the exactness of imqd's counters and exports.
# Root only, like the rest of tests/e2e; helpers in lib.sh and lib_imq.sh.
foreach(t imq_continue_mark imq_nat_download imq_nat_hooks imq_mark_classes imq_priority imq_rules
          imq_local_egress imq_tunnels imq_delay counters_exact)
  add_test(NAME e2e_${t}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
  set_tests_properties(e2e_${t} PROPERTIES
    ENVIRONMENT "IMQD=$<TARGET_FILE:imqd>;IMQCTL=$<TARGET_FILE:imqctl>;UDPSEQ=$<TARGET_FILE:udpseq>"
    RESOURCE_LOCK netns
    TIMEOUT 180
    LABELS e2e)
endforeach()
