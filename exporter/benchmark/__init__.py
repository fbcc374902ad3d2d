"""Measuring the firmware: instruction counts in QEMU, the Cortex-M4 cycle model, flash and RAM (python -m exporter bench)."""
