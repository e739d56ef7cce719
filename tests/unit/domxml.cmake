# vb_domxml: libvirt domain XML parse/format, against libvirt 9.0's own test XMLs in
# tests/data/domxml (README there says where each came from).
vb_add_unit_test(test_domxml SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_domxml.c LIBS vb_domxml)
