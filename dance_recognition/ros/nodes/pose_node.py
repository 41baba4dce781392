"""pose_node: images -> Skeleton messages, through the backend named by the ``backend`` parameter.

Subscribes ``image_raw`` (sensor-data QoS) and publishes ``skeletons`` (the image's stamp and
frame_id), optionally ``image_annotated`` (skeletons and each person's latest action, read from
``actions``; RELIABLE, so RViz's and rqt's default reliable subscriptions get it, best-effort ones
too) and ``pose_markers`` (visualization_msgs/MarkerArray of the 3-D world landmarks, when the
backend gives them). The backend runs on its own thread on the NEWEST image only: images that
arrive while it is busy replace the waiting one and are counted as dropped, so no queue builds up.

Markers are in the image's own frame (``header.frame_id``: the camera's optical frame, x right, y
down, z forward, REP-103), which is also the orientation of MediaPipe's hip-centred world
landmarks. Monocular pose gives no distance, so each person's skeleton is placed on the ray
through the centre of their box at ``markers_distance_m`` in front of the camera, using K from
``camera_info`` when the camera is calibrated, else a 60-degree horizontal field of view.

The publish toggles and the tracker gates change at run time (``ros2 param set``); the backend
and its model files are read-only. Health (rate, latency, drops, failures) goes to ``/diagnostics``.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from geometry_msgs.msg import Point
from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import Marker, MarkerArray

from dance_recognition.live.camera_model import Intrinsics
from dance_recognition.live.statistics import RateMonitor
from dance_recognition.live.track_labels import TrackLabels
from dance_recognition.media.drawing import draw_pose_frame
from dance_recognition.msg import ActionLabel, Skeleton
from dance_recognition.pose import backend_options, create_estimator
from dance_recognition.ros.diagnostics import OK, WARN, Diagnostics, Report, rate_values
from dance_recognition.ros.image_conversion import ImageConversionError, image_to_rgb, rgb_to_image
from dance_recognition.ros.node_runner import run_node
from dance_recognition.ros.parameters import RuntimeParameters, declare, log_configuration
from dance_recognition.ros.skeleton_conversions import pose_frame_to_msg, stamp_to_ns
from dance_recognition.skeleton.pose import PoseFrame
from dance_recognition.skeleton.tracking import PoseTracker

# Reliable so RViz/rqt (reliable by default) receive it; a best-effort subscriber matches too.
# Depth 2: a slow viewer gets the newest images, it never holds the pose thread back.
ANNOTATED_QOS = QoSProfile(depth=2, reliability=QoSReliabilityPolicy.RELIABLE)
STALLED_INPUT_S = 5.0


class PoseNode(Node):
    def __init__(self) -> None:
        super().__init__("pose_node")
        config = {
            "backend": declare(self, "backend", "mediapipe", "pose backend: mediapipe or openpose"),
            "model": declare(self, "model", "", "mediapipe: lite/full/heavy; openpose: COCO/BODY_25; empty = default"),
            "openpose_prototxt": declare(self, "openpose_prototxt", "", "openpose via OpenCV: .prototxt"),
            "openpose_caffemodel": declare(self, "openpose_caffemodel", "", "openpose via OpenCV: .caffemodel"),
            "openpose_model_folder": declare(self, "openpose_model_folder", "", "openpose via pyopenpose: models/"),
            "device": declare(self, "device", "cpu", "openpose via OpenCV: cpu or cuda"),
            "num_poses": declare(self, "num_poses", 4, "mediapipe: most people found per image", (1, 20)),
            "publish_annotated": declare(self, "publish_annotated", True, "publish image_annotated", read_only=False),
            "publish_markers": declare(self, "publish_markers", False, "publish pose_markers (3-D landmarks)",
                                       read_only=False),
            "markers_distance_m": declare(self, "markers_distance_m", 2.0,
                                          "pose_markers: assumed distance of the people from the camera",
                                          (0.1, 100.0), read_only=False),
            "tracking_max_distance": declare(self, "tracking_max_distance", 0.5,
                                             "tracker gate in person sizes", (0.01, 10.0), read_only=False),
            "tracking_max_age": declare(self, "tracking_max_age", 30, "frames a lost person is remembered", (0, 10000),
                                        read_only=False),
            "stats_period_s": declare(self, "stats_period_s", 10.0, "statistics log period; 0 = off", (0.0, 3600.0)),
            "diagnostics_period_s": declare(self, "diagnostics_period_s", 1.0, "/diagnostics period; 0 = off",
                                            (0.0, 3600.0)),
        }
        log_configuration(self, config)
        self.config = config
        self.estimator = create_estimator(config["backend"], **backend_options(
            config["backend"], config["model"], config["openpose_prototxt"], config["openpose_caffemodel"],
            config["openpose_model_folder"], config["device"], config["num_poses"]))
        self.tracker = PoseTracker(max_distance=config["tracking_max_distance"], max_age=config["tracking_max_age"])
        self.skeleton_publisher = self.create_publisher(Skeleton, "skeletons", QoSProfile(depth=10))
        self._outputs = threading.Lock()  # publishers toggled at run time vs the pose thread using them
        self.annotated_publisher = self.marker_publisher = None
        self._toggle_outputs()
        self.labels = TrackLabels()
        self.intrinsics: Intrinsics | None = None  # from camera_info, when the camera is calibrated
        self.create_subscription(ActionLabel, "actions", self._on_action, QoSProfile(depth=10))
        self.create_subscription(Image, "image_raw", self._on_image, qos_profile_sensor_data)
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos_profile_sensor_data)
        self.stats = RateMonitor()
        self.failures = self._failures_reported = 0
        self._last_image_s = 0.0
        self._newest: Image | None = None
        self._wake = threading.Condition()
        self._running = True
        self._worker = threading.Thread(target=self._work, name="pose_backend", daemon=True)
        self._worker.start()
        if config["stats_period_s"] > 0:
            self.create_timer(config["stats_period_s"], self._log_stats)
        self.diagnostics = Diagnostics(self, "pose estimation", self._report, config["diagnostics_period_s"])
        RuntimeParameters(self, config, None, self._apply_change)

    def _toggle_outputs(self) -> None:
        """Create or destroy the optional publishers as their parameters say (a topic nobody
        asked for should not exist)."""
        with self._outputs:
            if self.config["publish_annotated"] and self.annotated_publisher is None:
                self.annotated_publisher = self.create_publisher(Image, "image_annotated", ANNOTATED_QOS)
            elif not self.config["publish_annotated"] and self.annotated_publisher is not None:
                self.destroy_publisher(self.annotated_publisher)
                self.annotated_publisher = None
            if self.config["publish_markers"] and self.marker_publisher is None:
                self.marker_publisher = self.create_publisher(MarkerArray, "pose_markers", QoSProfile(depth=5))
            elif not self.config["publish_markers"] and self.marker_publisher is not None:
                self.destroy_publisher(self.marker_publisher)
                self.marker_publisher = None

    def _apply_change(self, changes: dict) -> None:
        self._toggle_outputs()
        with self._outputs:
            self.tracker.max_distance = self.config["tracking_max_distance"]
            self.tracker.max_age = self.config["tracking_max_age"]

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.intrinsics = Intrinsics.from_k(msg.k)

    def _on_action(self, msg: ActionLabel) -> None:
        self.labels.set(msg.track_id, f"{msg.label} {msg.confidence:.0%}")

    def _on_image(self, msg: Image) -> None:
        self._last_image_s = time.monotonic()
        with self._wake:
            if self._newest is not None:
                self.stats.dropped += 1
            self._newest = msg
            self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._wake:
                while self._newest is None and self._running:
                    self._wake.wait()
                if not self._running:
                    return
                msg, self._newest = self._newest, None
            try:
                self._process(msg)
            except ImageConversionError as error:
                self.get_logger().warning(f"skipping an image: {error}", throttle_duration_sec=5.0)
            except Exception as error:  # one bad frame must not stop the node
                if not self.context.ok():
                    return  # shutting down (Ctrl-C): the publishers are gone, nothing to report
                self.failures += 1
                self.get_logger().error(f"pose estimation failed on a frame: {error!r}", throttle_duration_sec=5.0)

    def _process(self, msg: Image) -> None:
        image = image_to_rgb(msg)
        frame = self.estimator.estimate(image, stamp_ns=stamp_to_ns(msg.header.stamp), frame_id=msg.header.frame_id)
        with self._outputs:
            self.tracker.update(frame)
            self.labels.keep_only(self.tracker.live_ids())  # labels of people gone must not stay (nor be redrawn)
            skeleton = pose_frame_to_msg(frame)
            skeleton.header = msg.header
            self.skeleton_publisher.publish(skeleton)
            now_ns = self.get_clock().now().nanoseconds
            self.stats.record((now_ns - frame.stamp_ns) / 1e6)
            if self.annotated_publisher is not None:
                self.annotated_publisher.publish(rgb_to_image(
                    draw_pose_frame(image, frame, self.labels.snapshot(), copy=False), msg.header))
            if self.marker_publisher is not None:
                self._publish_markers(frame, msg)

    def _publish_markers(self, frame: PoseFrame, msg: Image) -> None:
        markers = MarkerArray()
        markers.markers.append(Marker(header=msg.header, action=Marker.DELETEALL))
        intrinsics = self.intrinsics or Intrinsics.assumed(frame.image_width, frame.image_height)
        for person in frame.people:
            if person.world is None:
                continue
            marker = Marker(header=msg.header, ns="pose_landmarks", id=max(person.track_id, 0),
                            type=Marker.SPHERE_LIST, action=Marker.ADD)
            centre_x, centre_y = (float(v) for v in person.bounding_box()[:2])
            if not (np.isfinite(centre_x) and np.isfinite(centre_y)):
                continue
            x, y, z = intrinsics.point_at(centre_x, centre_y, self.config["markers_distance_m"])
            marker.pose.position = Point(x=x, y=y, z=z)  # the landmarks' origin (hips) near the box centre
            marker.pose.orientation.w = 1.0  # the landmarks' axes are the optical frame's
            marker.scale.x = marker.scale.y = marker.scale.z = 0.04
            marker.color.r, marker.color.g, marker.color.a = 0.9, 0.6, 1.0
            marker.points = [Point(x=float(x), y=float(y), z=float(z))
                             for (x, y, z), seen in zip(person.world, person.present, strict=True) if seen]
            markers.markers.append(marker)
        self.marker_publisher.publish(markers)

    def _log_stats(self) -> None:
        self.get_logger().info(self.stats.summary(f"{self.estimator.name} skeletons"))

    def _report(self) -> Report:
        values = {**rate_values(self.stats), "backend": self.estimator.name, "failed_frames": self.failures,
                  "annotated": self.annotated_publisher is not None, "markers": self.marker_publisher is not None}
        new_failures, self._failures_reported = self.failures - self._failures_reported, self.failures
        if not self._last_image_s:
            return Report(OK, "waiting for images on image_raw", values)
        idle_s = time.monotonic() - self._last_image_s
        if idle_s > STALLED_INPUT_S:
            return Report(WARN, f"no image for {idle_s:.0f} s", values)
        if new_failures:
            return Report(WARN, f"pose estimation failed on {new_failures} frames since the last report (see the log)",
                          values)
        return Report(OK, f"{self.stats.rate_hz():.1f} skeletons/s", values)

    def close(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify()
        self._worker.join(timeout=5.0)
        self.estimator.close()


def main(argv: list[str] | None = None) -> int:
    return run_node(PoseNode, argv, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
