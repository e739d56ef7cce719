# Events with real QEMU (issue 5, "Checks"): virtbusd + virtbus-qemu as real processes, guests
# of tests/guest in QEMU (KVM where /dev/kvm opens read-write, else TCG; never skipped),
# subscribers through the client library. One ctest test per file so they run in parallel.
add_library(vb_qemu_events_testsupport STATIC
  ${CMAKE_CURRENT_LIST_DIR}/test_qemu_events_support.c)
target_include_directories(vb_qemu_events_testsupport PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(vb_qemu_events_testsupport PUBLIC vb_qemu_testsupport vb_test_events_support)

file(GLOB VB_QEMU_EVENTS_TESTS CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_LIST_DIR}/test_qemu_events_*.c)
list(FILTER VB_QEMU_EVENTS_TESTS EXCLUDE REGEX "test_qemu_events_support\\.c$")
foreach(src ${VB_QEMU_EVENTS_TESTS})
  get_filename_component(t ${src} NAME_WE)
  vb_add_integration_test(${t}
    SOURCES ${src}
    LIBS vb_qemu_events_testsupport
    TIMEOUT 240
    LABELS "qemu;events")
  add_dependencies(${t} virtbusd virtbus-qemu vbsh)
endforeach()
