# The generated network (python -m exporter export renders ${GENERATED_DIR}/network.c and network_data.c).
set(NET_MAX_FRAMES 1000 CACHE STRING "frames per window the network's arena is planned for (a plan must exist)")
if(EXISTS "${GENERATED_DIR}/network.c")
  add_library(network STATIC ${GENERATED_DIR}/network.c ${GENERATED_DIR}/network_data.c)
  target_include_directories(network PUBLIC ${GENERATED_DIR})
  target_compile_definitions(network PUBLIC NET_MAX_FRAMES=${NET_MAX_FRAMES})
  target_link_libraries(network PUBLIC nnkernels)
endif()
