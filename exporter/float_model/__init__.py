"""The paper's float model: checkpoints, MobileNetV3, the float log-mel, windows, feature sets and float embeddings."""
