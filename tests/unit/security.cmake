# Issue 8: vb_auth (keys, roles, authenticator) and vb_endpoint (bind policy).
vb_add_unit_test(test_auth SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_auth.c LIBS vb_core)
vb_add_unit_test(test_endpoint SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_endpoint.c LIBS vb_broker)
