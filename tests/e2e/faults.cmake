# Fault-injection end-to-end tests (tests/e2e/fault_*.sh): each injects one
# fault into a running imqd inside network namespaces (root only).
# Run them alone with `ctest -L fault`; they are also labelled e2e.

set(IMQD_FAULT_TESTS
  sigkill
  devdel
  qdisc_change
  overload
  overrun
  stray
  sigterm
  malformed
  ctl_abuse
  nofile
  nouring
  stall
  verdicts
  memory
  valgrind)

foreach(t ${IMQD_FAULT_TESTS})
  add_test(NAME e2e_fault_${t}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/fault_${t}.sh)
  set_tests_properties(e2e_fault_${t} PROPERTIES
    ENVIRONMENT "IMQD=$<TARGET_FILE:imqd>;IMQCTL=$<TARGET_FILE:imqctl>;UDPSEQ=$<TARGET_FILE:udpseq>"
    # One at a time with the other e2e tests: they measure rates on two cores.
    RESOURCE_LOCK netns
    # 77: cannot run here (valgrind missing, or imqd built with ASan; no
    # kernel.io_uring_disabled).
    SKIP_RETURN_CODE 77
    TIMEOUT 180
    LABELS "e2e;fault")
endforeach()
