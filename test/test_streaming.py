"""Streaming ST-GCN: equal to the unpadded window model frame by frame (random and real MediaPipe
sequences, every schedule, persons joining and leaving), its window arithmetic and errors, and the
per-person state (creation, reset on gaps and time jumps, time-out, one batched call)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_video
from test_stgcn import randomise

from dance_recognition.live.person_streams import PersonStreams
from dance_recognition.models.checkpoint import ModelCard, save_checkpoint
from dance_recognition.models.classifier import ActionClassifier
from dance_recognition.models.stgcn import STGCN, STGCNConfig
from dance_recognition.models.streaming import StreamingSTGCN, plan_stream, script_streaming
from dance_recognition.models.streaming_classifier import StreamingClassifier
from dance_recognition.skeleton.layouts import get_layout
from dance_recognition.skeleton.pose import PersonPose, PoseFrame

SMALL = {"channels": (16, 16, 32, 32), "strides": (1, 2, 1, 2), "temporal_kernel": 5}  # RF 25, stride 4
FRAME_NS = 33_333_333


def unpadded(seed: int = 0, **settings) -> STGCN:
    settings = {"num_classes": 5, **SMALL, **settings}
    return randomise(STGCN(STGCNConfig(temporal_padding=False, **settings)), seed)


def test_receptive_field_and_window_arithmetic() -> None:
    paper = STGCNConfig(num_classes=400, temporal_padding=False)
    assert (paper.receptive_field, paper.total_stride) == (153, 4)  # the figure of stgcn-reference.md
    assert paper.used_frames(300) == 297 and paper.used_frames(153) == 153
    plan = plan_stream(paper, 300, every=1)
    assert (plan.window, plan.pool_taps, plan.pool_spacing) == (297, 37, 4)
    assert plan.dilations == (1, 1, 1, 1, 1, 2, 2, 2, 4, 4)  # strides became dilations
    strided = plan_stream(paper, 300, every=4)
    assert strided.dilations == (1,) * 10 and strided.output_rates[-1] == 4 and strided.pool_spacing == 1
    assert "297 frames (9.90 s at 30 fps)" in plan.describe(30)


def test_window_shorter_than_the_receptive_field_is_refused_with_the_minimum() -> None:
    model = unpadded()
    with pytest.raises(ValueError, match="at least 25 frames"):
        model(torch.zeros(1, 3, 24, 18, 1))
    with pytest.raises(Exception, match="at least 25 frames"):
        torch.jit.script(model.fused())(torch.zeros(1, 3, 24, 18, 1))
    with pytest.raises(ValueError, match="at least 25 frames"):
        StreamingSTGCN(model, window=20)
    with pytest.raises(ValueError, match="at least 25 frames"):
        model.config.check_window(24)
    model(torch.zeros(1, 3, 25, 18, 1))  # exactly the receptive field: one output column


@pytest.mark.parametrize("fast_temporal", [False, True])
@pytest.mark.parametrize("every", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("persons", [1, 2])
def test_stream_equals_unpadded_window_model_every_frame(every: int, persons: int, fast_temporal: bool) -> None:
    """Both temporal forms (the direct k-tap product and Karatsuba in time), batches of 2 (the
    batched code path) and of 1 person in the window model's person slots."""
    model = unpadded()
    stream = StreamingSTGCN(model, window=35, every=every, persons=persons, fast_temporal=fast_temporal)
    assert any(block.fast for block in stream.blocks) == fast_temporal
    window = stream.plan.window
    assert window == 33  # 25 + 2 x 4: the newest 35 - 33 frames are off the stride grid
    x = torch.randn(2, 3, 90, 18, 1, generator=torch.Generator().manual_seed(1))
    state, produced = stream.initial_state(2), {}
    with torch.inference_mode():
        for t in range(x.shape[2]):
            logits, state = stream.step(x[:, :, t, :, 0], t, state)
            assert (logits is not None) == (t % every == 0)
            if logits is not None and t >= window - 1:
                produced[t] = logits
        ends = sorted(produced)
        assert ends == [t for t in range(window - 1, 90) if t % every == 0]
        clips = torch.cat([x[:, :, t - window + 1:t + 1] for t in ends])  # every window, one batched call
        clips = torch.cat([clips, torch.zeros(len(clips), 3, window, 18, persons - 1)], dim=4)  # absent persons
        expected = model(clips)
    torch.testing.assert_close(torch.cat([produced[t] for t in ends]), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("fast_temporal", [False, True])
def test_scripted_step_equals_eager_step(fast_temporal: bool) -> None:
    stream = StreamingSTGCN(unpadded(), window=33, every=1, fast_temporal=fast_temporal)
    scripted = script_streaming(stream)
    x = torch.randn(1, 3, 40, 18, generator=torch.Generator().manual_seed(2))
    eager_state, scripted_state = stream.initial_state(1), stream.initial_state(1)
    with torch.inference_mode():
        for t in range(40):
            expected, eager_state = stream.step(x[:, :, t], t, eager_state)
            actual, scripted_state = scripted.step(x[:, :, t], t, scripted_state)
    torch.testing.assert_close(actual, expected)


def test_single_person_karatsuba_stream_equals_the_window_model_over_a_long_sequence() -> None:
    """One person (the 2-D fast path of every block), several Karatsuba blocks of 9 columns with
    dilations 1, 2 and 4 and block-staggered phases, scripted as action_node runs it."""
    model = unpadded(channels=(16, 16, 32, 32), strides=(1, 2, 1, 2), temporal_kernel=9)  # RF 57
    stream = StreamingSTGCN(model, window=57, every=1, fast_temporal=True)
    assert [b.dilation for b in stream.blocks] == [1, 1, 2, 2] and len({b.phase_offset for b in stream.blocks}) == 4
    step = script_streaming(stream)
    x = torch.randn(1, 3, 200, 18, generator=torch.Generator().manual_seed(4))
    state, produced = stream.initial_state(1), []
    with torch.inference_mode():
        for t in range(200):
            logits, state = step.step(x[:, :, t], t, state)
            if t >= 56:
                produced.append(logits)
        expected = model(torch.cat([x[:, :, t - 56:t + 1, :, None] for t in range(56, 200)]))
    torch.testing.assert_close(torch.cat(produced), expected, rtol=0, atol=1e-5)


def test_a_moved_or_cast_stream_takes_its_per_phase_tables_along() -> None:
    """The Karatsuba tables are lists, not buffers: ``.to()`` must still reach them."""
    model = unpadded()
    stream = StreamingSTGCN(model, window=33, every=1, fast_temporal=True).double()
    assert all(t.dtype == torch.float64 for b in stream.blocks for t in b.phase_tap_sums)
    x = torch.randn(1, 3, 33, 18, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    state = stream.initial_state(1)
    with torch.inference_mode():
        for t in range(33):
            logits, state = stream.step(x[:, :, t], t, state)
        expected = model.double()(x[..., None])
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-6)  # weights were fused in float32


def test_padded_checkpoint_streams_with_its_receptive_field(tmp_path) -> None:
    padded = randomise(STGCN(STGCNConfig(num_classes=3, **SMALL)))
    path = save_checkpoint(tmp_path / "padded.pt", padded, ModelCard(padded.config, ["a", "b", "c"],
                                                                      normalization="kinetics", window=16,
                                                                      max_persons=1))
    classifier = StreamingClassifier(path, every=4)
    assert not classifier.exact and classifier.plan.window == 25  # raised from 16 to the receptive field


# ---- per-person streams on real MediaPipe skeletons ----------------------------------------------------------


@pytest.fixture(scope="module")
def real_tracks() -> list[np.ndarray]:
    """(T, 33, 3) MediaPipe keypoints (pixels) of the two real Kinetics clips."""
    from real_footage import read_rgb_frames

    from dance_recognition.pose import create_estimator

    tracks = []
    estimator = create_estimator("mediapipe")
    try:
        for name in ("ta_chi.mp4", "clean_and_jerk.mp4"):
            frames = read_rgb_frames(shared_video(name), 150)
            sequence = []
            for index, image in enumerate(frames):
                found = estimator.estimate(image, stamp_ns=index * FRAME_NS).people
                sequence.append(found[0].keypoints if found else np.full((33, 3), np.nan, np.float32))
            tracks.append(np.stack(sequence))
    finally:
        estimator.close()
    assert all(np.isfinite(t[:, :, 0]).mean() > 0.8 for t in tracks)  # real skeletons, mostly seen
    return tracks


def _checkpoint(tmp_path, normalization: str = "kinetics", window: int = 35, persons: int = 1):
    model = unpadded(num_classes=4, layout="openpose_coco_18")
    card = ModelCard(model.config, ["w", "x", "y", "z"], normalization=normalization, window=window,
                     max_persons=persons)
    return save_checkpoint(tmp_path / f"{normalization}.pt", model, card)


def _frame(people: list[tuple[int, np.ndarray]], index: int, stamp_ns: int | None = None) -> PoseFrame:
    layout = get_layout("mediapipe_pose_33")
    return PoseFrame("mediapipe_pose_33", layout.joint_names, 340, 256,
                     [PersonPose(keypoints=k.astype(np.float32), track_id=tid) for tid, k in people],
                     stamp_ns=index * FRAME_NS if stamp_ns is None else stamp_ns)


@pytest.mark.slow
@pytest.mark.parametrize("every", [1, 4])
def test_person_streams_equal_the_window_classifier_for_persons_joining_and_leaving(real_tracks, tmp_path,
                                                                                   every: int) -> None:
    """Three people (the tai chi person, the same person shifted and delayed, the weightlifter)
    join at different frames, one misses two frames, one leaves; every prediction equals
    ActionClassifier on that person's newest window, and in-step persons are advanced in one
    batched call."""
    path = _checkpoint(tmp_path, persons=2)
    window_model = ActionClassifier(path)
    streams = PersonStreams(StreamingClassifier(path, every=every), max_gap_s=0.5, timeout_s=1.0)
    window = streams.window
    assert window == window_model.spec.window == 33
    tai_chi, lifter = real_tracks
    shifted = tai_chi.copy()
    shifted[..., 0] += 40.0
    schedule = {0: (0, 150, tai_chi, 0), 1: (10, 150, shifted, -10), 2: (30, 110, lifter, -30)}  # start, end
    missed = {1: (70, 71)}  # person 1 is not detected in two frames (a gap shorter than max_gap_s)
    history: dict[int, list[np.ndarray]] = {tid: [] for tid in schedule}
    predictions = {tid: 0 for tid in schedule}
    batches_before = 0
    for index in range(150):
        people = [(tid, track[index + shift]) for tid, (start, end, track, shift) in schedule.items()
                  if start <= index < end and index not in missed.get(tid, ())]
        for tid, keypoints in people:
            history[tid].append(keypoints)
        batches_before = streams.batches
        for prediction in streams.add(_frame(people, index)):
            recent = np.stack(history[prediction.track_id][-window:])[None]
            expected = window_model.classify(recent, "mediapipe_pose_33", (340, 256))
            np.testing.assert_allclose(prediction.probabilities, expected, rtol=0, atol=1e-5)
            assert prediction.num_frames == window and prediction.last_stamp_ns == index * FRAME_NS
            predictions[prediction.track_id] += 1
        # everyone in step: one batched call per frame; person 1 is two frames behind after the miss
        assert streams.batches - batches_before == (1 if index < 72 or len(people) == 1 else 2)
        streams.expire(index * FRAME_NS)
    assert predictions[0] == len([t for t in range(window - 1, 150) if t % every == 0])
    assert predictions[2] > 0 and 2 not in streams.people  # the weightlifter left and timed out
    assert set(streams.people) == {0, 1}


@pytest.mark.slow
def test_body_centred_stream_uses_the_running_torso_median(real_tracks, tmp_path) -> None:
    """A body_centred stream scales each frame by the median torso of the frames so far; with that
    scale the window model gives the same outputs."""
    path = _checkpoint(tmp_path, normalization="body_centred")
    classifier = StreamingClassifier(path, every=1)
    window_network = ActionClassifier(path).network
    streams = PersonStreams(classifier, max_gap_s=0.5, timeout_s=1.0)
    track = real_tracks[0][:60]
    prepared = []
    for index in range(60):
        outputs = streams.add(_frame([(7, track[index])], index))
        converted = classifier.convert(np.nan_to_num(track[max(0, index - 32):index + 1], nan=0.0), "mediapipe_pose_33")
        scale = np.nanmedian(classifier.torso_lengths(converted))
        prepared.append(classifier.prepare(converted[-1:], None, np.array([scale], np.float32)))
        if outputs:
            clip = torch.stack(prepared[-33:], dim=2)[..., None]  # (1, C, T, V, 1)
            with torch.inference_mode():
                expected = torch.softmax(window_network(clip), dim=1).numpy()[0]
            np.testing.assert_allclose(outputs[0].probabilities, expected, rtol=0, atol=1e-5)


def test_in_step_persons_share_rings_updated_in_place(tmp_path) -> None:
    """Persons seen in every frame share one set of ring tensors, advanced in place (no copy of
    the history per frame); a newcomer joins them once, a person missing a frame is split off."""
    streams = PersonStreams(StreamingClassifier(_checkpoint(tmp_path), every=1), max_gap_s=1.0, timeout_s=2.0)
    keypoints = np.random.default_rng(1).uniform(50, 200, (33, 3)).astype(np.float32)
    keypoints[:, 2] = 0.9
    streams.add(_frame([(1, keypoints)], 0))
    streams.add(_frame([(1, keypoints), (2, keypoints)], 1))  # person 2 joins person 1's rings
    (batch,) = streams.state_batches
    addresses = [part.data_ptr() for part in batch.state]
    for index in range(2, 40):
        streams.add(_frame([(1, keypoints), (2, keypoints)], index))
    assert streams.state_batches == [batch] and batch.members == [1, 2] and batch.count == 40
    assert [part.data_ptr() for part in batch.state] == addresses
    streams.add(_frame([(2, keypoints)], 40))  # person 1 missed a frame
    assert sorted((b.count, b.members) for b in streams.state_batches) == [(40, [1]), (41, [2])]
    streams.add(_frame([(2, keypoints), (3, keypoints)], 41))  # a newcomer joins the persons at the clock
    assert sorted((b.count, b.members) for b in streams.state_batches) == [(40, [1]), (42, [2, 3])]
    assert streams.expire(39 * FRAME_NS + int(2.01e9)) == [1]
    assert [b.members for b in streams.state_batches] == [[2, 3]]


def test_person_state_is_reset_on_gaps_and_time_jumps_and_dropped_on_time_out(tmp_path) -> None:
    classifier = StreamingClassifier(_checkpoint(tmp_path), every=1, script=False)
    streams = PersonStreams(classifier, max_gap_s=0.2, timeout_s=1.0)
    keypoints = np.random.default_rng(0).uniform(50, 200, (33, 3)).astype(np.float32)
    keypoints[:, 2] = 0.9
    for index in range(40):
        streams.add(_frame([(1, keypoints)], index))
    assert streams.people[1].frames == 40 and streams.resets == 0
    streams.add(_frame([(1, keypoints)], 40 + 7))  # unseen 8 frames = 0.27 s > max_gap_s
    assert streams.people[1].frames == 1 and streams.resets == 1
    assert streams.add(_frame([(1, keypoints)], 48)) == []  # no prediction before a full window again
    streams.add(_frame([(1, keypoints)], 3))  # time went backwards (a replayed bag)
    assert streams.people[1].frames == 1 and streams.resets == 2
    streams.add(_frame([(2, keypoints)], 4))
    assert streams.expire(3 * FRAME_NS + int(1.01e9)) == [1] and set(streams.people) == {2}
    streams.add(_frame([(1, keypoints), (1, keypoints)], 5))  # a track id twice in a frame: counted once
    assert streams.people[1].frames == 1


def test_a_person_out_of_step_gets_a_separate_call(tmp_path) -> None:
    classifier = StreamingClassifier(_checkpoint(tmp_path), every=4, script=False)
    streams = PersonStreams(classifier, max_gap_s=1.0, timeout_s=2.0)
    keypoints = np.full((33, 3), 100.0, np.float32)
    keypoints[:, 2] = 1.0
    for index in range(8):
        people = [(1, keypoints)] + ([(2, keypoints)] if index != 3 else [])  # person 2 misses frame 3
        before = streams.batches
        streams.add(_frame(people, index))
        assert streams.batches - before == (1 if index <= 3 else 2)


def test_no_label_for_a_person_without_any_detected_joint(tmp_path) -> None:
    streams = PersonStreams(StreamingClassifier(_checkpoint(tmp_path), every=1, script=False), 1.0, 2.0)
    nothing = np.zeros((33, 3), np.float32)  # a track whose every joint has confidence 0
    assert all(streams.add(_frame([(3, nothing)], index)) == [] for index in range(40))
    seen = nothing.copy()
    seen[:, 2] = 1.0
    assert streams.add(_frame([(3, seen)], 40))  # one detected frame in the window: a label again


def test_predict_streams_an_unpadded_checkpoint_like_the_window_model(tmp_path, capsys) -> None:
    from dance_recognition.cli import main
    from dance_recognition.data.synthetic import generate_move

    path = _checkpoint(tmp_path)  # kinetics-normalised: streaming input = window input exactly
    sequence = tmp_path / "wave.npy"
    np.save(sequence, generate_move("wave", 50, np.random.default_rng(0)).astype(np.float32))  # (T, 18, 3) COCO-18
    outputs = {}
    for mode in ("auto", "streaming", "window"):
        assert main(["predict", str(path), str(sequence), "--image-size", "640", "480", "--top", "4",
                     "--mode", mode]) == 0
        outputs[mode] = capsys.readouterr().out
    assert outputs["auto"] == outputs["streaming"] == outputs["window"] and outputs["auto"].count("%") == 4
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.ones((50, 7, 3), np.float32))
    assert main(["predict", str(path), str(wrong), "--image-size", "640", "480", "--mode", "streaming"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "has 7 joints per frame but layout openpose_coco_18 has 18" in error[0], error
    short = tmp_path / "short.npy"
    np.save(short, np.load(sequence)[:20])
    assert main(["predict", str(path), str(short), "--image-size", "640", "480"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "has 20 frames; streaming predicts over the newest 33" in error[0]
    assert "--mode window" in error[0]


def test_a_checkpoint_window_below_the_receptive_field_is_one_clear_line(tmp_path, capsys) -> None:
    from dance_recognition.cli import main

    path = _checkpoint(tmp_path, window=20)  # receptive field 25
    sequence = tmp_path / "still.npy"
    np.save(sequence, np.ones((40, 18, 3), np.float32))
    for mode in ("streaming", "window"):
        assert main(["predict", str(path), str(sequence), "--image-size", "640", "480", "--mode", mode]) == 1
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and "at least 25 frames" in error[0], error


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_stream_gives_the_cpu_outputs(tmp_path) -> None:
    path = _checkpoint(tmp_path, persons=2)
    cpu, gpu = StreamingClassifier(path, every=1), StreamingClassifier(path, device="cuda", every=1)
    frames = torch.randn(40, 2, 3, 18, generator=torch.Generator().manual_seed(3))
    cpu_state, gpu_state = cpu.initial_state(2), gpu.initial_state(2)
    for count, frame in enumerate(frames):
        expected, cpu_state = cpu.step(frame, count, cpu_state)
        actual, gpu_state = gpu.step(frame.cuda(), count, gpu_state)
    assert gpu_state[0].is_cuda
    np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-4)
