"""Action-recognition models on skeleton sequences (no ROS)."""
from dance_recognition.models.stgcn import STGCN, STGCNConfig

__all__ = ["STGCN", "STGCNConfig"]
