"""The package's ROS 2 nodes: thin adapters from topics and parameters to the live core."""
