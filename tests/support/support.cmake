# vb_testsupport — the library every integration test links: child processes (vb_testproc),
# the test's world of temp dir, broker, workers, vbsh and timing (vb_testenv), and request
# helpers (vb_testcall).
add_library(vb_testsupport STATIC
  ${CMAKE_CURRENT_LIST_DIR}/vb_testproc.c
  ${CMAKE_CURRENT_LIST_DIR}/vb_testenv.c
  ${CMAKE_CURRENT_LIST_DIR}/vb_testcall.c)
target_include_directories(vb_testsupport PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(vb_testsupport PRIVATE VB_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
target_link_libraries(vb_testsupport PUBLIC vb_client PkgConfig::CMOCKA)
