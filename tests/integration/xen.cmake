# virtbus-xen without Xen (issue 7): it must refuse to start with one line and never register.
# The tests against a real Xen are tests/xen-live (./test.sh --xen-live), not part of this suite.
vb_add_integration_test(test_xen_noxen
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_xen_noxen.c
  LIBS vb_testsupport
  TIMEOUT 60
  LABELS xen)
add_dependencies(test_xen_noxen virtbusd virtbus-xen vbsh)
