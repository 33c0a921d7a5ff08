# Install rules for the systemd unit, the sysusers entry and the sample
# configuration. Included by the top-level CMakeLists.txt.
#
# systemd/imqd.service runs /usr/sbin/imqd with /etc/imqd.conf: configure with
# -DCMAKE_INSTALL_PREFIX=/usr for the installed files to match it.

include(GNUInstallDirs)

get_filename_component(IMQD_TOP_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

set(IMQD_SYSTEMD_UNITDIR "/lib/systemd/system" CACHE PATH
    "Where imqd.service is installed")
set(IMQD_SYSUSERSDIR "/usr/lib/sysusers.d" CACHE PATH
    "Where the sysusers.d entry for the _imqd user is installed")

install(FILES "${IMQD_TOP_DIR}/systemd/imqd.service"
        DESTINATION "${IMQD_SYSTEMD_UNITDIR}")
install(FILES "${IMQD_TOP_DIR}/systemd/imqd.sysusers"
        DESTINATION "${IMQD_SYSUSERSDIR}"
        RENAME imqd.conf)

# The configuration is the administrator's: install the sample only where
# there is none yet, and never replace an edited file. The directory is
# CMAKE_INSTALL_FULL_SYSCONFDIR, worked out when installing, with GNUInstallDirs'
# rule, so that `cmake --install --prefix /usr` puts it in /etc.
install(CODE "
  set(_imqd_conf_src \"${IMQD_TOP_DIR}/conf/imqd.conf\")
  set(_imqd_conf_dir \"${CMAKE_INSTALL_SYSCONFDIR}\")
  if(IS_ABSOLUTE \"\${_imqd_conf_dir}\")
  elseif(\"\${CMAKE_INSTALL_PREFIX}\" MATCHES \"^/(usr/?)?$\")
    set(_imqd_conf_dir \"/\${_imqd_conf_dir}\")
  elseif(\"\${CMAKE_INSTALL_PREFIX}\" MATCHES \"^/opt/\" AND
         NOT \"\${CMAKE_INSTALL_PREFIX}\" MATCHES \"^/opt/homebrew/\")
    set(_imqd_conf_dir \"/\${_imqd_conf_dir}\${CMAKE_INSTALL_PREFIX}\")
  else()
    set(_imqd_conf_dir \"\${CMAKE_INSTALL_PREFIX}/\${_imqd_conf_dir}\")
  endif()
  if(NOT EXISTS \"\${_imqd_conf_src}\")
    message(WARNING \"\${_imqd_conf_src} does not exist; no configuration installed\")
  elseif(EXISTS \"\$ENV{DESTDIR}\${_imqd_conf_dir}/imqd.conf\")
    message(STATUS \"Keeping: \$ENV{DESTDIR}\${_imqd_conf_dir}/imqd.conf\")
  else()
    # file(INSTALL) puts \$ENV{DESTDIR} in front of the destination itself.
    file(INSTALL DESTINATION \"\${_imqd_conf_dir}\" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
         FILES \"\${_imqd_conf_src}\")
  endif()
")

if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "imqd: systemd/imqd.service runs /usr/sbin/imqd with /etc/imqd.conf; "
                 "CMAKE_INSTALL_PREFIX is ${CMAKE_INSTALL_PREFIX}")
endif()
