"""Declaring node parameters with descriptors and ranges, changing them at run time, and logging
the effective configuration.

A parameter declared with ``read_only=False`` may change while the node runs (``ros2 param set``):
rclpy checks its type and range against the descriptor, then ``RuntimeParameters`` asks the
node's own check (cross-parameter rules, a checkpoint that must load...) and, once every
parameter of the request is accepted, hands the new values to the node. A read-only parameter
says so in its descriptor (``read_only`` and ``additional_constraints``), so ``ros2 param
describe`` tells the user to restart the node instead.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

READ_ONLY_NOTE = "read-only: set at start (launch argument or params file); restart the node to change it"
TUNABLE_NOTE = "may change at run time (ros2 param set)"


def declare(node: Node, name: str, default: Any, description: str,
            limits: tuple[float, float] | None = None, read_only: bool = True) -> Any:
    """Declare ``name`` and return its value; out-of-range values are rejected by rclpy itself,
    at start and on every later change."""
    descriptor = ParameterDescriptor(description=description, read_only=read_only,
                                     additional_constraints=READ_ONLY_NOTE if read_only else TUNABLE_NOTE)
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


# check(changes, proposed) -> None to accept, or one line saying what is wrong and what to do.
Check = Callable[[dict[str, Any], dict[str, Any]], str | None]
Apply = Callable[[dict[str, Any]], None]


class RuntimeParameters:
    """Validates and applies run-time changes of a node's tunable parameters.

    ``config`` is the node's dict of current values (kept up to date here). The check runs in
    rclpy's set-parameters callback, so a refused change returns its reason to the caller of
    SetParameters and leaves the node as it was; ``apply`` runs after rclpy has stored the
    values (its post-set callback), with only the parameters that changed. Register it AFTER
    declaring: rclpy also calls these callbacks for declarations.
    """

    def __init__(self, node: Node, config: dict[str, Any], check: Check | None, apply: Apply) -> None:
        self._node, self._config, self._check, self._apply = node, config, check, apply
        node.add_on_set_parameters_callback(self._on_set)
        node.add_post_set_parameters_callback(self._on_applied)

    def _on_set(self, parameters: list[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters if p.name in self._config}
        if self._check is not None and changes:
            try:
                problem = self._check(changes, self._config | changes)
            except Exception as error:  # a check must answer, never take the node down
                problem = f"{type(error).__name__}: {error}"
            if problem:
                self._node.get_logger().warning(f"refused parameter change {changes}: {problem}")
                return SetParametersResult(successful=False, reason=problem)
        return SetParametersResult(successful=True)

    def _on_applied(self, parameters: list[Parameter]) -> None:
        changes = {p.name: p.value for p in parameters
                   if p.name in self._config and self._config[p.name] != p.value}
        if not changes:
            return
        self._config.update(changes)
        self._apply(changes)
        self._node.get_logger().info("parameters changed: " + ", ".join(f"{k}={v!r}" for k, v in changes.items()))
