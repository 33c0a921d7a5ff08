# Unit tests of the steering program for multiqueue imqN devices (steer.c):
# its instructions, and, as root, what this kernel does with it.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
add_executable(test_steer ${CMAKE_CURRENT_LIST_DIR}/test_steer.c)
target_link_libraries(test_steer PRIVATE imqcore PkgConfig::CMOCKA)
add_test(NAME unit_steer COMMAND test_steer)
# A multiqueue TUN device in a network namespace of its own: root only (77: not root).
add_test(NAME unit_steer_kernel COMMAND test_steer kernel)
set_tests_properties(unit_steer_kernel PROPERTIES SKIP_RETURN_CODE 77)
