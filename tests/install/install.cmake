# What `cmake --install` puts in place (tests/install/install.sh).
add_test(NAME install_files
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/install.sh ${CMAKE_BINARY_DIR})
set_tests_properties(install_files PROPERTIES TIMEOUT 180 LABELS install)
