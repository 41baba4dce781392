"""Each node's health on ``/diagnostics`` (diagnostic_msgs/DiagnosticArray, REP-107 style).

One DiagnosticStatus per node every ``period_s``: its name is the node's fully qualified name
plus the task (``/robot1/pose_node: pose estimation``), so rqt_runtime_monitor, the
diagnostic_aggregator or a robot's own monitor tell nodes and namespaces apart. The node gives a
``report()`` callable returning the level, a one-line message and the key/values (rate,
latency, drops, state...). ``/diagnostics`` is absolute on purpose: like diagnostic_updater, all
nodes of a robot publish to the one topic the aggregator reads.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import QoSProfile

from dance_recognition.live.statistics import RateMonitor

OK, WARN, ERROR, STALE = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR,
                          DiagnosticStatus.STALE)
TOPIC = "/diagnostics"


@dataclass
class Report:
    level: bytes
    message: str
    values: dict[str, object] = field(default_factory=dict)


def rate_values(stats: RateMonitor) -> dict[str, object]:
    """The key/values every node reports about its output stream."""
    return {"rate_hz": round(stats.rate_hz(), 2), "latency_p50_ms": round(stats.latency_ms(50), 1),
            "latency_p99_ms": round(stats.latency_ms(99), 1), "total": stats.total, "dropped": stats.dropped}


def _text(value: object) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return str(value).lower() if isinstance(value, bool) else str(value)


class Diagnostics:
    """Publishes ``report()`` on /diagnostics every ``period_s`` (0 = off)."""

    def __init__(self, node: Node, task: str, report: Callable[[], Report], period_s: float) -> None:
        self._node, self._report = node, report
        self.name = f"{node.get_fully_qualified_name()}: {task}"
        self.publisher = node.create_publisher(DiagnosticArray, TOPIC, QoSProfile(depth=10))
        if period_s > 0:
            node.create_timer(period_s, self.publish)

    def publish(self) -> None:
        try:
            report = self._report()
        except Exception as error:  # a report must never take the node down; say what broke
            report = Report(ERROR, f"diagnostics report failed: {error!r}")
        status = DiagnosticStatus(level=report.level, name=self.name, message=report.message,
                                  hardware_id=self._node.get_fully_qualified_name(),
                                  values=[KeyValue(key=k, value=_text(v)) for k, v in report.values.items()])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self.publisher.publish(array)
