"""The pose node with several people: real processes on a real two-person clip, and its label memory."""
from __future__ import annotations

import numpy as np
import pytest
import rclpy
from conftest import shared_video
from dance_recognition.msg import ActionLabel, Skeleton
from rclpy.qos import QoSProfile
from std_msgs.msg import Header
from test_live_nodes import spin_until

from dance_recognition.live.track_labels import TrackLabels
from dance_recognition.pose import create_estimator
from dance_recognition.ros.graph import LiveArguments
from dance_recognition.ros.image_conversion import rgb_to_image


@pytest.fixture()
def two_person_video():
    return shared_video("people_pose2sim_cam01.mp4")


@pytest.mark.slow
def test_two_people_give_two_tracks_of_action_labels(two_person_video, processes, probe, tmp_path) -> None:
    params = tmp_path / "mine.yaml"
    params.write_text("/**/action_node:\n  ros__parameters:\n    stride: 2\n"
                      "/**/camera_node:\n  ros__parameters:\n    max_width: 480\n")
    arguments = LiveArguments(input=str(two_person_video), params_file=str(params), loop="true")
    skeletons, labels = [], []
    probe.create_subscription(Skeleton, "skeletons", skeletons.append, QoSProfile(depth=100))
    probe.create_subscription(ActionLabel, "actions", labels.append, QoSProfile(depth=100))
    nodes = [processes.start(name, arguments=arguments) for name in ("action_node", "pose_node", "camera_node")]

    def labelled_tracks() -> dict[int, int]:
        counts: dict[int, int] = {}
        for label in labels:
            counts[label.track_id] = counts.get(label.track_id, 0) + 1
        return counts

    assert spin_until(probe, lambda: sum(n >= 3 for n in labelled_tracks().values()) >= 2, 240, nodes), \
        (labelled_tracks(), processes.log("pose_node")[-2000:], processes.log("action_node")[-2000:])
    two = [s for s in skeletons if len(s.people) == 2]
    assert len(two) >= 0.6 * len(skeletons), [len(s.people) for s in skeletons]
    for skeleton in two:
        ids = {p.track_id for p in skeleton.people}
        assert len(ids) == 2 and -1 not in ids
        for person in skeleton.people:  # boxes from the joints' extent, inside the image
            assert 0 < person.box_width <= skeleton.image_width and 0 < person.box_height <= skeleton.image_height
    labelled = [track for track, n in labelled_tracks().items() if n >= 3]
    seen = {p.track_id for s in skeletons for p in s.people}
    assert set(labelled) <= seen, "labels must name tracks the pose node published"


def test_track_labels_keep_only_live_tracks() -> None:
    labels = TrackLabels()
    labels.set(1, "wave 90%")
    labels.set(2, "squat 80%")
    labels.keep_only({2, 3})
    assert labels.snapshot() == {2: "squat 80%"}
    labels.keep_only([])
    assert len(labels) == 0


@pytest.mark.slow
def test_pose_node_forgets_the_labels_of_people_gone() -> None:
    """The node's own label memory (the bug: never pruned) in a real PoseNode on a real frame."""
    import cv2

    from dance_recognition.ros.nodes.pose_node import PoseNode

    capture = cv2.VideoCapture(str(shared_video("ta_chi.mp4")))
    ok, bgr = capture.read()
    capture.release()
    assert ok
    person = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    empty = np.zeros_like(person)
    rclpy.init()
    node = PoseNode()
    try:
        node.close()  # stop its worker thread: frames are fed by hand below
        node.estimator = create_estimator("mediapipe")
        node._on_action(ActionLabel(track_id=0, label="wave", confidence=0.9))
        node._on_action(ActionLabel(track_id=57, label="squat", confidence=0.8))  # a person long gone
        header = Header(frame_id="camera")
        node._process(rgb_to_image(person, header))
        assert node.labels.snapshot() == {0: "wave 90%"}
        for _ in range(node.tracker.max_age + 1):  # the performer leaves for longer than the tracker remembers
            node._process(rgb_to_image(empty, header))
        assert node.labels.snapshot() == {}
    finally:
        node.estimator.close()
        node.destroy_node()
        rclpy.try_shutdown()
