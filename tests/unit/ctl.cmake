# Unit tests of the counters (stats.c) and the control socket (ctl.c).
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_stats ${CMAKE_CURRENT_LIST_DIR}/test_stats.c)
target_link_libraries(test_stats PRIVATE imqcore PkgConfig::CMOCKA)
add_test(NAME test_stats COMMAND test_stats)

add_executable(test_ctl ${CMAKE_CURRENT_LIST_DIR}/test_ctl.c)
target_link_libraries(test_ctl PRIVATE imqcore PkgConfig::CMOCKA)
add_test(NAME test_ctl COMMAND test_ctl)
# Waits out CTL_CLIENT_TIMEOUT_MS once.
set_tests_properties(test_ctl PROPERTIES TIMEOUT 30)
