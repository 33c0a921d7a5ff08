# The system test (tests/system/systemd.sh): imqd's Debian package under
# systemd 252 in a container. Only with -DIMQD_SYSTEM_TEST=ON: it needs
# root, debootstrap's download on its first run, systemd-container,
# prometheus (promtool) and the .deb (IMQD_DEB_DIR, from tests/system/deb.sh;
# built by the test when empty). Run it with `ctest -L system`.
option(IMQD_SYSTEM_TEST "Register the system test (root, systemd-nspawn, debootstrap)" OFF)
set(IMQD_DEB_DIR "" CACHE PATH "Directory with the imqd .deb the system test installs")
if(IMQD_SYSTEM_TEST)
  add_test(NAME system_systemd COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/systemd.sh)
  set_tests_properties(system_systemd PROPERTIES
    ENVIRONMENT "IMQD=$<TARGET_FILE:imqd>;IMQCTL=$<TARGET_FILE:imqctl>;UDPSEQ=$<TARGET_FILE:udpseq>;IMQD_DEB_DIR=${IMQD_DEB_DIR}"
    # It measures a rate: alone, like the end-to-end tests that do.
    RUN_SERIAL TRUE
    TIMEOUT 1000
    LABELS system)
endif()
