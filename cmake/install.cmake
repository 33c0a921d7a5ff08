# Install rules for the systemd unit, the sysusers entry and the sample
# configuration. Included by the top-level CMakeLists.txt.
#
# Where they go is worked out when installing (cmake/install-time.cmake), so
# that `cmake --install BUILD --prefix P` and -DCMAKE_INSTALL_PREFIX=P alike
# give a unit that runs P's imqd with P's configuration:
#   unit       IMQD_UNIT_DIR if set (relative: under the prefix), else
#              systemd's systemdsystemunitdir from pkg-config: as systemd.pc
#              says for systemd's own prefix (/lib/systemd/system on Debian 12
#              with prefix /usr), under the prefix for any other
#              (/usr/local/lib/systemd/system), where systemd also looks
#   sysusers   IMQD_SYSUSERS_DIR, or systemd's sysusersdir, the same way
#   imqd.conf  CMAKE_INSTALL_SYSCONFDIR by GNUInstallDirs' rule (/etc for
#              the prefixes / and /usr); an existing one is never replaced

include(GNUInstallDirs)

get_filename_component(IMQD_TOP_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

set(IMQD_UNIT_DIR "" CACHE PATH
    "Where imqd.service is installed (empty: systemd's systemdsystemunitdir)")
set(IMQD_SYSUSERS_DIR "" CACHE PATH
    "Where the sysusers.d entry for the _imqd user is installed (empty: systemd's sysusersdir)")

# systemd.pc's directory VAR with its prefixes left as placeholders, which
# install-time.cmake fills in; FALLBACK when there is no systemd.pc.
function(imqd_systemd_dir out var fallback)
  set(dir "")
  if(PKG_CONFIG_EXECUTABLE)
    execute_process(
      COMMAND "${PKG_CONFIG_EXECUTABLE}" --define-variable=prefix=@PREFIX@
              --define-variable=root_prefix=@ROOT_PREFIX@ --variable=${var} systemd
      OUTPUT_VARIABLE dir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
    if(NOT rc EQUAL 0)
      set(dir "")
    endif()
  endif()
  if(dir STREQUAL "")
    set(dir "${fallback}")
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

# systemd's own prefixes: for that install prefix its directories stay as they are.
set(IMQD_SYSTEMD_PREFIX "")
set(IMQD_SYSTEMD_ROOT_PREFIX "")
if(PKG_CONFIG_EXECUTABLE)
  execute_process(COMMAND "${PKG_CONFIG_EXECUTABLE}" --variable=prefix systemd
                  OUTPUT_VARIABLE IMQD_SYSTEMD_PREFIX OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  execute_process(COMMAND "${PKG_CONFIG_EXECUTABLE}" --variable=root_prefix systemd
                  OUTPUT_VARIABLE IMQD_SYSTEMD_ROOT_PREFIX OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
endif()
imqd_systemd_dir(IMQD_PC_UNITDIR systemdsystemunitdir "@ROOT_PREFIX@/lib/systemd/system")
imqd_systemd_dir(IMQD_PC_SYSUSERSDIR sysusersdir "@PREFIX@/lib/sysusers.d")

install(CODE "
  set(IMQD_TOP_DIR \"${IMQD_TOP_DIR}\")
  set(IMQD_WORK_DIR \"${CMAKE_CURRENT_BINARY_DIR}/imqd-install\")
  set(IMQD_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
  set(IMQD_CONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
  set(IMQD_UNIT_OVERRIDE \"${IMQD_UNIT_DIR}\")
  set(IMQD_SYSUSERS_OVERRIDE \"${IMQD_SYSUSERS_DIR}\")
  set(IMQD_PC_UNITDIR \"${IMQD_PC_UNITDIR}\")
  set(IMQD_PC_SYSUSERSDIR \"${IMQD_PC_SYSUSERSDIR}\")
  set(IMQD_SYSTEMD_PREFIX \"${IMQD_SYSTEMD_PREFIX}\")
  set(IMQD_SYSTEMD_ROOT_PREFIX \"${IMQD_SYSTEMD_ROOT_PREFIX}\")
  include(\"${IMQD_TOP_DIR}/cmake/install-time.cmake\")
")
