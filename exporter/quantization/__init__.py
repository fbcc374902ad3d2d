"""Float model -> integer graph: BatchNorm folding, calibration, quantization, the graph itself, its arithmetic and its fidelity."""
