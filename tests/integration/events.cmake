# Event delivery end to end (issue 5): virtbusd and virtbus-test as real processes, subscribers
# through the client library. One ctest test per file so they run in parallel.
add_library(vb_test_events_support STATIC
  ${CMAKE_CURRENT_LIST_DIR}/test_events_support.c)
target_include_directories(vb_test_events_support PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(vb_test_events_support PUBLIC vb_testsupport)
file(GLOB VB_EVENTS_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_events_*.c)
list(FILTER VB_EVENTS_TESTS EXCLUDE REGEX "test_events_support\\.c$")
foreach(src ${VB_EVENTS_TESTS})
  get_filename_component(t ${src} NAME_WE)
  vb_add_integration_test(${t}
    SOURCES ${src}
    LIBS vb_test_events_support pthread
    TIMEOUT 90
    LABELS events)
  add_dependencies(${t} virtbusd virtbus-test)
endforeach()
