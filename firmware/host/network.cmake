# Host executables of the int8 kernels and the generated network (tests/test_kernels.py, tests/test_codegen.py).
# The Cortex-M4 DSP code paths of the kernels on the host, with the instructions emulated in C:
# the tests check them against the Python arithmetic like the portable paths.
get_target_property(_kernel_sources efat_kernels SOURCES)
add_library(efat_kernels_dspemu STATIC ${_kernel_sources})
target_include_directories(efat_kernels_dspemu PUBLIC ${CMAKE_SOURCE_DIR}/firmware/kernels)
target_compile_definitions(efat_kernels_dspemu PRIVATE NN_EMULATE_DSP)

add_executable(kernel_cli ${CMAKE_CURRENT_LIST_DIR}/kernel_cli.c)
target_link_libraries(kernel_cli PRIVATE efat_kernels)
add_executable(kernel_cli_dspemu ${CMAKE_CURRENT_LIST_DIR}/kernel_cli.c)
target_link_libraries(kernel_cli_dspemu PRIVATE efat_kernels_dspemu)

if(TARGET efat_network)
  add_executable(net_cli ${CMAKE_CURRENT_LIST_DIR}/net_cli.c)
  target_link_libraries(net_cli PRIVATE efat_network)
endif()
