# End-to-end tests of GSO packets through imq0: accounting per segment, and
# a tbf that cuts GSO copies into segments. Root only, like the rest of tests/e2e.
set(IMQD_E2E_ENV "IMQD=$<TARGET_FILE:imqd>;IMQCTL=$<TARGET_FILE:imqctl>;UDPSEQ=$<TARGET_FILE:udpseq>")
add_test(NAME e2e_gso_accounting COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/gso_accounting.sh)
set_tests_properties(e2e_gso_accounting PROPERTIES
  ENVIRONMENT "${IMQD_E2E_ENV}" RESOURCE_LOCK netns TIMEOUT 180 LABELS e2e)
# tbf with a 16 KB burst at 10 Mbit/s segments most GSO copies; rate against IFB's.
# 16 s: TCP's goodput through a 16 KB burst swings by a few per cent over 8 s
# (the queue's contents at either end of the run), on IFB as on imq0.
add_test(NAME e2e_gso_tbf_segments COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/shaping_tbf.sh)
set_tests_properties(e2e_gso_tbf_segments PROPERTIES
  ENVIRONMENT "${IMQD_E2E_ENV};RATE=10;BURST=16k;SECS=16"
  RESOURCE_LOCK netns TIMEOUT 180 LABELS e2e)
# pfifo -> tbf under a TCP upload: whole GSO copies, then segments of them.
add_test(NAME e2e_gso_qdisc_switch COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/gso_qdisc_switch.sh)
set_tests_properties(e2e_gso_qdisc_switch PROPERTIES
  ENVIRONMENT "${IMQD_E2E_ENV}" RESOURCE_LOCK netns TIMEOUT 180 LABELS e2e)
# GSO packets of a VXLAN tunnel: counted with all their headers, against the real interface.
add_test(NAME e2e_gso_tunnel COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/gso_tunnel.sh)
set_tests_properties(e2e_gso_tunnel PROPERTIES
  ENVIRONMENT "${IMQD_E2E_ENV}" RESOURCE_LOCK netns TIMEOUT 180 LABELS e2e)
# UDP GSO packets (UDP_SEGMENT) through a tbf that cuts them into segments, against IFB.
add_test(NAME e2e_gso_udp COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/gso_udp.sh)
set_tests_properties(e2e_gso_udp PROPERTIES
  ENVIRONMENT "${IMQD_E2E_ENV}" RESOURCE_LOCK netns TIMEOUT 180 LABELS e2e)
# Packets longer than a segment that are neither TCP nor UDP (reassembled ICMP): plain copies per segment.
add_test(NAME e2e_gso_split COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/gso_split.sh)
set_tests_properties(e2e_gso_split PROPERTIES
  ENVIRONMENT "${IMQD_E2E_ENV}" RESOURCE_LOCK netns TIMEOUT 180 LABELS e2e)
