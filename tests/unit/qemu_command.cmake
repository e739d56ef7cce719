# qemu_command: definition -> argv, against the hand-written goldens in tests/data/qemuxml2argv.
vb_add_unit_test(test_qemu_command SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_qemu_command.c
                 LIBS qemu_command vb_domxml)
