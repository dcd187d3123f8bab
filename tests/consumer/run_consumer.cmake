# Builds and runs tests/consumer in the given mode (a CTest script: cmake -P).
#   -DMODE=package|subdirectory -DKILN_SOURCE_DIR=... -DKILN_BUILD_DIR=... -DWORK_DIR=...
file(REMOVE_RECURSE ${WORK_DIR})
set(configure_args -S ${KILN_SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/build
    -DKILN_CONSUMER_MODE=${MODE})
if(MODE STREQUAL "package")
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${KILN_BUILD_DIR} --prefix ${WORK_DIR}/prefix
                  RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "cmake --install failed")
  endif()
  list(APPEND configure_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
else()
  # kiln is built again here, so unoptimised: a Debug build at -O0 (no debug info) builds
  # in about three quarters of Release's time, and the consumer's work is tiny.
  list(APPEND configure_args -DKILN_SOURCE_DIR=${KILN_SOURCE_DIR} -DCMAKE_BUILD_TYPE=Debug
       -DCMAKE_CXX_FLAGS_DEBUG=-O0)
endif()
foreach(step "configure" "build" "run")
  if(step STREQUAL "configure")
    set(command ${CMAKE_COMMAND} ${configure_args})
  elseif(step STREQUAL "build")
    set(command ${CMAKE_COMMAND} --build ${WORK_DIR}/build -j 2)
  else()
    set(command ${WORK_DIR}/build/consumer)
  endif()
  execute_process(COMMAND ${command} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "consumer (${MODE}): ${step} failed")
  endif()
endforeach()
