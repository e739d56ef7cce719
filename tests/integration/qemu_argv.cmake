# Every qemuxml2argv golden started once with the real QEMU (-S), spoken to over QMP, killed.
vb_add_integration_test(test_qemu_argv
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_qemu_argv.c
  LIBS qemu_command vb_domxml vb_image PkgConfig::JSONC
  TIMEOUT 300 LABELS qemu)
