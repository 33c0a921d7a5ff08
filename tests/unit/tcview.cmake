# Unit tests of the per-class view: rtnetlink messages and answers (tcview.c), trees and rates (classes.c).
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_tcview ${CMAKE_CURRENT_LIST_DIR}/test_tcview.c ${PROJECT_SOURCE_DIR}/src/classes.c)
target_include_directories(test_tcview PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_tcview PRIVATE imqcore PkgConfig::CMOCKA)
add_test(NAME test_tcview COMMAND test_tcview)
