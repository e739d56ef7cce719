# virtbus-lxc: cgroup v1/v2 and /proc/net/dev parsers on captured files (tests/data/cgroup).
vb_add_unit_test(test_lxc_stats SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxc_stats.c
                 LIBS lxc_stats)
