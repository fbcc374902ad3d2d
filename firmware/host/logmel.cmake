# Host driver of the log-mel frontend (exporter/frontend/host.py, tests/test_frontend*.py).
if(TARGET efat_frontend)
  add_executable(logmel_cli ${CMAKE_CURRENT_LIST_DIR}/logmel_cli.c)
  target_link_libraries(logmel_cli PRIVATE efat_frontend)
endif()
