# libFuzzer targets (tests/fuzz): only with -DIMQD_FUZZ=ON. They are built
# with clang whatever the project's compiler is, so one configure command
# is enough: `cmake -DIMQD_FUZZ=ON ...` with gcc as CC still works.
# Run them with `ctest -L fuzz` (30 s each) or tests/fuzz/run.sh.

if(IMQD_FUZZ)
  find_program(IMQD_CLANG NAMES clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14)
  if(NOT IMQD_CLANG)
    message(FATAL_ERROR "IMQD_FUZZ needs clang with libFuzzer (apt-get install clang)")
  endif()
  set(IMQD_FUZZ_DIR ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
  # Each target's sources: the one list run.sh reads too.
  set(IMQD_FUZZ_LIST ${CMAKE_CURRENT_LIST_DIR}/sources.txt)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${IMQD_FUZZ_LIST})
  file(STRINGS ${IMQD_FUZZ_LIST} IMQD_FUZZ_LINES REGEX "^[a-z]")
  file(GLOB IMQD_FUZZ_HEADERS ${PROJECT_SOURCE_DIR}/include/*.h)
  set(IMQD_FUZZ_FLAGS -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
      -D_GNU_SOURCE "-DIMQD_VERSION=\"fuzz\"" "-DIMQD_CONF_PATH=\"/dev/null\""
      -I${PROJECT_SOURCE_DIR}/include ${XXHASH_CFLAGS})
  set(IMQD_FUZZERS)
  foreach(line ${IMQD_FUZZ_LINES})
    separate_arguments(words UNIX_COMMAND "${line}")
    list(POP_FRONT words name)
    list(TRANSFORM words PREPEND ${PROJECT_SOURCE_DIR}/)
    add_custom_command(
      OUTPUT ${IMQD_FUZZ_DIR}/fuzz_${name}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${IMQD_FUZZ_DIR}
      COMMAND ${IMQD_CLANG} ${IMQD_FUZZ_FLAGS} ${CMAKE_CURRENT_LIST_DIR}/fuzz_${name}.c
              ${words} ${XXHASH_LDFLAGS} -o ${IMQD_FUZZ_DIR}/fuzz_${name}
      DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_${name}.c ${words} ${IMQD_FUZZ_HEADERS}
              ${IMQD_FUZZ_LIST}
      COMMENT "Building libFuzzer target fuzz_${name} with ${IMQD_CLANG}"
      VERBATIM)
    list(APPEND IMQD_FUZZERS ${IMQD_FUZZ_DIR}/fuzz_${name})
    add_test(NAME fuzz_${name}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh ${IMQD_FUZZ_DIR} 30 ${name})
    set_tests_properties(fuzz_${name} PROPERTIES TIMEOUT 120 LABELS fuzz)
  endforeach()
  add_custom_target(fuzzers ALL DEPENDS ${IMQD_FUZZERS})
endif()
