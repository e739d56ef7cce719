# vbsh text formatting (pure functions against exact virsh text) and the client library
# (against an in-process fake broker: ids, deadlines, subscription sync, gap filling).
vb_add_unit_test(test_vbsh_format
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vbsh_format.c
  LIBS vbsh_format)
vb_add_unit_test(test_vb_client
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vb_client.c
  LIBS vb_client)
