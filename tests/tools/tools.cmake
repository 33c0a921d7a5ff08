# The Python tools of the end-to-end tests (tests/tools/*.py) and the
# benchmark's reports (bench/*.py): the unit tests beside them (test_*.py,
# one ctest each, tools_NAME or bench_NAME, the latter also labelled bench)
# and a lint. No root needed: `ctest -L tools`.
# IMQD_PYTHON: the interpreter python3 runs (tests/e2e/CMakeLists.txt).
set(IMQD_TOOLS_ENV "PYTHONDONTWRITEBYTECODE=1")

file(GLOB IMQD_TOOL_TESTS ${CMAKE_CURRENT_LIST_DIR}/test_*.py ${PROJECT_SOURCE_DIR}/bench/test_*.py)
foreach(t ${IMQD_TOOL_TESTS})
  get_filename_component(name ${t} NAME_WE)
  get_filename_component(dir ${t} DIRECTORY)
  get_filename_component(group ${dir} NAME)
  string(REGEX REPLACE "^test_" "${group}_" test ${name})
  add_test(NAME ${test} COMMAND ${IMQD_PYTHON} -m unittest -v ${name} WORKING_DIRECTORY ${dir})
  set(labels tools)
  if(NOT group STREQUAL tools)
    list(APPEND labels ${group})
  endif()
  set_tests_properties(${test} PROPERTIES ENVIRONMENT "${IMQD_TOOLS_ENV}" TIMEOUT 60 LABELS "${labels}")
endforeach()

# Lint: pyflakes (names, imports) and pycodestyle (layout, lines up to 110).
file(GLOB IMQD_PYTHON_FILES ${CMAKE_CURRENT_LIST_DIR}/*.py ${PROJECT_SOURCE_DIR}/bench/*.py)
find_program(IMQD_PYFLAKES NAMES pyflakes3 pyflakes)
find_program(IMQD_PYCODESTYLE NAMES pycodestyle)
if(IMQD_PYFLAKES)
  add_test(NAME tools_pyflakes COMMAND ${IMQD_PYFLAKES} ${IMQD_PYTHON_FILES})
  set_tests_properties(tools_pyflakes PROPERTIES TIMEOUT 60 LABELS tools)
else()
  message(STATUS "pyflakes3 not found (Debian: pyflakes3): Python lint tools_pyflakes not registered")
endif()
if(IMQD_PYCODESTYLE)
  add_test(NAME tools_pycodestyle COMMAND ${IMQD_PYCODESTYLE} --max-line-length=110 ${IMQD_PYTHON_FILES})
  set_tests_properties(tools_pycodestyle PROPERTIES TIMEOUT 60 LABELS tools)
else()
  message(STATUS "pycodestyle not found (Debian: pycodestyle): Python lint tools_pycodestyle not registered")
endif()
