"""Audio in: reading and resampling files, and the audio the project makes itself (calibration scenes, example clips, the labelled demo set)."""
