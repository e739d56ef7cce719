# libFuzzer harness for qemu_blockstats (query-blockstats replies read from their text), with
# json-c as the oracle. Only in a clang build with -DVB_FUZZ=ON; seeds in corpus/blockstats/
# (copies of tests/data/stats captures plus edge-types.json, see corpus/README).
if(VB_FUZZ)
  add_executable(fuzz_blockstats ${CMAKE_CURRENT_LIST_DIR}/fuzz_blockstats.c)
  target_link_libraries(fuzz_blockstats PRIVATE qemu_stats)
  target_link_options(fuzz_blockstats PRIVATE -fsanitize=fuzzer)

  set(VB_FUZZ_BS_WORK ${CMAKE_BINARY_DIR}/fuzz/blockstats)
  file(MAKE_DIRECTORY ${VB_FUZZ_BS_WORK}/corpus ${VB_FUZZ_BS_WORK}/artifacts)
  add_test(NAME fuzz_blockstats
           COMMAND fuzz_blockstats -max_total_time=${VB_FUZZ_SECONDS} -max_len=65536
                   -artifact_prefix=${VB_FUZZ_BS_WORK}/artifacts/
                   ${VB_FUZZ_BS_WORK}/corpus ${CMAKE_CURRENT_LIST_DIR}/corpus/blockstats)
  math(EXPR VB_FUZZ_BS_TIMEOUT "${VB_FUZZ_SECONDS} + 60")
  set_tests_properties(fuzz_blockstats PROPERTIES LABELS fuzz TIMEOUT ${VB_FUZZ_BS_TIMEOUT})
endif()
