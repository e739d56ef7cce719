# domstats end to end (issue 4, "Checks"): virtbusd + virtbus-qemu + vbsh as real processes,
# real QEMU (KVM where /dev/kvm opens read-write, else TCG; never skipped).
add_library(vb_qemu_stats_testsupport STATIC ${CMAKE_CURRENT_LIST_DIR}/test_qemu_stats_support.c)
target_include_directories(vb_qemu_stats_testsupport PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(vb_qemu_stats_testsupport PUBLIC vb_qemu_testsupport)

foreach(t guest chain isolation)
  set(src ${CMAKE_CURRENT_LIST_DIR}/test_qemu_stats_${t}.c)
  if(EXISTS ${src})
    vb_add_integration_test(test_qemu_stats_${t}
      SOURCES ${src}
      LIBS vb_qemu_stats_testsupport
      TIMEOUT 180
      LABELS qemu stats)
    add_dependencies(test_qemu_stats_${t} virtbusd virtbus-qemu vbsh)
  endif()
endforeach()
