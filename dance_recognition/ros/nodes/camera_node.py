"""camera_node: a webcam or a video file -> sensor_msgs/Image (``image_raw``) + CameraInfo.

Parameters (all read-only; the defaults declared here are the only ones): ``source`` (webcam index, /dev/videoN or a
video path), ``loop`` (files), ``playback`` (``native``: the file's frame rate; ``fast``: as fast
as ``fast_rate_hz`` allows, for offline processing where consumers drop what they cannot take),
``fps`` (0 = the source's), ``frame_id`` (default ``camera_optical_frame``: image axes are the
optical frame's, REP-103), ``max_width`` (downscale wider frames; 0 = never),
``reconnect_initial_s``/``reconnect_max_s`` (back-off when the camera disconnects),
``camera_info_url`` (a camera_calibration YAML as ``file:///...``, ``package://...`` or a path:
``camera_info`` then carries its K, D, R, P, scaled to the published size; empty: an all-zero K,
which CameraInfo defines as uncalibrated), ``wait_for_subscriber``/``wait_for_publishers`` (a
video file starts once image_raw has a subscriber and each of these topics a publisher: the live
graph names ``skeletons`` and ``actions``, so the whole graph is up and a short clip's first frames
reach action_node; a subscriber alone would not do, a viewer or a recorder may be one). A file
played once ends the node with exit code 0.
Health (state, rate, frames) goes to ``/diagnostics``.
"""
from __future__ import annotations

import time

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from dance_recognition.live.camera_model import CalibrationError, CameraCalibration, load_calibration
from dance_recognition.live.frame_source import BackOff, FrameSource
from dance_recognition.live.statistics import RateMonitor
from dance_recognition.ros.diagnostics import OK, WARN, Diagnostics, Report, rate_values
from dance_recognition.ros.graph import GRAPH_SETTLE_S
from dance_recognition.ros.image_conversion import rgb_to_image
from dance_recognition.ros.node_runner import run_node
from dance_recognition.ros.parameters import READ_ONLY_NOTE, declare, log_configuration


