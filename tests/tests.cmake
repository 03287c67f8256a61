# Every test runs through ctest: cmocka unit tests, black-box API tests
# (node's test runner against a real stockade process) and browser tests
# (playwright-core driving Debian's chromium).
find_library(CMOCKA_LIBRARY cmocka REQUIRED)
find_program(NODE node REQUIRED)

# Key, CSR and foreign-CA chores for the agent gateway's API tests (node
# cannot write a CSR).
add_executable(agentkit ${CMAKE_SOURCE_DIR}/tests/fixtures/agentkit.c)
target_link_libraries(agentkit PRIVATE stk_server)

set(STK_TEST_ENV
    "STOCKADE_BIN=$<TARGET_FILE:stockade>"
    "STOCKADE_AGENTKIT=$<TARGET_FILE:agentkit>"
    "STOCKADE_AGENT_BIN=$<TARGET_FILE:stockade-agent>"
    "STOCKADE_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    "STOCKADE_SAMPLES_DIR=${CMAKE_SOURCE_DIR}/../shared/samples"
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
    "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/lsan.supp:print_suppressions=0")

file(GLOB STK_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src IN LISTS STK_UNIT_TESTS)
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    # The agent's tests link the agent's modules, never the server's.
    if(name MATCHES "^test_agent_")
        target_link_libraries(${name} PRIVATE stk_agent ${CMOCKA_LIBRARY})
    else()
        target_link_libraries(${name} PRIVATE stk_server ${CMOCKA_LIBRARY})
    endif()
    target_compile_definitions(${name} PRIVATE
        STK_SOURCE_DIR="${CMAKE_SOURCE_DIR}" STK_BINARY_DIR="${CMAKE_BINARY_DIR}")
    add_test(NAME unit_${name} COMMAND ${name})
    set_tests_properties(unit_${name} PROPERTIES LABELS unit TIMEOUT 120
        ENVIRONMENT "${STK_TEST_ENV}")
endforeach()

file(GLOB STK_API_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/api/*.test.mjs)
foreach(src IN LISTS STK_API_TESTS)
    get_filename_component(name ${src} NAME)
    string(REPLACE ".test.mjs" "" name ${name})
    add_test(NAME api_${name} COMMAND ${NODE} --test --test-reporter=spec ${src})
    set_tests_properties(api_${name} PROPERTIES LABELS api TIMEOUT 300
        ENVIRONMENT "${STK_TEST_ENV}")
endforeach()

file(GLOB STK_BROWSER_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/browser/*.test.mjs)
foreach(src IN LISTS STK_BROWSER_TESTS)
    get_filename_component(name ${src} NAME)
    string(REPLACE ".test.mjs" "" name ${name})
    add_test(NAME browser_${name} COMMAND ${NODE} --test --test-reporter=spec ${src})
    # One Chromium at a time: two cores do not run two browsers well.
    set_tests_properties(browser_${name} PROPERTIES LABELS browser TIMEOUT 300
        RESOURCE_LOCK chromium
        ENVIRONMENT "${STK_TEST_ENV};STOCKADE_ARTIFACTS=${CMAKE_BINARY_DIR}/artifacts")
endforeach()
