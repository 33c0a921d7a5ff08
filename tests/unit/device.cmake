# Unit tests of the device's datapath logic: copy planning, verdict
# decisions, shard assignment and which ids a flood dropped, driven
# without sockets through src/device_int.h.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

foreach(t plan decide split flood)
  add_executable(test_device_${t} ${CMAKE_CURRENT_LIST_DIR}/test_device_${t}.c)
  target_include_directories(test_device_${t} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(test_device_${t} PRIVATE imqcore PkgConfig::CMOCKA)
  add_test(NAME unit_device_${t} COMMAND test_device_${t})
endforeach()

# Verdict sequencing (src/vseq.c): pure, no sockets.
add_executable(test_vseq ${CMAKE_CURRENT_LIST_DIR}/test_vseq.c)
target_link_libraries(test_vseq PRIVATE imqcore PkgConfig::CMOCKA)
add_test(NAME unit_vseq COMMAND test_vseq)
