# virtbus-qemu end to end (issue 3, "Checks"): virtbusd + virtbus-qemu + vbsh / vb_client as real
# processes, real QEMU (KVM where /dev/kvm opens read-write, else TCG; never skipped).
add_library(vb_qemu_testsupport STATIC ${CMAKE_CURRENT_LIST_DIR}/test_qemu_support.c)
target_include_directories(vb_qemu_testsupport PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(vb_qemu_testsupport PUBLIC vb_testsupport qemu_driver vb_guest
                      PkgConfig::CMOCKA)

foreach(t lifecycle shutdown restart adopt errors sigstop)
  set(src ${CMAKE_CURRENT_LIST_DIR}/test_qemu_${t}.c)
  if(EXISTS ${src})
    vb_add_integration_test(test_qemu_${t}
      SOURCES ${src}
      LIBS vb_qemu_testsupport
      TIMEOUT 120
      LABELS qemu)
    add_dependencies(test_qemu_${t} virtbusd virtbus-qemu vbsh)
  endif()
endforeach()

# The driver's status files and process helpers, without QEMU.
vb_add_unit_test(test_qemu_domain
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/test_qemu_domain.c
  LIBS qemu_driver)
