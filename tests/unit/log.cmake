# Unit tests of logging (log.c): journal priority prefixes.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_log ${CMAKE_CURRENT_LIST_DIR}/test_log.c)
target_link_libraries(test_log PRIVATE imqcore PkgConfig::CMOCKA)
add_test(NAME test_log COMMAND test_log)
