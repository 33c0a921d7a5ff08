# Run by `cmake --install` (install(CODE) in cmake/install.cmake, which sets
# the IMQD_* variables): installs imqd.service, made for the prefix installed
# to, the sysusers entry, and the sample imqd.conf unless there is one.
# file(INSTALL) puts $ENV{DESTDIR} in front of every destination itself.

# DIR relative to the install prefix, or DIR itself if absolute.
function(imqd_under_prefix out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

# A systemd directory: OVERRIDE if set, else PC_DIR (from systemd.pc, with
# placeholders) as systemd.pc says for systemd's own prefix, under the
# install prefix for any other.
function(imqd_systemd_dest out override pc_dir)
  if(NOT override STREQUAL "")
    imqd_under_prefix(dir "${override}")
  else()
    string(REGEX REPLACE "/+$" "" prefix "${CMAKE_INSTALL_PREFIX}")
    if(prefix STREQUAL IMQD_SYSTEMD_PREFIX)
      set(root "${IMQD_SYSTEMD_ROOT_PREFIX}")
    else()
      set(root "${prefix}")
    endif()
    string(REPLACE "@ROOT_PREFIX@" "${root}" dir "${pc_dir}")
    string(REPLACE "@PREFIX@" "${prefix}" dir "${dir}")
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

# The configuration directory by GNUInstallDirs' rule for CMAKE_INSTALL_SYSCONFDIR.
if(IS_ABSOLUTE "${IMQD_CONFDIR}")
  set(_imqd_conf_dir "${IMQD_CONFDIR}")
elseif("${CMAKE_INSTALL_PREFIX}" MATCHES "^/(usr/?)?$")
  set(_imqd_conf_dir "/${IMQD_CONFDIR}")
elseif("${CMAKE_INSTALL_PREFIX}" MATCHES "^/opt/" AND
       NOT "${CMAKE_INSTALL_PREFIX}" MATCHES "^/opt/homebrew/")
  set(_imqd_conf_dir "/${IMQD_CONFDIR}${CMAKE_INSTALL_PREFIX}")
else()
  set(_imqd_conf_dir "${CMAKE_INSTALL_PREFIX}/${IMQD_CONFDIR}")
endif()

imqd_under_prefix(IMQD_SBINDIR "${IMQD_SBINDIR}")
set(IMQD_CONF "${_imqd_conf_dir}/imqd.conf")
imqd_systemd_dest(_imqd_unit_dir "${IMQD_UNIT_OVERRIDE}" "${IMQD_PC_UNITDIR}")
imqd_systemd_dest(_imqd_sysusers_dir "${IMQD_SYSUSERS_OVERRIDE}" "${IMQD_PC_SYSUSERSDIR}")

# The unit runs the imqd and the imqd.conf of this install.
configure_file("${IMQD_TOP_DIR}/systemd/imqd.service.in" "${IMQD_WORK_DIR}/imqd.service" @ONLY)
file(INSTALL DESTINATION "${_imqd_unit_dir}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${IMQD_WORK_DIR}/imqd.service")
file(INSTALL DESTINATION "${_imqd_sysusers_dir}" TYPE FILE RENAME imqd.conf
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${IMQD_TOP_DIR}/systemd/imqd.sysusers")

# The configuration is the administrator's: install the sample only where
# there is none yet, and never replace an edited file.
set(_imqd_conf_src "${IMQD_TOP_DIR}/conf/imqd.conf")
if(NOT EXISTS "${_imqd_conf_src}")
  message(WARNING "${_imqd_conf_src} does not exist; no configuration installed")
elseif(EXISTS "$ENV{DESTDIR}${IMQD_CONF}")
  message(STATUS "Keeping: $ENV{DESTDIR}${IMQD_CONF}")
else()
  file(INSTALL DESTINATION "${_imqd_conf_dir}" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES "${_imqd_conf_src}")
endif()
