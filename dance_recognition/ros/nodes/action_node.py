"""action_node: Skeleton messages -> one ActionLabel per tracked person.

Keeps a window per person (``window`` frames, a prediction every ``stride`` new frames once
``min_frames`` are there, people unseen for ``person_timeout_s`` dropped), converts the layout
when the model was trained on another one, runs the model of ``checkpoint`` (everything else:
classes, layout, normalisation, window, from the checkpoint) on ``device``, and publishes on
``actions`` after smoothing/hysteresis, with the explicit ``unknown_label`` below
``threshold``. A malformed or wrong-layout message is logged (throttled) and skipped.
The model call sits behind ``ActionClassifier.classify`` so a streaming model can replace it.
"""
from __future__ import annotations

from pathlib import Path

from rclpy.node import Node
from rclpy.qos import QoSProfile

from dance_recognition.live.label_smoothing import LabelSmoother
from dance_recognition.live.person_windows import PersonWindows, ReadyWindow
from dance_recognition.live.statistics import RateMonitor
from dance_recognition.models.classifier import ActionClassifier
from dance_recognition.msg import ActionLabel, Skeleton
from dance_recognition.ros.node_runner import run_node
from dance_recognition.ros.parameters import declare, log_configuration
from dance_recognition.ros.skeleton_conversions import SkeletonMessageError, msg_to_pose_frame, ns_to_stamp
from dance_recognition.skeleton.preparation import InputMismatchError


def default_checkpoint() -> str:
    """The demo model shipped in this package tree beside this module (see
    scripts/make_demo_model.py for its origin)."""
    return str(Path(__file__).resolve().parents[2] / "resources" / "demo_moves.pt")


class ActionNode(Node):
    def __init__(self) -> None:
        super().__init__("action_node")
        config = {
            "checkpoint": declare(self, "checkpoint", "", "model checkpoint; empty = the packaged demo model"),
            "device": declare(self, "device", "cpu", "cpu, cuda, cuda:N or auto"),
            "window": declare(self, "window", 0, "frames per prediction; 0 = the model's window", (0, 10000)),
            "stride": declare(self, "stride", 4, "new frames per person between predictions", (1, 1000)),
            "min_frames": declare(self, "min_frames", 0, "frames before the first prediction; 0 = the window",
                                  (0, 10000)),
            "person_timeout_s": declare(self, "person_timeout_s", 2.0, "forget a person unseen this long",
                                        (0.05, 3600.0)),
            "threshold": declare(self, "threshold", 0.5, "below this confidence publish unknown_label", (0.0, 1.0)),
            "smoothing": declare(self, "smoothing", 0.5, "weight of the newest prediction (1 = none)", (0.01, 1.0)),
            "hysteresis": declare(self, "hysteresis", 0.1, "margin another class needs to take over", (0.0, 0.99)),
            "unknown_label": declare(self, "unknown_label", ActionLabel.UNKNOWN_LABEL, "label when unsure"),
            "top_k": declare(self, "top_k", 3, "classes listed in each message", (1, 1000)),
            "stats_period_s": declare(self, "stats_period_s", 10.0, "diagnostics log period; 0 = off", (0.0, 3600.0)),
        }
        config["checkpoint"] = config["checkpoint"] or default_checkpoint()
        self.classifier = ActionClassifier(config["checkpoint"], device=config["device"])
        window = config["window"] or self.classifier.spec.window
        config["effective_window"] = window
        min_frames = config["min_frames"] or window  # the model was trained on full windows
        if min_frames > window:
            raise ValueError(f"min_frames {min_frames} is larger than the window {window}")
        model = {"classes": self.classifier.classes, "model_layout": self.classifier.spec.layout,
                 "model_id": self.classifier.model_id}
        log_configuration(self, config | model)
        self.config = config
        self.windows = PersonWindows(window, min_frames, config["stride"], config["person_timeout_s"])
        self.smoother = LabelSmoother(self.classifier.classes, alpha=config["smoothing"],
                                      threshold=config["threshold"], hysteresis=config["hysteresis"],
                                      unknown_label=config["unknown_label"])
        self.publisher = self.create_publisher(ActionLabel, "actions", QoSProfile(depth=10))
        self.create_subscription(Skeleton, "skeletons", self._on_skeleton, QoSProfile(depth=30))
        self.stats = RateMonitor()
        self.rejected = 0
        if config["stats_period_s"] > 0:
            self.create_timer(config["stats_period_s"], self._log_stats)

    def _on_skeleton(self, msg: Skeleton) -> None:
        try:
            frame = msg_to_pose_frame(msg)
        except (SkeletonMessageError, ValueError, KeyError) as error:
            self.rejected += 1
            self.get_logger().warning(f"skipping a malformed Skeleton message: {error}", throttle_duration_sec=5.0)
            return
        try:
            self.classifier.accepts(frame.layout)
        except (InputMismatchError, KeyError) as error:
            self.rejected += 1
            self.get_logger().warning(f"skipping a Skeleton message of layout {frame.layout}: {error}",
                                      throttle_duration_sec=5.0)
            return
        self.windows.add(frame)
        for track_id in self.windows.expire(frame.stamp_ns):
            self.smoother.forget(track_id)
        for ready in self.windows.ready():
            self._publish(ready, frame.frame_id, msg)

    def _publish(self, ready: ReadyWindow, frame_id: str, msg: Skeleton) -> None:
        probabilities = self.classifier.classify(ready.sequence[None], self.windows.layout, self.windows.image_size)
        decision = self.smoother.update(ready.track_id, probabilities)
        order = decision.probabilities.argsort()[::-1][: self.config["top_k"]]
        label = ActionLabel(track_id=ready.track_id, label=decision.label, confidence=decision.confidence,
                            top_k_labels=[self.classifier.classes[i] for i in order],
                            top_k_scores=[float(decision.probabilities[i]) for i in order],
                            num_frames=len(ready.sequence), model_id=self.classifier.model_id)
        label.header.stamp = ns_to_stamp(ready.last_stamp_ns)
        label.header.frame_id = frame_id
        label.box_center_x, label.box_center_y, label.box_width, label.box_height = (
            float(v) for v in ready.last_box)
        label.image_width, label.image_height = (int(v) for v in self.windows.image_size)
        label.window_start = ns_to_stamp(ready.first_stamp_ns)
        self.publisher.publish(label)
        self.stats.record((self.get_clock().now().nanoseconds - ready.last_stamp_ns) / 1e6)

    def _log_stats(self) -> None:
        self.get_logger().info(self.stats.summary("action labels") + f", rejected messages {self.rejected}, "
                               f"people {len(self.windows.people)}")


def main(argv: list[str] | None = None) -> int:
    return run_node(ActionNode, argv, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
