# Cross toolchain for the Cortex-M4F boards (Debian's arm-none-eabi-gcc + newlib-nano).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_AR arm-none-eabi-ar)
set(CMAKE_OBJCOPY arm-none-eabi-objcopy)
set(CMAKE_SIZE arm-none-eabi-size)
# No host linking possible during compiler checks.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(M4_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
# -ffp-contract=off: GCC would fuse a*b+c into VFMA here but not on x86 (bit-exactness with host).
set(CMAKE_C_FLAGS_INIT "${M4_FLAGS} -ffp-contract=off -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${M4_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${M4_FLAGS} --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
