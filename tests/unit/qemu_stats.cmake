# qemu_stats + vb_params: domstats groups from captured QMP replies, /proc files, images made by
# qemu-img at test time, and the text format against captured virsh output (tests/data/stats/).
vb_add_unit_test(test_qemu_stats SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_qemu_stats.c
                 LIBS qemu_stats vbsh_format vb_domxml vb_params TIMEOUT 120)

# qemu_blockstats: query-blockstats replies read from their text, against json-c's reading of the
# same captures (tests/data/stats, tests/data/qmp) and hand-written edge cases.
vb_add_unit_test(test_qemu_blockstats
                 SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_qemu_blockstats.c
                 LIBS qemu_stats vb_core)
