"""action_node: Skeleton messages -> one ActionLabel per tracked person, and who is present.

``mode``: ``streaming`` (the default when the checkpoint was trained without temporal padding,
``auto``) keeps each person's streaming state (live/person_streams.py: each block's recent
columns, reset after a gap longer than ``max_gap_s``) and predicts every ``stride`` frames over the
newest ``window`` frames at a fraction of the cost; ``window`` keeps a window per person
(``window`` frames, a prediction every ``stride`` new frames once ``min_frames`` are there) and
recomputes it. Either way the node converts the layout when the model was trained on another one, runs
the model of ``checkpoint`` (everything else: classes, layout, normalisation, window, from the
checkpoint) on ``device``, and publishes on ``actions`` after smoothing/hysteresis, with the
message's explicit ``UNKNOWN_LABEL`` below ``threshold``. A malformed or wrong-layout message is
logged (throttled) and skipped.

People: ``tracked_people`` (TrackedPeople) is published for every processed frame and when
someone leaves: a person unseen for ``person_timeout_s`` is dropped by a timer too, so a person
who walks out while nobody else is seen still leaves. A backward jump of the Skeleton stamps or
of the node's clock (a bag played in a loop, a simulator reset) clears every window, so old
frames never mix into new windows.

Every parameter but ``stats_period_s``/``diagnostics_period_s`` may change at run time (``ros2
param set``), including ``checkpoint``/``device``: the new model is loaded while the old one
keeps working and swapped in only when it loaded; a refused change returns its reason. Health
(rates, latency, rejected messages, people, model) goes to ``/diagnostics``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rclpy.clock import JumpThreshold, TimeJump
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile

from dance_recognition.class_names import read_class_names
from dance_recognition.errors import DanceRecognitionError
from dance_recognition.live.label_smoothing import LabelSmoother
from dance_recognition.live.person_streams import PersonStreams, StreamPrediction
from dance_recognition.live.person_windows import PersonWindows, ReadyWindow
from dance_recognition.live.presence import Presence
from dance_recognition.live.statistics import RateMonitor
from dance_recognition.models.classifier import ActionClassifier, NoPersonError
from dance_recognition.models.streaming_classifier import MODES, StreamingClassifier, resolve_mode
from dance_recognition.msg import ActionLabel, Skeleton, TrackedPeople
from dance_recognition.ros.diagnostics import OK, WARN, Diagnostics, Report, rate_values
from dance_recognition.ros.node_runner import run_node
from dance_recognition.ros.parameters import RuntimeParameters, declare, log_configuration
from dance_recognition.ros.skeleton_conversions import SkeletonMessageError, msg_to_pose_frame, ns_to_stamp
from dance_recognition.skeleton.arrays import top_k
from dance_recognition.skeleton.preparation import InputMismatchError
from dance_recognition.skeleton.windows import MIN_WINDOW_SHARE, min_window_frames

EXPIRY_PERIOD_S = 0.1  # how often the timer looks for people who left
STALLED_INPUT_S = 5.0  # /diagnostics warns when skeletons stop for this long


def default_checkpoint() -> str:
    """The demo model shipped in this package tree beside this module (see
    scripts/make_demo_model.py for its origin)."""
    return str(Path(__file__).resolve().parents[2] / "resources" / "demo_moves.pt")


class ActionNode(Node):
    def __init__(self) -> None:
        super().__init__("action_node")
        config = {
            "checkpoint": declare(self, "checkpoint", "", "model checkpoint; empty = the packaged demo model",
                                  read_only=False),
            "classes_file": declare(self, "classes_file", "", "class names, one a line; empty = the checkpoint's",
                                    read_only=False),
            "device": declare(self, "device", "cpu", "cpu, cuda, cuda:N or auto", read_only=False),
            "mode": declare(self, "mode", "auto", "streaming, window, or auto = streaming when the checkpoint "
                            "streams exactly (trained with model.temporal_padding=false)", read_only=False),
            # 2 s, the person time-out: a pose node that falls behind (seconds, on a busy small
            # computer) must not silence streams where window mode, which keeps its frames, labels on
            "max_gap_s": declare(self, "max_gap_s", 2.0, "streaming: restart a person's stream after a gap this "
                                 "long", (0.001, 3600.0), read_only=False),
            "window": declare(self, "window", 0, "frames per prediction; 0 = the model's window", (0, 10000),
                              read_only=False),
            "stride": declare(self, "stride", 4, "new frames per person between predictions", (1, 1000),
                              read_only=False),
            "min_frames": declare(self, "min_frames", 0, "window mode: frames before the first prediction; 0 = the "
                                  "window (a stream always waits for its full window)",
                                  (0, 10000), read_only=False),
            "person_timeout_s": declare(self, "person_timeout_s", 2.0, "forget a person unseen this long",
                                        (0.05, 3600.0), read_only=False),
            "threshold": declare(self, "threshold", 0.5, "below this confidence publish ActionLabel.UNKNOWN_LABEL",
                                 (0.0, 1.0), read_only=False),
            "smoothing": declare(self, "smoothing", 0.5, "weight of the newest prediction (1 = none)", (0.01, 1.0),
                                 read_only=False),
            "hysteresis": declare(self, "hysteresis", 0.1, "margin another class needs to take over", (0.0, 0.99),
                                  read_only=False),
            "top_k": declare(self, "top_k", 3, "classes listed in each message", (1, 1000), read_only=False),
            "stats_period_s": declare(self, "stats_period_s", 10.0, "statistics log period; 0 = off", (0.0, 3600.0)),
            "diagnostics_period_s": declare(self, "diagnostics_period_s", 1.0, "/diagnostics period; 0 = off",
                                            (0.0, 3600.0)),
        }
        self.config = config
        self.classifier = self._load(config)
        window, min_frames = self._window_settings(config, self.classifier)
        model = {"effective_window": window, "classes": self.classifier.classes, "effective_mode": self._mode,
                 "model_layout": self.classifier.spec.layout, "model_id": self.classifier.model_id}
        log_configuration(self, config | model)
        if isinstance(self.classifier, StreamingClassifier):
            self.get_logger().info(f"streaming: {self.classifier.plan.describe()}")
        self.windows = self._people(window, min_frames)
        self.smoother = self._smoother()
        self.presence = Presence()
        self.publisher = self.create_publisher(ActionLabel, "actions", QoSProfile(depth=10))
        self.people_publisher = self.create_publisher(TrackedPeople, "tracked_people", QoSProfile(depth=10))
        self.create_subscription(Skeleton, "skeletons", self._on_skeleton, QoSProfile(depth=30))
        self.stats, self.input_stats = RateMonitor(), RateMonitor()
        self.rejected = self._rejected_reported = 0
        self._pending: ActionClassifier | None = None
        self._newest_stamp_ns: int | None = None  # newest Skeleton stamp (message time)
        self._received_at_ns = 0  # node-clock time it arrived
        self._frame_id = ""
        self._jump_handle = self.get_clock().create_jump_callback(
            JumpThreshold(min_forward=None, min_backward=Duration(nanoseconds=-1), on_clock_change=True),
            post_callback=self._on_clock_jump)
        self.create_timer(EXPIRY_PERIOD_S, self._expire_on_timer)
        if config["stats_period_s"] > 0:
            self.create_timer(config["stats_period_s"], self._log_stats)
        self.diagnostics = Diagnostics(self, "action recognition", self._report, config["diagnostics_period_s"])
        RuntimeParameters(self, config, self._check_change, self._apply_change)

    # --- configuration ---------------------------------------------------------------------------
    @property
    def _mode(self) -> str:
        return "streaming" if isinstance(self.classifier, StreamingClassifier) else "window"

    @staticmethod
    def _load(config: dict[str, Any]) -> ActionClassifier | StreamingClassifier:
        checkpoint = config["checkpoint"] or default_checkpoint()
        if config["mode"] not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {config['mode']!r}")
        classes = read_class_names(config["classes_file"])
        if resolve_mode(checkpoint, config["mode"]) == "streaming":
            return StreamingClassifier(checkpoint, device=config["device"], every=config["stride"],
                                       window=config["window"], classes=classes)
        return ActionClassifier(checkpoint, device=config["device"], classes=classes)

    def _people(self, window: int, min_frames: int) -> PersonWindows | PersonStreams:
        if isinstance(self.classifier, StreamingClassifier):
            return PersonStreams(self.classifier, self.config["max_gap_s"], self.config["person_timeout_s"])
        return PersonWindows(window, min_frames, self.config["stride"], self.config["person_timeout_s"])

    @staticmethod
    def _window_settings(config: dict[str, Any], classifier: ActionClassifier | StreamingClassifier
                         ) -> tuple[int, int]:
        if isinstance(classifier, StreamingClassifier):  # a stream predicts once its window is full
            window = classifier.plan.window
            if config["min_frames"] > window:  # refused in both modes: the window never reaches it
                raise ValueError(f"min_frames {config['min_frames']} is larger than the window {window}")
            return window, window
        window = config["window"] or classifier.spec.window
        min_frames = config["min_frames"] or window  # the model was trained on full windows
        if min_frames > window:
            raise ValueError(f"min_frames {min_frames} is larger than the window {window}")
        needed = min_window_frames(window, classifier.card.source != "reference")
        if min_frames < needed:  # the same rule as predict's "too short"
            raise ValueError(f"min_frames {min_frames} is below {MIN_WINDOW_SHARE:.0%} of the window {window}: a "
                             f"label from so few frames is padding, not a move; give at least {needed}")
        return window, min_frames

    def _smoother(self) -> LabelSmoother:
        return LabelSmoother(self.classifier.classes, alpha=self.config["smoothing"],
                             threshold=self.config["threshold"], hysteresis=self.config["hysteresis"],
                             unknown_label=ActionLabel.UNKNOWN_LABEL,
                             background=self.classifier.card.background_classes)

    def _check_change(self, changes: dict[str, Any], proposed: dict[str, Any]) -> str | None:
        """Runs in the SetParameters call: a model that does not load is refused, the old one stays."""
        classifier = self.classifier
        self._pending = None
        streaming = isinstance(classifier, StreamingClassifier)
        if {"checkpoint", "classes_file", "device", "mode"} & changes.keys() or (
                streaming and {"window", "stride"} & changes.keys()):
            try:
                classifier = self._pending = self._load(proposed)
            except (DanceRecognitionError, FileNotFoundError, ValueError, RuntimeError, OSError) as error:
                return f"cannot load the model: {error}"
        try:
            self._window_settings(proposed, classifier)
        except ValueError as error:
            return str(error)
        return None

    def _apply_change(self, changes: dict[str, Any]) -> None:
        window, min_frames = self._window_settings(self.config, self._pending or self.classifier)
        if self._pending is not None:
            self.classifier, self._pending = self._pending, None
            self.smoother = self._smoother()  # new classes: start every person's smoothing afresh
            self.get_logger().info(f"model swapped: {self.classifier.model_id} ({', '.join(self.classifier.classes)}), "
                                   f"{self._mode} mode")
            if isinstance(self.classifier, StreamingClassifier) or not isinstance(self.windows, PersonWindows):
                self.windows = self._people(window, min_frames)  # streams belong to one network and schedule
        if isinstance(self.windows, PersonStreams):
            self.windows.reconfigure(self.config["max_gap_s"], self.config["person_timeout_s"])
        else:
            self.windows.reconfigure(window, min_frames, self.config["stride"], self.config["person_timeout_s"])
        self.smoother.alpha = self.config["smoothing"]
        self.smoother.threshold = self.config["threshold"]
        self.smoother.hysteresis = self.config["hysteresis"]

    # --- input -------------------------------------------------------------------------------------
    def _on_skeleton(self, msg: Skeleton) -> None:
        self.input_stats.record()
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
        if self._newest_stamp_ns is not None and frame.stamp_ns < self._newest_stamp_ns:
            self._reset(f"Skeleton stamps jumped back by {(self._newest_stamp_ns - frame.stamp_ns) / 1e9:.3f} s")
        self._newest_stamp_ns, self._frame_id = frame.stamp_ns, frame.frame_id
        self._received_at_ns = self.get_clock().now().nanoseconds
        self.windows.add(frame)
        self._forget(self.windows.expire(frame.stamp_ns))
        self._publish_people(frame.stamp_ns)
        for ready in self.windows.ready():
            self._publish(ready, frame.frame_id)

    def _reset(self, why: str) -> None:
        people = self.windows.clear()
        self.smoother = self._smoother()
        self._newest_stamp_ns = None
        self.get_logger().warning(f"{why} (bag loop or simulator reset?): cleared the windows of "
                                  f"{len(people)} people so old frames do not mix with new ones")

    def _on_clock_jump(self, jump: TimeJump) -> None:
        """Backward jumps, and ROS time switched on or off (use_sim_time), while people are tracked."""
        if self._newest_stamp_ns is not None:
            self._reset(f"the node's clock jumped by {jump.delta.nanoseconds / 1e9:.3f} s")

    def _forget(self, track_ids: list[int]) -> None:
        for track_id in track_ids:
            self.smoother.forget(track_id)

    def _expire_on_timer(self) -> None:
        """People leave without a new Skeleton: message time is estimated as the newest stamp plus
        the node-clock time since it arrived (works for live cameras, bags and simulated time)."""
        if self._newest_stamp_ns is None or not self.windows.people:
            return
        now_ns = self._newest_stamp_ns + self.get_clock().now().nanoseconds - self._received_at_ns
        gone = self.windows.expire(now_ns)
        if gone:
            self._forget(gone)
            self._publish_people(now_ns)

    # --- output ------------------------------------------------------------------------------------
    def _publish_people(self, stamp_ns: int) -> None:
        change = self.presence.update(self.windows.people)
        msg = TrackedPeople(track_ids=change.track_ids, entered_track_ids=change.entered,
                            left_track_ids=change.left)
        msg.header.stamp = ns_to_stamp(stamp_ns)
        msg.header.frame_id = self._frame_id
        self.people_publisher.publish(msg)
        if change.left:
            self.get_logger().info(f"people left: {change.left}")

    def _publish(self, ready: ReadyWindow | StreamPrediction, frame_id: str) -> None:
        if isinstance(ready, StreamPrediction):
            probabilities, num_frames = ready.probabilities, ready.num_frames
        else:
            try:
                probabilities = self.classifier.classify(ready.sequence[None], self.windows.layout,
                                                         self.windows.image_size)
            except NoPersonError:
                return  # a "person" without a single detected joint in the window: no label, not a guess
            num_frames = len(ready.sequence)
        decision = self.smoother.update(ready.track_id, probabilities)
        order = top_k(decision.probabilities, self.config["top_k"])
        label = ActionLabel(track_id=ready.track_id, label=decision.label, confidence=decision.confidence,
                            top_k_labels=[self.classifier.classes[i] for i in order],
                            top_k_scores=[float(decision.probabilities[i]) for i in order],
                            num_frames=num_frames, model_id=self.classifier.model_id)
        label.header.stamp = ns_to_stamp(ready.last_stamp_ns)
        label.header.frame_id = frame_id
        label.box_center_x, label.box_center_y, label.box_width, label.box_height = (
            float(v) for v in ready.last_box)
        label.image_width, label.image_height = (int(v) for v in self.windows.image_size)
        label.window_start = ns_to_stamp(ready.first_stamp_ns)
        self.publisher.publish(label)
        self.stats.record((self.get_clock().now().nanoseconds - ready.last_stamp_ns) / 1e6)

    def _report(self) -> Report:
        values = {**rate_values(self.stats), "input_rate_hz": round(self.input_stats.rate_hz(), 2),
                  "skeletons_received": self.input_stats.total, "rejected_messages": self.rejected,
                  "people": len(self.windows.people), "window": self.windows.window,
                  "frames_for_a_label": self.windows.min_frames if isinstance(self.windows, PersonWindows)
                  else self.windows.window,
                  "model_id": self.classifier.model_id,
                  "device": str(self.classifier.device), "mode": self._mode}
        idle_s = (self.get_clock().now().nanoseconds - self._received_at_ns) / 1e9
        if self.input_stats.total == 0:
            return Report(OK, "waiting for skeletons", values)
        if idle_s > STALLED_INPUT_S:
            return Report(WARN, f"no Skeleton for {idle_s:.0f} s", values)
        newly_rejected, self._rejected_reported = self.rejected - self._rejected_reported, self.rejected
        if newly_rejected:
            return Report(WARN, f"{newly_rejected} Skeleton messages rejected since the last report (see the log)",
                          values)
        return Report(OK, f"{len(self.windows.people)} people, {self.stats.rate_hz():.1f} labels/s", values)

    def _log_stats(self) -> None:
        self.get_logger().info(self.stats.summary("action labels") + f", rejected messages {self.rejected}, "
                               f"people {len(self.windows.people)}")


def main(argv: list[str] | None = None) -> int:
    return run_node(ActionNode, argv, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
