"""reaction_node: an example robot-side consumer of ``actions`` (dance_recognition/ActionLabel).

Maps each recognised move to a velocity command on ``cmd_vel`` and a text command (``reaction``,
std_msgs/String), e.g. a mobile robot that spins when someone waves and backs off when someone
marches towards it. ``cmd_vel`` is geometry_msgs/TwistStamped (``header.frame_id`` =
``base_frame``), what ROS 2 Jazzy's diff_drive_controller and Nav2 take; ``stamped:=false``
publishes a plain Twist for older consumers. The mapping is the ``reactions`` parameter: a list of
``label:linear_x:angular_z:text`` strings. Unknown labels and people who vanished stop the robot
(a zero command) after ``stop_after_s``. ``reactions``, ``min_confidence`` and ``stop_after_s``
change at run time. Label and command rates and the moving/stopped state go to ``/diagnostics``.
"""
from __future__ import annotations

from dataclasses import dataclass

from geometry_msgs.msg import Twist, TwistStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_msgs.msg import String

from dance_recognition.live.statistics import RateMonitor
from dance_recognition.msg import ActionLabel
from dance_recognition.ros.diagnostics import OK, Diagnostics, Report
from dance_recognition.ros.node_runner import run_node
from dance_recognition.ros.parameters import RuntimeParameters, declare, log_configuration

DEFAULT_REACTIONS = ["wave:0.0:0.8:spin", "raise_arms:0.0:0.0:celebrate", "squat:-0.1:0.0:bow",
                     "arm_circles:0.0:-0.8:spin back", "march:0.15:0.0:follow"]


@dataclass(frozen=True)
class Reaction:
    linear_x: float
    angular_z: float
    text: str


def parse_reactions(entries: list[str]) -> dict[str, Reaction]:
    reactions = {}
    for entry in entries:
        parts = entry.split(":")
        if len(parts) != 4:
            raise ValueError(f"reaction {entry!r} must be label:linear_x:angular_z:text")
        label, linear, angular, text = parts
        reactions[label] = Reaction(float(linear), float(angular), text)
    return reactions


class ReactionNode(Node):
    def __init__(self) -> None:
        super().__init__("reaction_node")
        config = {
            "reactions": declare(self, "reactions", DEFAULT_REACTIONS, "label:linear_x:angular_z:text entries",
                                 read_only=False),
            "min_confidence": declare(self, "min_confidence", 0.6, "ignore labels below this", (0.0, 1.0),
                                      read_only=False),
            "stop_after_s": declare(self, "stop_after_s", 1.0, "stop when no usable label for this long",
                                    (0.1, 60.0), read_only=False),
            "stamped": declare(self, "stamped", True, "cmd_vel as TwistStamped (false: plain Twist)"),
            "base_frame": declare(self, "base_frame", "base_link", "header.frame_id of the TwistStamped commands"),
            "diagnostics_period_s": declare(self, "diagnostics_period_s", 1.0, "/diagnostics period; 0 = off",
                                            (0.0, 3600.0)),
        }
        log_configuration(self, config)
        self.config = config
        self.reactions = parse_reactions(config["reactions"])
        self.twist_publisher = self.create_publisher(TwistStamped if config["stamped"] else Twist, "cmd_vel",
                                                     QoSProfile(depth=10))
        self.text_publisher = self.create_publisher(String, "reaction", QoSProfile(depth=10))
        self.create_subscription(ActionLabel, "actions", self._on_action, QoSProfile(depth=10))
        self.last_reaction = self.get_clock().now()
        self.moving = False
        self.create_timer(0.2, self._watchdog)
        self.labels, self.commands = RateMonitor(), RateMonitor()
        self.diagnostics = Diagnostics(self, "reactions", self._report, config["diagnostics_period_s"])
        RuntimeParameters(self, config, self._check_change, self._apply_change)

    def _report(self) -> Report:
        values = {"labels_rate_hz": round(self.labels.rate_hz(), 2), "labels_total": self.labels.total,
                  "commands_rate_hz": round(self.commands.rate_hz(), 2), "commands_total": self.commands.total,
                  "moving": self.moving}
        if self.labels.total == 0:
            return Report(OK, "waiting for actions", values)
        return Report(OK, "moving" if self.moving else "stopped", values)

    def _check_change(self, changes: dict, proposed: dict) -> str | None:
        try:
            parse_reactions(proposed["reactions"])
        except ValueError as error:
            return str(error)
        return None

    def _apply_change(self, changes: dict) -> None:
        self.reactions = parse_reactions(self.config["reactions"])

    def _command(self, linear_x: float = 0.0, angular_z: float = 0.0) -> None:
        twist = Twist()
        twist.linear.x, twist.angular.z = linear_x, angular_z
        if not self.config["stamped"]:
            self.commands.record()
            self.twist_publisher.publish(twist)
            return
        self.commands.record()
        stamped = TwistStamped(twist=twist)
        stamped.header.stamp = self.get_clock().now().to_msg()
        stamped.header.frame_id = self.config["base_frame"]
        self.twist_publisher.publish(stamped)

    def _on_action(self, msg: ActionLabel) -> None:
        self.labels.record()
        reaction = self.reactions.get(msg.label)
        if reaction is None or msg.confidence < self.config["min_confidence"]:
            return
        self._command(reaction.linear_x, reaction.angular_z)
        self.text_publisher.publish(String(data=f"{reaction.text} (person {msg.track_id}: {msg.label})"))
        self.last_reaction = self.get_clock().now()
        self.moving = True

    def _watchdog(self) -> None:
        idle_ns = (self.get_clock().now() - self.last_reaction).nanoseconds
        if self.moving and idle_ns > self.config["stop_after_s"] * 1e9:
            self._command()  # stop once, then stay quiet
            self.text_publisher.publish(String(data="stop"))
            self.moving = False


def main(argv: list[str] | None = None) -> int:
    return run_node(ReactionNode, argv, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
