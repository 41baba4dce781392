"""Rosbag2 bags without ROS: read any bag (with recovery), write bags, label segments, and turn
bags into skeleton datasets. The ROS adapters (record, play, label) live in ``dance_recognition.ros``."""
from dance_recognition.bags.errors import BagError, LabelError
from dance_recognition.bags.reader import Bag, BagMessage, TopicSummary, open_bag
from dance_recognition.bags.writer import BagWriter, qos_profile

__all__ = ["Bag", "BagError", "BagMessage", "BagWriter", "LabelError", "TopicSummary", "open_bag", "qos_profile"]
