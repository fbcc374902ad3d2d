# Host executables of the int8 kernels and the generated network (tests/test_kernels.py, tests/test_codegen.py).
add_executable(kernel_cli ${CMAKE_CURRENT_LIST_DIR}/kernel_cli.c)
target_link_libraries(kernel_cli PRIVATE nnkernels)
add_executable(kernel_cli_dspemu ${CMAKE_CURRENT_LIST_DIR}/kernel_cli.c)
target_link_libraries(kernel_cli_dspemu PRIVATE nnkernels_dspemu)

if(TARGET network)
  add_executable(net_cli ${CMAKE_CURRENT_LIST_DIR}/net_cli.c)
  target_link_libraries(net_cli PRIVATE network)
endif()
