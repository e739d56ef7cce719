# Event durability (issue 5): the worker's event journal and the broker's on-disk event ring.
vb_add_unit_test(test_event_journal
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_event_journal.c
  LIBS vb_worker)
vb_add_unit_test(test_broker_journal
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_broker_journal.c
  LIBS vb_broker)
