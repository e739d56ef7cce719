# libFuzzer harness for the wire decoders (vb_proto). Only in a clang build with -DVB_FUZZ=ON;
# ctest runs it for VB_FUZZ_SECONDS (default 30) over the committed seeds in corpus/proto/.
# New inputs go to the build tree, never into the source tree.
if(VB_FUZZ)
  if(NOT DEFINED VB_FUZZ_SECONDS)
    set(VB_FUZZ_SECONDS 30)
  endif()
  add_executable(fuzz_proto ${CMAKE_CURRENT_LIST_DIR}/fuzz_proto.c)
  target_link_libraries(fuzz_proto PRIVATE vb_core)
  target_link_options(fuzz_proto PRIVATE -fsanitize=fuzzer)

  # Regenerates the seeds: fuzz_proto_seeds tests/fuzz/corpus/proto (see corpus/README).
  add_executable(fuzz_proto_seeds ${CMAKE_CURRENT_LIST_DIR}/fuzz_proto_seeds.c)
  target_link_libraries(fuzz_proto_seeds PRIVATE vb_core)

  set(VB_FUZZ_WORK ${CMAKE_BINARY_DIR}/fuzz/proto)
  file(MAKE_DIRECTORY ${VB_FUZZ_WORK}/corpus ${VB_FUZZ_WORK}/artifacts)
  add_test(NAME fuzz_proto
           COMMAND fuzz_proto -max_total_time=${VB_FUZZ_SECONDS}
                   -artifact_prefix=${VB_FUZZ_WORK}/artifacts/
                   ${VB_FUZZ_WORK}/corpus ${CMAKE_CURRENT_LIST_DIR}/corpus/proto)
  math(EXPR VB_FUZZ_TIMEOUT "${VB_FUZZ_SECONDS} + 60")
  set_tests_properties(fuzz_proto PROPERTIES LABELS fuzz TIMEOUT ${VB_FUZZ_TIMEOUT})
endif()