class CameraNode(Node):
    _connected_at: float | None = None

    def __init__(self) -> None:
        super().__init__("camera_node")
        config = {
            "source": declare(self, "source", "0", "webcam index, /dev/videoN, or a video file path"),
            "loop": declare(self, "loop", False, "replay a video file from the start at its end"),
            "playback": declare(self, "playback", "native", "native (file frame rate) or fast"),
            "fps": declare(self, "fps", 0.0, "publishing rate for native playback; 0 = the source's", (0.0, 240.0)),
            "fast_rate_hz": declare(self, "fast_rate_hz", 200.0, "upper rate for fast playback", (1.0, 1000.0)),
            "frame_id": declare(self, "frame_id", "camera_optical_frame", "frame_id of the images (an optical frame)"),
            "camera_info_url": declare(self, "camera_info_url", "",
                                       "calibration YAML: file:///..., package://... or a path; empty = uncalibrated"),
            "max_width": declare(self, "max_width", 640, "downscale frames wider than this; 0 = never", (0, 8192)),
            "reconnect_initial_s": declare(self, "reconnect_initial_s", 0.5, "first reconnect delay", (0.05, 60.0)),
            "reconnect_max_s": declare(self, "reconnect_max_s", 8.0, "longest reconnect delay", (0.1, 600.0)),
            "stats_period_s": declare(self, "stats_period_s", 10.0, "statistics log period; 0 = off", (0.0, 3600.0)),
            "diagnostics_period_s": declare(self, "diagnostics_period_s", 1.0, "/diagnostics period; 0 = off",
                                            (0.0, 3600.0)),
            "wait_for_subscriber": declare(self, "wait_for_subscriber", True,
                                           "video files: start playing once image_raw has a subscriber"),
            # string array without a default (rclpy cannot type an empty list): unset = none
            "wait_for_publishers": self.declare_parameter(
                "wait_for_publishers", Parameter.Type.STRING_ARRAY,
                ParameterDescriptor(description="video files: also wait until each of these topics has a publisher",
                                    read_only=True, additional_constraints=READ_ONLY_NOTE)).value or [],
        }
        if config["playback"] not in ("native", "fast"):
            raise ValueError(f"playback must be native or fast, not {config['playback']!r}")
        log_configuration(self, config)
        self.config = config
        self.calibration = load_calibration(config["camera_info_url"]) if config["camera_info_url"] else None
        self._info: CameraInfo | None = None  # built for the first frame's size, reused
        self.finished = False
        self.source = FrameSource(config["source"], loop=config["loop"], max_width=config["max_width"],
                                  back_off=BackOff(config["reconnect_initial_s"], config["reconnect_max_s"]),
                                  on_state=self._on_state)
        self.image_publisher = self.create_publisher(Image, "image_raw", qos_profile_sensor_data)
        self.info_publisher = self.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
        self.stats = RateMonitor()
        self._period = 1.0 / config["fast_rate_hz"]
        self.timer = self.create_timer(self._period, self._tick)
        self._next_publish = time.monotonic()
        if config["stats_period_s"] > 0:
            self.create_timer(config["stats_period_s"], lambda: self.get_logger().info(self.stats.summary("published")))
        self.diagnostics = Diagnostics(self, "camera", self._report, config["diagnostics_period_s"])

    def _on_state(self, state: str, detail: str) -> None:
        if not detail:
            return
        if state == "waiting":  # one call site per severity: rclpy requires it
            self.get_logger().warning(f"camera {state}: {detail}")
        else:
            self.get_logger().info(f"camera {state}: {detail}")

    def _frame_period(self) -> float:
        if self.config["playback"] == "fast":
            return 1.0 / self.config["fast_rate_hz"]
        return 1.0 / (self.config["fps"] or self.source.fps)

    def _tick(self) -> None:
        now = time.monotonic()
        if now < self._next_publish or self.finished:
            return
        if self.config["wait_for_subscriber"] and not self.source.device and self.source.frames_read == 0:
            if not self._graph_listens():
                self._connected_at = None
                self._next_publish = now  # pacing starts with the first frame, no burst to catch up the wait
                return  # a file is not live: do not play it to nobody, nor to half a graph
            if self._connected_at is None:
                self._connected_at = now
            if now - self._connected_at < GRAPH_SETTLE_S:
                self._next_publish = now
                return
        image = self.source.read()
        if image is None:
            if self.source.finished:
                self.finished = True  # the runner ends the process with exit code 0
            return
        self._next_publish = max(self._next_publish + self._frame_period(), now - self._frame_period())
        msg = rgb_to_image(image)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.config["frame_id"]
        self.image_publisher.publish(msg)
        self.info_publisher.publish(self._camera_info(msg))
        self.stats.record()

    def _graph_listens(self) -> bool:
        """image_raw has a subscriber, and each of ``wait_for_publishers`` a publisher (names
        resolved with this node's namespace and remappings)."""
        matched = self.image_publisher.get_subscription_count()
        # every image_raw subscription the graph knows of must be MATCHED too: a viewer's (or a
        # test probe's) match alone let the first frame go out before pose_node's was ready
        if matched == 0 or matched < self.count_subscribers(self.image_publisher.topic_name):
            return False
        return all(self.count_publishers(self.resolve_topic_name(topic)) > 0
                   for topic in self.config["wait_for_publishers"] if topic)

    def _camera_info(self, image: Image) -> CameraInfo:
        if self._info is None or (self._info.width, self._info.height) != (image.width, image.height):
            self._info = CameraInfo(width=image.width, height=image.height)
            if self.calibration is not None:
                try:
                    fill_camera_info(self._info, self.calibration.scaled(image.width, image.height))
                except CalibrationError as error:
                    self.get_logger().error(f"camera_info stays uncalibrated: {error}")
        self._info.header = image.header
        return self._info

    def _report(self) -> Report:
        values = {**rate_values(self.stats), "state": self.source.state, "frames_read": self.source.frames_read,
                  "calibrated": self._info is not None and bool(self._info.k[0])}
        if self.source.state == "waiting":
            return Report(WARN, f"camera waiting for {self.config['source']} (reconnecting)", values)
        if self.finished:
            return Report(OK, "the video has ended", values)
        return Report(OK, f"{self.source.state}, {self.stats.rate_hz():.1f} images/s", values)

    def close(self) -> None:
        self.source.close()


def fill_camera_info(info: CameraInfo, calibration: CameraCalibration) -> None:
    info.distortion_model = calibration.distortion_model
    info.d = list(calibration.d)
    info.k, info.r, info.p = list(calibration.k), list(calibration.r), list(calibration.p)


def main(argv: list[str] | None = None) -> int:
    return run_node(CameraNode, argv, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
