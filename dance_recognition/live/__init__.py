"""The logic of the live graph, without ROS: frame sources, per-person windows, label smoothing
and rate/latency statistics. The nodes in ``dance_recognition.ros.nodes`` only adapt these to
topics and parameters."""
