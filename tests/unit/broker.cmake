# Broker unit tests (broker/): registry and routing decisions, event ring, fan-out gathering,
# and the broker's sockets driven in-process by a fake worker and client.
vb_add_unit_test(test_registry SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_registry.c
                 LIBS vb_broker)
vb_add_unit_test(test_broker_events SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_broker_events.c
                 LIBS vb_broker)
vb_add_unit_test(test_broker_gather SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_broker_gather.c
                 LIBS vb_broker)
vb_add_unit_test(test_broker SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_broker.c
                 LIBS vb_broker pthread TIMEOUT 120)
