# Build helpers shared by every folder.

set(CV_WARNINGS -Wall -Wextra -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wundef
    -Wno-unused-parameter -Wvla -Wcast-align -Wwrite-strings
    -Wno-missing-field-initializers)
if(CV_WERROR)
  list(APPEND CV_WARNINGS -Werror)
endif()
add_compile_options("$<$<COMPILE_LANGUAGE:C>:${CV_WARNINGS}>")
add_compile_definitions(_GNU_SOURCE)

if(CV_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(CV_FUZZ)
  # Coverage and sanitizers in the libraries too, not only the entry point.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(CV_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

set_property(GLOBAL PROPERTY CV_MODULES "")

# cv_module(NAME DEPS <lower cv modules...> PKGS <imported targets...>)
# Sources: every .c in the calling folder. Produces the static library
# cvoip_NAME and, outside sanitizer builds, cvoip_NAME_linkcheck: a shared
# object linked with --no-undefined against only the declared lower layers,
# so a call to a layer above (or an undeclared one) fails the build.
function(cv_module name)
  cmake_parse_arguments(M "" "" "DEPS;PKGS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
  if(NOT srcs)
    message(STATUS "cvoip: module ${name} has no sources yet; skipped")
    return()
  endif()
  set(deplibs "")
  foreach(d ${M_DEPS})
    list(APPEND deplibs cvoip_${d})
  endforeach()
  # One compile: the objects serve the static library and the link check.
  add_library(cvoip_${name}_obj OBJECT ${srcs})
  target_include_directories(cvoip_${name}_obj PUBLIC ${CMAKE_SOURCE_DIR}/include
                             PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(cvoip_${name}_obj PUBLIC ${deplibs} ${M_PKGS})
  add_library(cvoip_${name} STATIC $<TARGET_OBJECTS:cvoip_${name}_obj>)
  target_include_directories(cvoip_${name} PUBLIC ${CMAKE_SOURCE_DIR}/include)
  target_link_libraries(cvoip_${name} PUBLIC ${deplibs} ${M_PKGS}
                        Threads::Threads m)
  set_property(GLOBAL APPEND PROPERTY CV_MODULES cvoip_${name})
  if(NOT CV_SANITIZE AND NOT CV_TSAN AND NOT CV_FUZZ)
    add_library(cvoip_${name}_linkcheck SHARED $<TARGET_OBJECTS:cvoip_${name}_obj>)
    target_link_libraries(cvoip_${name}_linkcheck PRIVATE ${deplibs}
                          ${M_PKGS} Threads::Threads m)
    target_link_options(cvoip_${name}_linkcheck PRIVATE -Wl,--no-undefined)
  endif()
endfunction()

# cvoip_lib: every module, for embedders and examples.
function(cv_umbrella_library)
  get_property(mods GLOBAL PROPERTY CV_MODULES)
  add_library(cvoip_lib INTERFACE)
  target_link_libraries(cvoip_lib INTERFACE ${mods})
endfunction()

# cv_unit_test(NAME SOURCES a.c b.c LIBS cvoip_x ... [TIMEOUT s] [LABELS l])
# A cmocka test; ASan's leak checker fails it on any leak.
function(cv_unit_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/include
                             ${CMAKE_SOURCE_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
                       LABELS "${T_LABELS}"
                       ENVIRONMENT "CV_SOURCE_DIR=${CMAKE_SOURCE_DIR};CV_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
  if("tsan" IN_LIST T_LABELS)
    set_property(GLOBAL APPEND PROPERTY CV_TSAN_TESTS ${name})
  endif()
endfunction()

# cv_script_test(NAME COMMAND ... [TIMEOUT s] [LABELS l])
# An integration test driven by a script; it gets CV_BIN_DIR and
# CV_SOURCE_DIR in its environment and must stop every server it starts.
function(cv_script_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "COMMAND;LABELS" ${ARGN})
  add_test(NAME ${name} COMMAND ${T_COMMAND})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS integration)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
                       LABELS "${T_LABELS}"
                       ENVIRONMENT "CV_SOURCE_DIR=${CMAKE_SOURCE_DIR};CV_BIN_DIR=${CMAKE_BINARY_DIR}/bin;CV_FUZZ_DIR=${CV_FUZZ_DIR}")
endfunction()

# cv_fuzzer(NAME SOURCE f.c LIBS ... CORPUS dir)
# With CV_FUZZ (clang): a libFuzzer binary NAME. In every build: NAME_replay,
# the same entry point run over the seed corpus, registered as a test; with
# CV_FUZZ_DIR set (make test points it at the clang build) a short libFuzzer
# run of the clang binary is registered as well.
function(cv_fuzzer name)
  cmake_parse_arguments(F "" "SOURCE;CORPUS" "LIBS" ${ARGN})
  if(CV_FUZZ)
    add_executable(${name} ${F_SOURCE})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  else()
    add_executable(${name}_replay ${F_SOURCE} ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c)
    target_link_libraries(${name}_replay PRIVATE ${F_LIBS})
    target_include_directories(${name}_replay PRIVATE ${CMAKE_SOURCE_DIR}/include)
    add_test(NAME ${name}_replay COMMAND ${name}_replay ${F_CORPUS})
    set_tests_properties(${name}_replay PROPERTIES TIMEOUT 120 LABELS fuzz)
    if(CV_FUZZ_DIR)
      add_test(NAME ${name}_short
               COMMAND ${CMAKE_SOURCE_DIR}/fuzz/run_short.sh
                       ${CV_FUZZ_DIR}/${name} ${F_CORPUS} 10)
      set_tests_properties(${name}_short PROPERTIES TIMEOUT 90 LABELS fuzz)
    endif()
  endif()
endfunction()
