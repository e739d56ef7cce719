# Multi-host tests (issue 8): every host a network namespace joined to a bridge by a veth pair,
# the broker on one, workers on others, vbsh and the test's own client on another, TCP between
# them. They need root (ip netns); without it each test exits 77, which ctest reports as
# skipped, with a message saying why. One ctest test per file so they run in parallel (names of
# namespaces carry the pid, so parallel runs never collide).
add_library(vb_multihost STATIC
  ${CMAKE_CURRENT_LIST_DIR}/vb_netns.c
  ${CMAKE_CURRENT_LIST_DIR}/vb_cluster.c)
target_include_directories(vb_multihost PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(vb_multihost PRIVATE VB_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
target_link_libraries(vb_multihost PUBLIC vb_testsupport)

file(GLOB VB_MULTIHOST_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_multihost_*.c)
foreach(src ${VB_MULTIHOST_TESTS})
  get_filename_component(t ${src} NAME_WE)
  vb_add_integration_test(${t}
    SOURCES ${src}
    LIBS vb_multihost
    TIMEOUT 120
    LABELS multihost)
  set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
  # The test runs the daemons and vbsh; building it builds them.
  add_dependencies(${t} virtbusd virtbus-test vbsh)
  # Tests with real QEMU domains (test_multihost_qemu_*) also need the QEMU test helpers and
  # the QEMU worker.
  if(t MATCHES "^test_multihost_qemu_")
    target_sources(${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/vb_cluster_qemu.c)
    target_link_libraries(${t} PRIVATE vb_qemu_testsupport)
    add_dependencies(${t} virtbus-qemu)
  endif()
endforeach()
