# Live backing-chain operations (issue 9, "Checks"): virtbusd + virtbus-qemu + vbsh as real
# processes, real QEMU (KVM where /dev/kvm opens read-write, else TCG; never skipped).
set(src ${CMAKE_CURRENT_LIST_DIR}/test_qemu_blockjob.c)
vb_add_integration_test(test_qemu_blockjob
  SOURCES ${src}
  LIBS vb_qemu_stats_testsupport
  TIMEOUT 240
  LABELS qemu blockjob)
add_dependencies(test_qemu_blockjob virtbusd virtbus-qemu vbsh)
