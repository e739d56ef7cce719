# libFuzzer harness for the domain XML parser (vb_domxml). Only in a clang build with
# -DVB_FUZZ=ON; ctest runs it for VB_FUZZ_SECONDS (default 30) over the seeds in corpus/domxml/
# (copies of tests/data/domxml fixtures, see the README there). New inputs go to the build tree.
if(VB_FUZZ)
  if(NOT DEFINED VB_FUZZ_SECONDS)
    set(VB_FUZZ_SECONDS 30)
  endif()
  add_executable(fuzz_domxml ${CMAKE_CURRENT_LIST_DIR}/fuzz_domxml.c)
  target_link_libraries(fuzz_domxml PRIVATE vb_domxml)
  target_link_options(fuzz_domxml PRIVATE -fsanitize=fuzzer)

  set(VB_FUZZ_DOMXML_WORK ${CMAKE_BINARY_DIR}/fuzz/domxml)
  file(MAKE_DIRECTORY ${VB_FUZZ_DOMXML_WORK}/corpus ${VB_FUZZ_DOMXML_WORK}/artifacts)
  add_test(NAME fuzz_domxml
           COMMAND fuzz_domxml -max_total_time=${VB_FUZZ_SECONDS} -max_len=65536
                   -dict=${CMAKE_CURRENT_LIST_DIR}/domxml.dict
                   -artifact_prefix=${VB_FUZZ_DOMXML_WORK}/artifacts/
                   ${VB_FUZZ_DOMXML_WORK}/corpus ${CMAKE_CURRENT_LIST_DIR}/corpus/domxml)
  math(EXPR VB_FUZZ_DOMXML_TIMEOUT "${VB_FUZZ_SECONDS} + 60")
  set_tests_properties(fuzz_domxml PROPERTIES LABELS fuzz TIMEOUT ${VB_FUZZ_DOMXML_TIMEOUT})
endif()
