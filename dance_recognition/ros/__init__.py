"""ROS 2 adapters: message conversions and nodes. The only sub-package that imports rclpy."""
