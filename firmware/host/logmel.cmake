# Host driver of the log-mel frontend (tests/test_frontend*.py).
add_executable(logmel_cli ${CMAKE_CURRENT_LIST_DIR}/logmel_cli.c)
target_link_libraries(logmel_cli PRIVATE logmel)
