# Boot-sector guests in a real QEMU (KVM where /dev/kvm works, else TCG), through qemu_monitor.
vb_add_integration_test(test_guests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_guests.c
  LIBS qemu_monitor vb_guest vb_core
  TIMEOUT 300)
