"""Run an exported hand model on frames: `Detector(path)(frame_bgr) -> Detections`;
track hands over a stream: `track_stream(source) -> (frame, hands)` iterator."""
from detect.api import track_stream
from detect.detections import Detections
from detect.detector import Detector
from detect.tracking import TrackedHand

__all__ = ["Detections", "Detector", "TrackedHand", "track_stream"]
