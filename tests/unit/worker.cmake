# Worker core and test driver (workers/common, workers/test). Each test runs a real vb_worker in
# a thread against a fake broker ROUTER on tcp://127.0.0.1:* (tests/unit/test_worker_harness.c).
vb_add_unit_test(test_worker
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_worker.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_worker_harness.c
  LIBS vb_worker)
vb_add_unit_test(test_worker_testdriver
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_worker_testdriver.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_worker_harness.c
  LIBS vb_test_driver)
# The virtbus-test binary as a process: ready line, registration, a request, SIGTERM -> exit 0.
vb_add_integration_test(test_worker_process
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_worker_process.c
  LIBS vb_core)
add_dependencies(test_worker_process virtbus-test)
