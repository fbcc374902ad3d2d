"""The integer graph executed off-device: the numpy executor and the ONNX models (ONNX Runtime is the reference board)."""
