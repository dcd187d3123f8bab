# Library sources: every .cc under the library folders (tests, examples and benchmarks
# live elsewhere). CONFIGURE_DEPENDS re-globs when files are added or removed.
file(GLOB KILN_SOURCES CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/util/*.cc
  ${PROJECT_SOURCE_DIR}/ir/*.cc
  ${PROJECT_SOURCE_DIR}/lazy/*.cc
  ${PROJECT_SOURCE_DIR}/codegen/*.cc
  ${PROJECT_SOURCE_DIR}/backends/*.cc
  ${PROJECT_SOURCE_DIR}/backends/interp/*.cc
  ${PROJECT_SOURCE_DIR}/backends/cpu/*.cc
  ${PROJECT_SOURCE_DIR}/backends/cuda/*.cc)
