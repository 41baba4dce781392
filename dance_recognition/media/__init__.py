"""Reading videos and drawing skeletons on images (OpenCV; no ROS)."""
