# Unit tests of the worker threads (worker.c): calls into workers, functions
# deferred to the main loop.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
add_executable(test_worker ${CMAKE_CURRENT_LIST_DIR}/test_worker.c)
target_link_libraries(test_worker PRIVATE imqcore PkgConfig::CMOCKA)
add_test(NAME unit_worker COMMAND test_worker)
