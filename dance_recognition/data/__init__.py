"""Skeleton datasets: the on-disk format, importers, and extraction from videos (no ROS)."""
