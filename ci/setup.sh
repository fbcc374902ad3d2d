#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (run as root):
# the Arm toolchain, QEMU, CMake, libsndfile, and the Python package with its dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null \
   || ! command -v cmake >/dev/null || ! command -v ninja >/dev/null || ! command -v cc >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi \
    qemu-system-arm cmake ninja-build make gcc libc6-dev libsndfile1 >/dev/null
fi
# torch==2.13.0 comes from the local CPU wheel; any other torch would pull gigabytes.
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e '.[dev]'
