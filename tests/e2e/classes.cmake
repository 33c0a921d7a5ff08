# End-to-end tests of shaping trees as IMQ users ran them: a transparent
# bridge, link-layer overhead under tc stab, and the per-class view
# (imqctl classes, the class series in Prometheus). Root only, like the rest
# of tests/e2e; helpers in lib.sh.
foreach(t classes bridge stab)
  add_test(NAME e2e_${t}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
  set_tests_properties(e2e_${t} PROPERTIES
    ENVIRONMENT "IMQD=$<TARGET_FILE:imqd>;IMQCTL=$<TARGET_FILE:imqctl>;UDPSEQ=$<TARGET_FILE:udpseq>"
    RESOURCE_LOCK netns
    TIMEOUT 200
    LABELS e2e)
endforeach()
