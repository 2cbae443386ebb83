"""Run an exported hand model on frames: `Detector(path)(frame_bgr) -> Detections`."""
from detect.detections import Detections
from detect.detector import Detector

__all__ = ["Detections", "Detector"]
