"""``dance-recognition live``: the live graph as separate processes, for machines without
``ros2 launch`` (and the same processes ``launch/live.launch.py`` starts where ROS 2 is installed).

Starts every node of ``graph.live_graph`` with the package's Fast DDS profile, prints the
recognised actions as they arrive, and optionally records the annotated image topic to a video.
Ctrl-C, SIGTERM (``timeout``, systemd, ``docker stop``) and SIGHUP stop the nodes (SIGTERM,
then SIGKILL after a grace period); nodes die with the launcher even when it is killed (see
``parent_watch``). The exit code is non-zero when a node dies with an error; 0 when the user
stops the graph or a video played once has ended and the pipeline has drained.
"""
from __future__ import annotations

import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dance_recognition.media.video import VideoError
from dance_recognition.ros.dds_profile import environment_with_profile
from dance_recognition.ros.graph import DRAIN_S, LiveArguments, NodeSpec, Outcome, command, exit_outcome, live_graph
from dance_recognition.ros.parent_watch import launcher_environment

GRACE_S = 10.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Running:
    spec: NodeSpec
    process: subprocess.Popen
    code: int | None = None


@dataclass
class Monitor:
    """An rclpy node inside the launcher: prints labels, records image_annotated."""

    namespace: str
    record: Path | None
    fps: float
    labels_seen: int = 0
    diagnostics: dict = field(default_factory=dict)  # node name -> its latest /diagnostics key/values
    frames_recorded: int = 0
    record_error: str = ""  # why the annotated video stopped (it is then no longer written)
    _last: dict = field(default_factory=dict)
    _writer: object = None  # the VideoWriter, opened on the first annotated image

    def start(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, qos_profile_sensor_data
        from sensor_msgs.msg import Image

        from dance_recognition.msg import ActionLabel

        self._context = rclpy.Context()
        rclpy.init(args=[], context=self._context)
        self._node = rclpy.create_node("live_monitor", namespace=self.namespace or None, context=self._context)
        self._node.create_subscription(ActionLabel, "actions", self._on_action, QoSProfile(depth=50))
        self._node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, QoSProfile(depth=20))
        self._writer = None
        if self.record is not None:
            self._node.create_subscription(Image, "image_annotated", self._on_image, qos_profile_sensor_data)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        """Spins until the context is shut down; a failing callback never stops the label count."""
        while self._context.ok():
            try:
                self._executor.spin_once(timeout_sec=0.1)
            except Exception as error:
                if not self._context.ok():
                    return  # shut down while spinning
                print(f"[live] monitor callback failed: {type(error).__name__}: {error}", flush=True)

    def _on_action(self, msg) -> None:
        self.labels_seen += 1
        previous = self._last.get(msg.track_id)
        if previous != msg.label:
            self._last[msg.track_id] = msg.label
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            top = ", ".join(f"{n} {s:.0%}" for n, s in zip(msg.top_k_labels, msg.top_k_scores, strict=False))
            print(f"[live] {stamp:.2f}  person {msg.track_id}: {msg.label} ({msg.confidence:.0%})  top: {top}",
                  flush=True)

    def _on_diagnostics(self, msg) -> None:
        """The latest values of this graph's nodes (another graph in the domain has other names)."""
        namespace = self.namespace.strip("/")
        prefix = f"/{namespace}/" if namespace else "/"
        for status in msg.status:
            if status.hardware_id.startswith(prefix) and "/" not in status.hardware_id[len(prefix):]:
                self.diagnostics[status.hardware_id[len(prefix):]] = {v.key: v.value for v in status.values}

    def _on_image(self, msg) -> None:
        if self.record_error:
            return
        try:
            self._record(msg)
        except (OSError, VideoError) as error:  # disk full, folder removed, codec missing...
            self.record_error = str(error)
            print(f"[live] cannot write the annotated video {self.record}: {error}; recording stopped, "
                  "recognition goes on", flush=True)

    def _record(self, msg) -> None:
        """Frames are placed by their stamps, so the video keeps real time although the pose node
        processes fewer frames than the camera sends (each frame is held until the next)."""
        from dance_recognition.media.video import VideoWriter
        from dance_recognition.ros.image_conversion import image_to_rgb

        image = image_to_rgb(msg)
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        size = (image.shape[1], image.shape[0])
        if self._writer is None:
            self._writer = VideoWriter(self.record, self.fps, size)
            self._first_stamp, self._size = stamp, size
        if size != self._size:
            return  # the camera changed resolution: a video file cannot
        target = round((stamp - self._first_stamp) * self.fps) + 1
        for _ in range(max(1, min(target - self._writer.frames, round(self.fps * 2)))):
            self._writer.write(image)
        self.frames_recorded += 1

    @property
    def video_frames(self) -> int:
        """Frames in the annotated video: each image is held until the next, so a pose node slower
        than the camera still gives a video in real time. The mp4 muxer keeps an index entry per
        frame in memory until the file is closed (about 70 bytes: 7.5 MB per hour at 30 fps), the
        only memory of the launcher that grows with the length of a run."""
        return self._writer.frames if self._writer is not None else 0

    def stop(self) -> None:
        import rclpy

        rclpy.try_shutdown(context=self._context)
        self._thread.join(timeout=2.0)
        if self._writer is not None:
            self._writer.close()


