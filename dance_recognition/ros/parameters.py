"""Declaring node parameters with descriptors and ranges, and logging the effective configuration."""
from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node


def declare(node: Node, name: str, default: Any, description: str,
            limits: tuple[float, float] | None = None, read_only: bool = True) -> Any:
    """Declare ``name`` and return its value; out-of-range values are rejected by rclpy itself."""
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if limits is not None:
        low, high = limits
        if isinstance(default, bool):
            raise TypeError("booleans have no range")
        if isinstance(default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
        else:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high))]
    return node.declare_parameter(name, default, descriptor).value


def log_configuration(node: Node, values: dict[str, Any]) -> None:
    node.get_logger().info("configuration: " + ", ".join(f"{k}={v!r}" for k, v in values.items()))
