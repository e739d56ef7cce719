# Unit tests of vb_core (common/: errors, logging, utilities, json helpers, msgpack codec, wire
# protocol, domain states). Each test file covers one module and links only vb_core.
foreach(t error log util json msgpack proto domstate)
  vb_add_unit_test(test_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c LIBS vb_core)
endforeach()
