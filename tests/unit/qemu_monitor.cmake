# qemu_monitor: QMP client against a fake server replaying QEMU 7.2 captures (tests/data/qmp).
vb_add_unit_test(test_qemu_monitor
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_qemu_monitor.c
  LIBS qemu_monitor vb_core)
