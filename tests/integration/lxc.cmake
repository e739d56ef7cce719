# virtbus-lxc end to end (issue 6, "Checks"): virtbusd + virtbus-lxc + vbsh / vb_client as real
# processes with real busybox containers (needs root).
add_library(vb_lxc_testsupport STATIC ${CMAKE_CURRENT_LIST_DIR}/test_lxc_support.c)
target_include_directories(vb_lxc_testsupport PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(vb_lxc_testsupport PUBLIC vb_testsupport PkgConfig::CMOCKA)

foreach(t lifecycle domstats power net reattach)
  set(src ${CMAKE_CURRENT_LIST_DIR}/test_lxc_${t}.c)
  if(EXISTS ${src})
    vb_add_integration_test(test_lxc_${t}
      SOURCES ${src}
      LIBS vb_lxc_testsupport
      TIMEOUT 180
      LABELS lxc)
    add_dependencies(test_lxc_${t} virtbusd virtbus-lxc vbsh)
  endif()
endforeach()

# Containers beside QEMU domains: one broker, virtbus-qemu and virtbus-lxc on the same host.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_lxc_mixed.c)
  vb_add_integration_test(test_lxc_mixed
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxc_mixed.c
    LIBS vb_lxc_testsupport vb_qemu_testsupport
    TIMEOUT 180
    LABELS lxc qemu)
  add_dependencies(test_lxc_mixed virtbusd virtbus-lxc virtbus-qemu vbsh)
endif()
