"""action_node in streaming mode as a real process (own ROS_DOMAIN_ID): a checkpoint trained
without temporal padding streams by default, every published label equals the window model on
the same frames, and a mode change over SetParameters switches back to windows."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from dance_recognition.msg import ActionLabel, Skeleton, TrackedPeople
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import QoSProfile
from test_live_nodes import _skeleton, spin_until
from test_stgcn import randomise

from dance_recognition.data.synthetic import generate_move
from dance_recognition.models.checkpoint import ModelCard, save_checkpoint
from dance_recognition.models.classifier import ActionClassifier
from dance_recognition.models.stgcn import STGCN, STGCNConfig
from dance_recognition.ros.skeleton_conversions import stamp_to_ns
from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18

pytestmark = pytest.mark.slow
FRAME_NS = 33_333_333
CLASSES = ["a", "b", "c", "d"]




def test_action_node_streams_an_unpadded_checkpoint_exactly(processes, probe, tmp_path) -> None:
    model = randomise(STGCN(STGCNConfig(num_classes=4, channels=(16, 16, 32, 32), strides=(1, 2, 1, 2),
                                        temporal_kernel=5, temporal_padding=False)))
    with torch.no_grad():
        model.fcn.weight.mul_(20.0)  # confident outputs: a wrong frame in a window shows in the probabilities
    path = save_checkpoint(tmp_path / "unpadded.pt", model,
                           ModelCard(model.config, CLASSES, normalization="kinetics", window=35, max_persons=1))
    labels: list[ActionLabel] = []
    probe.create_subscription(ActionLabel, "actions", labels.append, QoSProfile(depth=200))
    # person_timeout_s: the node-clock expiry must not drop the person between two lock-step frames
    # when a loaded machine delays the probe by seconds (its state would restart mid-sequence)
    action = processes.start("action_node", {"checkpoint": str(path), "stride": 1, "smoothing": 1.0,
                                             "threshold": 0.0, "hysteresis": 0.0, "top_k": 4,
                                             "person_timeout_s": 60.0})
    publisher = probe.create_publisher(Skeleton, "skeletons", QoSProfile(depth=100))
    assert spin_until(probe, lambda: publisher.get_subscription_count() > 0, 60, [action]), \
        processes.log("action_node")[-2000:]
    people: list[TrackedPeople] = []
    probe.create_subscription(TrackedPeople, "tracked_people", people.append, QoSProfile(depth=200))
    warm_up = generate_move("squat", 1, np.random.default_rng(1))[0]
    for index in range(300):  # until the node has seen a message: discovery may lose the first ones
        publisher.publish(_skeleton(index * FRAME_NS, warm_up, track_id=99))
        if spin_until(probe, lambda: any(99 in p.track_ids for p in people), 0.1, [action]):
            break
    frames = generate_move("wave", 60, np.random.default_rng(0))
    start_ns = 20_000_000_000
    for index, keypoints in enumerate(frames):  # lock-step: each frame processed before the next is sent
        stamp_ns = start_ns + index * FRAME_NS
        publisher.publish(_skeleton(stamp_ns, keypoints))
        assert spin_until(probe, lambda s=stamp_ns: any(stamp_to_ns(p.header.stamp) == s for p in people), 30, [action])
    last_ns = start_ns + 59 * FRAME_NS
    assert spin_until(probe, lambda: any(stamp_to_ns(label.header.stamp) == last_ns for label in labels), 60,
                      [action]), processes.log("action_node")[-3000:]
    log = processes.log("action_node")
    assert "effective_mode='streaming'" in log and "each prediction covers the newest 33 frames" in log
    window = ActionClassifier(path)
    labels = [label for label in labels if label.track_id == 7]
    for label in labels:
        newest = (stamp_to_ns(label.header.stamp) - start_ns) // FRAME_NS
        expected = window.classify(frames[None, newest - 32:newest + 1], OPENPOSE_COCO_18.name, (640, 480))
        published = dict(zip(label.top_k_labels, label.top_k_scores, strict=True))
        np.testing.assert_allclose([published[name] for name in CLASSES], expected, rtol=0, atol=1e-5,
                                   err_msg=f"label for frame {newest}")
        assert label.num_frames == 33 and stamp_to_ns(label.window_start) == start_ns + (newest - 32) * FRAME_NS
    newest = sorted((stamp_to_ns(label.header.stamp) - start_ns) // FRAME_NS for label in labels)
    assert newest == list(range(32, 60))  # one label per frame once the 33-frame window is full

    client = AsyncParameterClient(probe, "action_node")
    assert client.wait_for_services(timeout_sec=30)
    future = client.set_parameters([Parameter("mode", value="window")])
    assert spin_until(probe, future.done, 60) and future.result().results[0].successful
    assert spin_until(probe, lambda: "window mode" in processes.log("action_node"), 10, [action])
    future = client.set_parameters([Parameter("mode", value="fast")])
    assert spin_until(probe, future.done, 60)
    assert "mode must be one of auto, window, streaming" in future.result().results[0].reason
