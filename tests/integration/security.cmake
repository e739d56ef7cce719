# Issue 8: CurveZMQ keys and roles, and limits against abuse — virtbusd, virtbus-test workers
# and vbsh as real processes on loopback. One ctest test per file so they run in parallel.
file(GLOB VB_SECURITY_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_security_*.c)
foreach(src ${VB_SECURITY_TESTS})
  get_filename_component(t ${src} NAME_WE)
  vb_add_integration_test(${t}
    SOURCES ${src}
    LIBS vb_testsupport
    TIMEOUT 120
    LABELS security)
  add_dependencies(${t} virtbusd virtbus-test vbsh)
endforeach()
