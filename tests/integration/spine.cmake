# The spine's end-to-end tests: virtbusd, virtbus-test workers and vbsh as real processes on
# ephemeral ports (issue 2, "Checks"). One ctest test per file so they run in parallel.
file(GLOB VB_SPINE_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_spine_*.c)
foreach(src ${VB_SPINE_TESTS})
  get_filename_component(t ${src} NAME_WE)
  vb_add_integration_test(${t}
    SOURCES ${src}
    LIBS vb_testsupport
    TIMEOUT 60
    LABELS spine)
  # The test runs the daemons and vbsh; building it builds them.
  add_dependencies(${t} virtbusd virtbus-test vbsh)
endforeach()