def _count(values: dict | None, key: str) -> int | None:
    try:
        return int((values or {})[key])
    except (KeyError, ValueError):
        return None


def why_no_labels(monitor: Monitor) -> str:
    """After a run without labels: what the nodes' last diagnostics say about why (images the
    pose node dropped while busy, no skeletons, too few frames for a window); "" with labels."""
    if monitor.labels_seen:
        return ""
    pose, action = monitor.diagnostics.get("pose_node"), monitor.diagnostics.get("action_node")
    estimated, dropped = _count(pose, "total"), _count(pose, "dropped")
    if estimated is None or dropped is None:
        return ": no report from pose_node arrived (see its log above)"
    if estimated + dropped == 0:
        return ": pose_node received no image (see camera_node's log above, or --image-topic)"
    reasons = [f"pose_node estimated poses on {estimated} of {estimated + dropped} images"]
    if dropped:
        reasons[0] += (f" ({dropped} dropped while it was busy: this machine is too slow or too loaded for the "
                       "input's frame rate)")
    received, needed = _count(action, "skeletons_received"), _count(action, "frames_for_a_label")
    if received is not None:
        reasons.append(f"action_node received {received} skeleton messages"
                       + (f" and needs {needed} frames of a person for a label" if needed else ""))
    return ": " + "; ".join(reasons)


def _stop(running: list[Running]) -> None:
    """SIGTERM: rclpy ends a running node cleanly, and a node still importing ends silently
    (SIGINT there prints a KeyboardInterrupt traceback). SIGKILL after the grace period."""
    for item in running:
        if item.process.poll() is None:
            item.process.terminate()
    deadline = time.monotonic() + GRACE_S
    for item in running:
        try:
            item.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            item.process.kill()
            item.process.wait()


class _StopSignals:
    """While installed: Ctrl-C, SIGTERM and SIGHUP set ``received`` (the watch loop then stops the
    nodes in order) instead of ending the launcher at once."""

    def __init__(self) -> None:
        self.received = False
        self._previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
        for number in STOP_SIGNALS:
            signal.signal(number, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.received = True

    def restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def _start_nodes(specs: list[NodeSpec], arguments: LiveArguments, env: dict, running: list[Running]) -> None:
    for spec in specs:
        # own session: a terminal Ctrl-C reaches the launcher only, which stops the nodes in order
        process = subprocess.Popen(command(spec, arguments), env=env, start_new_session=True)
        running.append(Running(spec, process))
        print(f"[live] started {spec.name} (pid {process.pid})", flush=True)


def _watch(running: list[Running], arguments: LiveArguments, duration_s: float, stop: _StopSignals) -> int:
    """Until a stop signal, a failed node, the drained end of the input, every node ended, or the
    duration: the exit code so far (1 when a node failed)."""
    started, finished_at = time.monotonic(), None
    while not stop.received:
        failed = False
        for item in running:
            if item.code is None and (code := item.process.poll()) is not None:
                item.code = code
                outcome, line = exit_outcome(item.spec, code, arguments)  # as the launch file decides
                print(f"[live] {line}", flush=True)
                failed = failed or outcome is Outcome.FAIL
                if outcome is Outcome.DRAIN:
                    finished_at = time.monotonic()
        if failed:
            return 1
        if finished_at and time.monotonic() - finished_at > DRAIN_S:
            break
        if all(item.code is not None for item in running):
            break  # every node has ended (required:=false kept the graph up until now)
        if duration_s and time.monotonic() - started > duration_s:
            break
        time.sleep(0.1)
    return 0


def _judge_stopped(running: list[Running], exit_code: int, interrupted: bool) -> int:
    """Nodes still running when the graph was stopped: an error exit of theirs fails the run
    (unless the user stopped it or a node had failed already)."""
    for item in running:
        code = item.process.returncode
        if item.code is not None:
            continue  # ended while the graph ran: already judged
        if code not in (0, -signal.SIGINT, -signal.SIGTERM) and exit_code == 0 and not interrupted:
            print(f"[live] {item.spec.name} ended with exit code {code}", flush=True)
            exit_code = 1
    return exit_code


def _summarise(monitor: Monitor, record: Path | None, exit_code: int) -> int:
    print(f"[live] {monitor.labels_seen} action labels received{why_no_labels(monitor)}", flush=True)
    if monitor.record_error:
        return exit_code or 1
    if record is not None:
        if monitor.frames_recorded:
            print(f"[live] annotated video: {record} ({monitor.video_frames} frames at {monitor.fps:g} fps from "
                  f"{monitor.frames_recorded} annotated images)", flush=True)
        else:
            print(f"[live] no annotated frame arrived; {record} not written", flush=True)
    return exit_code


def run_live(arguments: LiveArguments, record: Path | None = None, fps: float = 30.0,
             duration_s: float = 0.0) -> int:
    env = launcher_environment(environment_with_profile())
    specs = live_graph(arguments)
    monitor = Monitor(arguments.namespace, record, fps)
    monitor.start()
    running: list[Running] = []
    stop = _StopSignals()
    exit_code = 0
    try:
        _start_nodes(specs, arguments, env, running)
        exit_code = _watch(running, arguments, duration_s, stop)
    finally:
        _stop(running)
        stop.restore()
        monitor.stop()
    exit_code = _judge_stopped(running, exit_code, stop.received)
    return _summarise(monitor, record, exit_code)
