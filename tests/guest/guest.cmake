# vb_guest: boot-sector guests (idle, poweroff, power button, disk I/O) for real-QEMU tests.
add_library(vb_guest STATIC ${CMAKE_CURRENT_LIST_DIR}/vb_guest.c)
target_include_directories(vb_guest PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(vb_guest PUBLIC vb_core)

# The emitted bytes must equal what nasm assembles from the documented source; the unit test
# compares them with reference images kept in tests/data/guest.
vb_add_unit_test(test_vb_guest
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/test_vb_guest.c
  LIBS vb_guest vb_core)
