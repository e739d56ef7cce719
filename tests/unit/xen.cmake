# virtbus-xen's pure modules (issue 7): config translation against `xl create -n` goldens and
# stats against blkback counters captured in a live dom0 (tests/data/xen/README.md).
if(TARGET xen_config)
  vb_add_unit_test(test_xen_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_xen_config.c
                   LIBS xen_config)
  vb_add_unit_test(test_xen_stats SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_xen_stats.c
                   LIBS xen_stats)
endif()
