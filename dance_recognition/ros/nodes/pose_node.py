"""pose_node: images -> Skeleton messages, through the backend named by the ``backend`` parameter.

Subscribes ``image_raw`` (sensor-data QoS) and publishes ``skeletons`` (the image's stamp and
frame_id), optionally ``image_annotated`` (skeletons and each person's latest action, read from
``actions``) and ``pose_markers`` (visualization_msgs/MarkerArray of the 3-D world landmarks, when
the backend gives them). The backend runs on its own thread on the NEWEST image only: images that
arrive while it is busy replace the waiting one and are counted as dropped, so no queue builds up.
"""
from __future__ import annotations

import threading

from geometry_msgs.msg import Point
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker, MarkerArray

from dance_recognition.live.statistics import RateMonitor
from dance_recognition.media.drawing import draw_pose_frame
from dance_recognition.msg import ActionLabel, Skeleton
from dance_recognition.pose import backend_options, create_estimator
from dance_recognition.ros.image_conversion import ImageConversionError, image_to_rgb, rgb_to_image
from dance_recognition.ros.node_runner import run_node
from dance_recognition.ros.parameters import declare, log_configuration
from dance_recognition.ros.skeleton_conversions import pose_frame_to_msg, stamp_to_ns
from dance_recognition.skeleton.pose import PoseFrame
from dance_recognition.skeleton.tracking import PoseTracker


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
            "publish_annotated": declare(self, "publish_annotated", True, "publish image_annotated"),
            "publish_markers": declare(self, "publish_markers", False, "publish pose_markers (3-D landmarks)"),
            "tracking_max_distance": declare(self, "tracking_max_distance", 0.5,
                                             "tracker gate in person sizes", (0.01, 10.0)),
            "tracking_max_age": declare(self, "tracking_max_age", 15, "frames a lost person is remembered", (0, 10000)),
            "stats_period_s": declare(self, "stats_period_s", 10.0, "diagnostics log period; 0 = off", (0.0, 3600.0)),
        }
        log_configuration(self, config)
        self.config = config
        self.estimator = create_estimator(config["backend"], **backend_options(
            config["backend"], config["model"], config["openpose_prototxt"], config["openpose_caffemodel"],
            config["openpose_model_folder"], config["device"]))
        self.tracker = PoseTracker(max_distance=config["tracking_max_distance"], max_age=config["tracking_max_age"])
        self.skeleton_publisher = self.create_publisher(Skeleton, "skeletons", QoSProfile(depth=10))
        self.annotated_publisher = (self.create_publisher(Image, "image_annotated", qos_profile_sensor_data)
                                    if config["publish_annotated"] else None)
        self.marker_publisher = (self.create_publisher(MarkerArray, "pose_markers", QoSProfile(depth=5))
                                 if config["publish_markers"] else None)
        self.labels: dict[int, str] = {}
        self.create_subscription(ActionLabel, "actions", self._on_action, QoSProfile(depth=10))
        self.create_subscription(Image, "image_raw", self._on_image, qos_profile_sensor_data)
        self.stats = RateMonitor()
        self._newest: Image | None = None
        self._wake = threading.Condition()
        self._running = True
        self._worker = threading.Thread(target=self._work, name="pose_backend", daemon=True)
        self._worker.start()
        if config["stats_period_s"] > 0:
            self.create_timer(config["stats_period_s"], self._log_stats)

    def _on_action(self, msg: ActionLabel) -> None:
        self.labels[msg.track_id] = f"{msg.label} {msg.confidence:.0%}"

    def _on_image(self, msg: Image) -> None:
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
                self.get_logger().error(f"pose estimation failed on a frame: {error!r}", throttle_duration_sec=5.0)

    def _process(self, msg: Image) -> None:
        image = image_to_rgb(msg)
        frame = self.estimator.estimate(image, stamp_ns=stamp_to_ns(msg.header.stamp), frame_id=msg.header.frame_id)
        self.tracker.update(frame)
        skeleton = pose_frame_to_msg(frame)
        skeleton.header = msg.header
        self.skeleton_publisher.publish(skeleton)
        now_ns = self.get_clock().now().nanoseconds
        self.stats.record((now_ns - frame.stamp_ns) / 1e6)
        if self.annotated_publisher is not None:
            active = {p.track_id: self.labels.get(p.track_id, f"person {p.track_id}") for p in frame.people}
            self.annotated_publisher.publish(rgb_to_image(draw_pose_frame(image, frame, active, copy=False),
                                                          msg.header))
        if self.marker_publisher is not None:
            self._publish_markers(frame, msg)

    def _publish_markers(self, frame: PoseFrame, msg: Image) -> None:
        markers = MarkerArray()
        markers.markers.append(Marker(header=msg.header, action=Marker.DELETEALL))
        for person in frame.people:
            if person.world is None:
                continue
            marker = Marker(header=msg.header, ns="pose_landmarks", id=max(person.track_id, 0),
                            type=Marker.SPHERE_LIST, action=Marker.ADD)
            marker.header.frame_id = f"{msg.header.frame_id}_person_{person.track_id}"
            marker.scale.x = marker.scale.y = marker.scale.z = 0.04
            marker.color.r, marker.color.g, marker.color.a = 0.9, 0.6, 1.0
            marker.points = [Point(x=float(x), y=float(y), z=float(z))
                             for (x, y, z), seen in zip(person.world, person.present, strict=True) if seen]
            markers.markers.append(marker)
        self.marker_publisher.publish(markers)

    def _log_stats(self) -> None:
        self.get_logger().info(self.stats.summary(f"{self.estimator.name} skeletons"))

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
