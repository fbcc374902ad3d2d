# The efficientat-m4 C library (efat.h): its sources, include folders, the compile definitions of
# its build options, and its CMake targets. The one description of the library for every CMake
# build: the repository's (CMakeLists.txt at its top), an export folder's CMakeLists.txt and
# package config, and its Zephyr module (with EFAT_SOURCES_ONLY: the lists, no targets).
# `export` copies this file with the sources, so in an export folder everything is next to it.
#
# In (all optional):
#   EFAT_MODE              scene (default) | timestamp
#   EFAT_MAX_FRAMES        frames per window the network's arena holds: one of the export's plans
#                          (network_plan.json); default 16 in timestamp mode, 1000 in scene mode
#   EFAT_SCENE_LONG_CLIPS  ON: scene clips over 10 s (10 s windows averaged; a 626 KiB ring)
#   EFAT_PROFILE           ON: instruction counts per part (the application's efat_profile_clock)
#   EFAT_GENERATED_DIR     network.c, network_data.c, logmel_tables.c and headers
#                          (default: the library folder, as in an export)
# Out:
#   EFAT_SOURCES, EFAT_INCLUDE_DIRS, EFAT_DEFINITIONS (of the options), EFAT_C_OPTIONS
#   and per part EFAT_KERNEL_SOURCES, EFAT_FRONTEND_SOURCES, EFAT_NETWORK_SOURCES, EFAT_API_SOURCES
#   targets: efat_kernels, efat_frontend, efat_network, efat, and efficientat_m4::efat (all of it)
get_filename_component(_efat_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
if(NOT EFAT_GENERATED_DIR)
  set(EFAT_GENERATED_DIR "${_efat_root}")
endif()
if(NOT EFAT_MODE)
  set(EFAT_MODE scene)
endif()
if(NOT EFAT_MODE MATCHES "^(scene|timestamp)$")
  message(FATAL_ERROR "EFAT_MODE must be scene or timestamp, not '${EFAT_MODE}'")
endif()
if(NOT EFAT_MAX_FRAMES)
  if(EFAT_MODE STREQUAL "timestamp")
    set(EFAT_MAX_FRAMES 16)  # a 160 ms window
  else()
    set(EFAT_MAX_FRAMES 1000)  # a 10 s window
  endif()
endif()

set(EFAT_KERNEL_SOURCES ${_efat_root}/kernels/nn_conv.c ${_efat_root}/kernels/nn_depthwise.c
    ${_efat_root}/kernels/nn_elementwise.c)
set(EFAT_FRONTEND_SOURCES ${_efat_root}/frontend/logmel.c ${EFAT_GENERATED_DIR}/logmel_tables.c)
set(EFAT_NETWORK_SOURCES ${EFAT_GENERATED_DIR}/network.c ${EFAT_GENERATED_DIR}/network_data.c)
set(EFAT_API_SOURCES ${_efat_root}/efat/efat.c ${_efat_root}/efat/embed.c ${_efat_root}/efat/padded_windows.c)
set(EFAT_SOURCES ${EFAT_KERNEL_SOURCES} ${EFAT_FRONTEND_SOURCES} ${EFAT_NETWORK_SOURCES} ${EFAT_API_SOURCES})
set(EFAT_INCLUDE_DIRS ${_efat_root}/efat ${_efat_root}/kernels ${_efat_root}/frontend ${EFAT_GENERATED_DIR})

set(EFAT_DEFINITIONS NET_MAX_FRAMES=${EFAT_MAX_FRAMES})
if(EFAT_MODE STREQUAL "timestamp")
  list(APPEND EFAT_DEFINITIONS EFAT_MODE_TIMESTAMP=1)
endif()
if(EFAT_SCENE_LONG_CLIPS)
  list(APPEND EFAT_DEFINITIONS EFAT_SCENE_LONG_CLIPS=1)
endif()
if(EFAT_PROFILE)
  list(APPEND EFAT_DEFINITIONS EFAT_PROFILE=1)
endif()
# Integer arithmetic throughout; no fused a*b+c anywhere either (bit-exact host vs target).
set(EFAT_C_OPTIONS $<$<C_COMPILER_ID:GNU,Clang,AppleClang>:-ffp-contract=off>)

if(EFAT_SOURCES_ONLY OR TARGET efat)
  return()
endif()

# One static library per part: the repository's host programs test the parts one by one.
add_library(efat_kernels STATIC ${EFAT_KERNEL_SOURCES})
target_include_directories(efat_kernels PUBLIC ${_efat_root}/kernels)
set(_efat_parts efat_kernels)
# The generated parts exist once `export` has rendered them (the repository's own tests also
# build folders that hold only some of them).
if(EXISTS "${EFAT_GENERATED_DIR}/logmel_tables.c")
  add_library(efat_frontend STATIC ${EFAT_FRONTEND_SOURCES})
  target_include_directories(efat_frontend PUBLIC ${_efat_root}/frontend ${EFAT_GENERATED_DIR})
  list(APPEND _efat_parts efat_frontend)
endif()
if(EXISTS "${EFAT_GENERATED_DIR}/network.c")
  add_library(efat_network STATIC ${EFAT_NETWORK_SOURCES})
  target_include_directories(efat_network PUBLIC ${EFAT_GENERATED_DIR})
  # PUBLIC: every source that includes network.h must see the same arena plan.
  target_compile_definitions(efat_network PUBLIC NET_MAX_FRAMES=${EFAT_MAX_FRAMES})
  target_link_libraries(efat_network PUBLIC efat_kernels)
  list(APPEND _efat_parts efat_network)
endif()
foreach(_part ${_efat_parts})
  target_compile_options(${_part} PRIVATE ${EFAT_C_OPTIONS})
  target_compile_features(${_part} PUBLIC c_std_99)
endforeach()

if(TARGET efat_frontend AND TARGET efat_network)
  add_library(efat STATIC ${EFAT_API_SOURCES})
  target_include_directories(efat PUBLIC ${_efat_root}/efat)
  # The options are the library's own: efat.h has the same layout in every build.
  target_compile_definitions(efat PRIVATE ${EFAT_DEFINITIONS})
  target_compile_options(efat PRIVATE ${EFAT_C_OPTIONS})
  target_link_libraries(efat PUBLIC efat_frontend efat_network)
  add_library(efficientat_m4::efat ALIAS efat)
else()
  message(STATUS "efficientat-m4: ${EFAT_GENERATED_DIR} lacks network.c or logmel_tables.c; efat not built")
endif()
