"""Streaming ST-GCN against recomputing the window: cost per frame, exactness, padded deviation, accuracy.

    .venv/bin/python benchmarks/streaming_speed.py [--threads 1] [--frames 200] [--sections cost,accuracy]

Everything is measured in the same run, on one thread unless told otherwise:

1. cost (CPU time of this process, so that other load on a shared machine inflates it less): the paper
   network (10 blocks, openpose-18, 400 classes), one person. Window = the frozen
   TorchScript of the BatchNorm-folded model (what ActionClassifier runs) recomputed on T=64 and
   T=300 frames; streaming = the frozen TorchScript step, averaged over consecutive frames, with a
   prediction every frame (strides turned into dilations; temporal kernels by Karatsuba in time, as
   run by default, and by direct 9-tap products) and every 4th frame (strides kept); the slowest
   frame of the cycle too (Karatsuba's work differs from frame to frame). Then 1, 2 and 3 persons
   in one batched step, a label every frame.
2. exactness: 500 consecutive frames of a REAL sequence (MediaPipe on ../shared/data/videos/ta_chi.mp4,
   300 frames, played forwards then backwards so the motion stays continuous), converted to COCO-18,
   through the paper network without temporal padding (random weights, non-trivial BatchNorms):
   largest |streaming - window| logit difference at every frame after warm-up.
3. padded deviation: the packaged demo model (trained with padding) streamed against its window
   form on the same real frames and on generated moves: largest probability difference, top-1 agreement.
4. accuracy parity: the demo architecture trained by `train` on generated moves with and without
   temporal padding (short training), validation top-1 of each.
5. action_node's recognition work per frame (person windows + window recompute every 4th frame,
   or person streams), in-process, CPU time, 1 and 3 persons, demo architecture and paper network.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dance_recognition.models.karatsuba_in_time import karatsuba_schedule
from dance_recognition.models.stgcn import STGCN, STGCNConfig
from dance_recognition.models.streaming import FAST_TEMPORAL_MIN_CHANNELS, StreamingSTGCN, script_streaming

REPO = Path(__file__).resolve().parents[1]


def randomised(model: STGCN, seed: int = 0) -> STGCN:
    """Non-trivial BatchNorm statistics, biases and edge importances: every parameter matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var") or name.startswith("edge_importance"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
    return model.eval()


class WindowRecompute:
    """The frozen TorchScript of the BatchNorm-folded window model (what ActionClassifier runs)."""

    def __init__(self, model: STGCN, frames: int) -> None:
        self.network = torch.jit.freeze(torch.jit.script(model.fused()))
        self.x = torch.randn(1, 3, frames, 18, 1)
        with torch.inference_mode():
            for _ in range(3):
                self.network(self.x)

    def sample(self, repeats: int) -> float:
        """ms of one recomputation, median of ``repeats`` (CPU time of this process)."""
        times = []
        with torch.inference_mode():
            for _ in range(repeats):
                start = time.process_time()
                self.network(self.x)
                times.append(time.process_time() - start)
        return statistics.median(times) * 1e3


class StreamSteps:
    """The frozen TorchScript step, advanced over consecutive frames (state kept between samples)."""

    cycle = 36  # lcm of the Karatsuba block (9 columns) and the largest dilation (4)

    def __init__(self, model: STGCN, every: int, persons: int = 1, fast_temporal: bool | None = None) -> None:
        stream = StreamingSTGCN(model, model.config.receptive_field, every=every, fast_temporal=fast_temporal)
        self.step = script_streaming(stream)
        self.x = torch.randn(persons, 3, 18)
        self.state, self.count = stream.initial_state(persons), 0
        self.by_phase: dict[int, list[float]] = {}
        self.sample(3 * self.cycle)  # TorchScript optimises on the first calls

    def sample(self, frames: int) -> float:
        """Mean ms per frame (all persons together) over the next ``frames`` frames."""
        with torch.inference_mode():
            start = time.process_time()
            for _ in range(frames):
                began = time.perf_counter()
                _, self.state = self.step.step(self.x, self.count, self.state)
                self.by_phase.setdefault(self.count % self.cycle, []).append(time.perf_counter() - began)
                self.count += 1
        return (time.process_time() - start) / frames * 1e3

    def slowest_frame(self) -> float:
        """ms of the slowest frame of the schedule cycle (median over its repeats)."""
        return max(statistics.median(times) for times in self.by_phase.values()) * 1e3


def stream_flops(model: STGCN) -> float:
    """FLOPs of one every-frame step: one column of each block (graph aggregation and 1x1
    weights, temporal kernel, residual convolution) and the classifier."""
    config, joints, subsets = model.config, model.num_joints, model.A.shape[0]
    flops, c_in = 0.0, config.in_channels
    for index, (c_out, stride) in enumerate(zip(config.channels, config.strides, strict=True)):
        flops += subsets * joints * joints * c_in + joints * subsets * c_in * c_out  # graph convolution
        flops += joints * config.temporal_kernel * c_out * c_out  # temporal kernel
        flops += joints * c_in * c_out if index > 0 and (c_in != c_out or stride != 1) else 0  # residual
        c_in = c_out
    return 2 * (flops + c_in * config.num_classes)


def karatsuba_flops(model: STGCN) -> float:
    """FLOPs of an every-frame step as run by default: the temporal kernels of blocks with at least
    FAST_TEMPORAL_MIN_CHANNELS channels cost 4 products of C x C per frame instead of 9."""
    config, joints = model.config, model.num_joints
    products = karatsuba_schedule(config.temporal_kernel).products_per_frame
    saved = sum(joints * (config.temporal_kernel - products) * c * c for c in config.channels
                if c >= FAST_TEMPORAL_MIN_CHANNELS)
    return stream_flops(model) - 2 * saved


def window_flops(model: STGCN, frames: int) -> float:
    """FLOPs of the padded window model on ``frames`` frames (same terms, per column computed)."""
    config, joints, subsets = model.config, model.num_joints, model.A.shape[0]
    flops, c_in, columns = 0.0, config.in_channels, frames
    for index, (c_out, stride) in enumerate(zip(config.channels, config.strides, strict=True)):
        flops += columns * (subsets * joints * joints * c_in + joints * subsets * c_in * c_out)
        columns = -(-columns // stride)
        flops += columns * joints * config.temporal_kernel * c_out * c_out
        flops += columns * joints * c_in * c_out if index > 0 and (c_in != c_out or stride != 1) else 0
        c_in = c_out
    return 2 * (flops + c_in * config.num_classes)


def products_floor(model: STGCN, frames: int) -> float:
    """ms of just the matrix products one every-frame step does with the direct temporal kernel
    (same shapes, 18 rows each, no other work, weights hot in cache): the best that form could do."""
    stream = StreamingSTGCN(model, model.config.receptive_field, every=1, fast_temporal=False)
    joints = stream.num_joints
    products = []
    for block in stream.blocks:
        products.append((torch.randn(block.A_rows.shape[0], joints), torch.randn(joints, block.in_channels)))
        products.append((torch.randn(joints, block.gcn_weight.shape[0]), block.gcn_weight))
        products.append((torch.randn(joints, block.tcn_weight.shape[0]), block.tcn_weight))
        if block.residual_mode == 2:
            products.append((torch.randn(joints, block.in_channels), block.residual_weight))
    runs = []
    with torch.inference_mode():
        for _ in range(3):
            start = time.process_time()
            for _frame in range(frames):
                for left, right in products:
                    torch.mm(left, right)
            runs.append((time.process_time() - start) / frames)
    return statistics.median(runs) * 1e3


def cost_section(frames: int, repeats: int) -> None:
    """Window and streaming measured in alternating rounds: this machine's speed drifts by 10-20%
    over minutes (other tenants), so each ratio is taken within a round, then the median."""
    print("== 1. cost per frame, paper network (openpose-18, 400 classes), "
          f"{torch.get_num_threads()} thread(s), {repeats} alternating rounds")
    padded = randomised(STGCN(STGCNConfig(num_classes=400)))
    unpadded = randomised(STGCN(STGCNConfig(num_classes=400, temporal_padding=False)))
    windows = {"T=64": WindowRecompute(padded, 64), "T=300": WindowRecompute(padded, 300),
               "T=300 unpadded": WindowRecompute(unpadded, 300)}
    streams = {
        "a label every frame (strides become dilations), Karatsuba in time (the default)": StreamSteps(unpadded, 1),
        "a label every frame, direct 9-tap products (before)": StreamSteps(unpadded, 1, fast_temporal=False),
        "a label every 4th frame (strides kept)": StreamSteps(unpadded, 4),
    }
    window_ms = {name: [] for name in windows}
    stream_ms = {name: [] for name in streams}
    ratios = {(name, window): [] for name in streams for window in ("T=64", "T=300")}
    for _ in tqdm(range(repeats), desc="alternating window / streaming rounds", leave=False):
        measured = {name: runner.sample(3 if name == "T=64" else 1) for name, runner in windows.items()}
        for name, value in measured.items():
            window_ms[name].append(value)
        for name, runner in streams.items():
            cost = runner.sample(frames)
            stream_ms[name].append(cost)
            for window in ("T=64", "T=300"):
                ratios[name, window].append(measured[window] / cost)
    for name, values in window_ms.items():
        print(f"window recompute {name}: {statistics.median(values):8.2f} ms per prediction")
    for name, runner in streams.items():
        print(f"streaming, {name}: {statistics.median(stream_ms[name]):6.3f} ms per frame (slowest frame "
              f"{runner.slowest_frame():5.2f} ms)  ->  {statistics.median(ratios[name, 'T=64']):5.1f}x below "
              f"recomputing T=64 every frame, {statistics.median(ratios[name, 'T=300']):6.1f}x below T=300 "
              f"(rounds: {min(ratios[name, 'T=64']):.1f}-{max(ratios[name, 'T=64']):.1f}x at T=64)")
    floor, step_flops, t64_flops = products_floor(unpadded, frames), stream_flops(unpadded), window_flops(padded, 64)
    fewer = karatsuba_flops(unpadded)
    print(f"   the direct form's matrix products alone take {floor:.3f} ms: {step_flops / 1e6:.0f} MFLOP per frame "
          f"against {t64_flops / 1e6:.0f} for a T=64 window, and 18-row products run slower per FLOP than the "
          f"window's; Karatsuba in time does {fewer / 1e6:.0f} MFLOP")
    print("persons in one batched step (a label every frame):")
    persons = {count: StreamSteps(unpadded, 1, persons=count) for count in (1, 2, 3)}
    costs = {count: [] for count in persons}
    for _ in range(3):
        for count, runner in persons.items():
            costs[count].append(runner.sample(frames))
    single = statistics.median(costs[1])
    for count, values in costs.items():
        cost = statistics.median(values)
        print(f"  {count} person(s): {cost:6.3f} ms per frame = {cost / count:6.3f} ms per person "
              f"({cost / single:4.2f}x one person)")


def real_sequence(frames: int = 500) -> tuple[np.ndarray, tuple[int, int]] | None:
    """(frames, 18, 3) COCO-18 pixel keypoints from MediaPipe on the real tai chi clip."""
    from dance_recognition.media.video import VideoReader
    from dance_recognition.pose import create_estimator
    from dance_recognition.skeleton.conversion import convert_keypoints

    video = REPO.parent / "shared" / "data" / "videos" / "ta_chi.mp4"
    if not video.is_file():
        print(f"   {video} is absent: no real sequence, exactness on real data skipped")
        return None
    keypoints = []
    with VideoReader(video) as reader, create_estimator("mediapipe") as estimator:
        for index, image in enumerate(tqdm(reader, desc="MediaPipe on ta_chi.mp4", total=300, leave=False)):
            size = (image.shape[1], image.shape[0])
            people = estimator.estimate(image, stamp_ns=index).people
            points = people[0].keypoints if people else np.zeros((33, 3), np.float32)
            keypoints.append(np.nan_to_num(convert_keypoints(points, "mediapipe_pose_33", "openpose_coco_18")))
    forwards = np.stack(keypoints)
    sequence = np.concatenate([forwards, forwards[::-1]])[:frames]
    print(f"   real sequence: {len(forwards)} frames of ta_chi.mp4 (person found in "
          f"{int((forwards[..., 2].sum(-1) > 0).sum())}), played forwards then backwards: {len(sequence)} frames")
    return sequence, size


def exactness_section(sequence: np.ndarray, size: tuple[int, int]) -> None:
    from dance_recognition.skeleton.normalization import kinetics

    print("== 2. exactness against the unpadded window model, paper network, real sequence")
    model = randomised(STGCN(STGCNConfig(num_classes=400, temporal_padding=False)), seed=1)
    x = torch.from_numpy(kinetics(sequence[None], size))[None]  # (1, C, T, V, 1)
    frames = x.shape[2]
    for every in (1, 4):
        stream = StreamingSTGCN(model, 157, every=every)
        window = stream.plan.window
        produced = {}
        with torch.inference_mode():
            state = stream.initial_state(1)
            for t in tqdm(range(frames), desc=f"streaming every {every}", leave=False):
                logits, state = stream.step(x[:, :, t, :, 0], t, state)
                if logits is not None and t >= window - 1:
                    produced[t] = logits[0]
            worst, scale = 0.0, 0.0
            ends = sorted(produced)
            for chunk in tqdm(range(0, len(ends), 16), desc="window model", leave=False):
                batch = ends[chunk:chunk + 16]
                expected = model(torch.cat([x[:, :, t - window + 1:t + 1] for t in batch]))
                actual = torch.stack([produced[t] for t in batch])
                worst = max(worst, float((actual - expected).abs().max()))
                scale = max(scale, float(expected.abs().max()))
        print(f"   every {every}: window {window} frames, {len(ends)} predictions (frames {ends[0]}..{ends[-1]}), "
              f"max |logit difference| {worst:.2e} (largest logit {scale:.1f})")


def padded_section(sequence: np.ndarray | None, size: tuple[int, int] | None) -> None:
    from dance_recognition.data.synthetic import MOVES, generate_move
    from dance_recognition.live.person_streams import PersonStreams
    from dance_recognition.models.classifier import ActionClassifier
    from dance_recognition.models.streaming_classifier import StreamingClassifier
    from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18
    from dance_recognition.skeleton.pose import PersonPose, PoseFrame

    demo = REPO / "dance_recognition" / "resources" / "demo_moves.pt"
    window_model = ActionClassifier(demo)
    stream_model = StreamingClassifier(demo, every=1)
    print(f"== 3. padded checkpoint streamed: {demo.name} (padded: {not stream_model.exact}), window "
          f"{window_model.spec.window} frames vs stream {stream_model.plan.window} frames")
    rng = np.random.default_rng(0)
    inputs = {"generated moves": np.concatenate([generate_move(m, 120, rng) for m in MOVES]).astype(np.float32)}
    if sequence is not None:
        inputs["real tai chi"] = sequence
    for name, frames in inputs.items():
        streams = PersonStreams(stream_model, max_gap_s=3600, timeout_s=3600)
        differences, agree = [], 0
        for index, keypoints in enumerate(tqdm(frames, desc=name, leave=False)):
            frame = PoseFrame(OPENPOSE_COCO_18.name, OPENPOSE_COCO_18.joint_names, *(size or (640, 480)),
                              [PersonPose(keypoints=keypoints, track_id=0)], stamp_ns=index * 33_333_333)
            for prediction in streams.add(frame):
                recent = frames[max(0, index + 1 - window_model.spec.window):index + 1][None]
                expected = window_model.classify(recent, OPENPOSE_COCO_18.name, size or (640, 480))
                differences.append(np.abs(prediction.probabilities - expected).max())
                agree += int(prediction.probabilities.argmax() == expected.argmax())
        print(f"   {name}: {len(differences)} frames, max |probability difference| {max(differences):.3f}, "
              f"median {np.median(differences):.3f}, same top-1 {agree / len(differences):.1%}")


def accuracy_section(epochs: int) -> None:
    from dance_recognition.data.synthetic import write_synthetic_dataset
    from dance_recognition.training.config import load_config
    from dance_recognition.training.trainer import train

    settings = [f"epochs={epochs}", "batch_size=16", "seed=0", "model.channels=[32,32,64,64,128]",
                "model.strides=[1,1,2,1,2]", "optim.lr=0.05", "model.dropout=0.1", "device=cpu"]
    variants = {  # name: extra settings
        "padded, temporal_kernel 9 (the demo model's form)": ["model.temporal_padding=true"],
        "unpadded, temporal_kernel 9 (RF 57: 2 pooled columns of a 64-frame window)": ["model.temporal_padding=false"],
        "unpadded, temporal_kernel 5 (RF 29: 9 pooled columns)": ["model.temporal_padding=false",
                                                                  "model.temporal_kernel=5"],
    }
    print(f"== 4. accuracy parity on generated moves (64 frames, 40 per class, demo channels/strides, {epochs} epochs)")
    with tempfile.TemporaryDirectory() as folder:
        dataset = write_synthetic_dataset(Path(folder) / "moves", samples_per_class=40, frames=64, seed=0)
        for index, (name, extra) in enumerate(variants.items()):
            result = train(dataset, Path(folder) / f"run-{index}", load_config(None, [*settings, *extra]),
                           show_progress=False)
            print(f"   {name}: val top-1 {result.report['top1']:.1%}", flush=True)


def node_work_section(frames: int) -> None:
    """What action_node does per Skeleton frame, in-process (no ROS; CPU time, robust to load):
    window mode = append to the person windows + recompute each ready window (every 4th frame);
    streaming = PersonStreams.add (prepare the frame, one batched step). Stride 4, same checkpoint."""
    from dance_recognition.data.synthetic import MOVES, generate_move
    from dance_recognition.live.person_streams import PersonStreams
    from dance_recognition.live.person_windows import PersonWindows
    from dance_recognition.models.checkpoint import ModelCard, save_checkpoint
    from dance_recognition.models.classifier import ActionClassifier
    from dance_recognition.models.streaming_classifier import StreamingClassifier
    from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18
    from dance_recognition.skeleton.pose import PersonPose, PoseFrame

    print("== 5. action_node's work per frame at stride 4, in-process (CPU time), window vs streaming")
    architectures = {
        "demo architecture, 64-frame window": ((32, 32, 64, 64, 128), (1, 1, 2, 1, 2), 64),
        "paper network, 157-frame window": ((64, 64, 64, 64, 128, 128, 128, 256, 256, 256),
                                            (1, 1, 1, 1, 2, 1, 1, 2, 1, 1), 157),
    }
    rng = np.random.default_rng(0)
    moves = [generate_move(move, 200 + frames, rng).astype(np.float32) for move in list(MOVES)[:3]]
    with tempfile.TemporaryDirectory() as folder:
        for name, (channels, strides, window) in architectures.items():
            config = STGCNConfig(num_classes=5, channels=channels, strides=strides, temporal_padding=False)
            path = save_checkpoint(Path(folder) / "m.pt", STGCN(config).eval(),
                                   ModelCard(config, list("abcde"), "body_centred", window, 1))
            window_model, stream_model = ActionClassifier(path), StreamingClassifier(path, every=4)
            for people in (1, 3):
                poses = [PoseFrame(OPENPOSE_COCO_18.name, OPENPOSE_COCO_18.joint_names, 640, 480,
                                   [PersonPose(keypoints=moves[p][i], track_id=p) for p in range(people)],
                                   stamp_ns=i * 33_333_333) for i in range(200 + frames)]
                windows = PersonWindows(window_model.spec.window, window_model.spec.window, 4, 2.0)
                streams = PersonStreams(stream_model, 0.5, 2.0)

                def window_frame(pose: PoseFrame, windows: PersonWindows = windows,
                                 model: ActionClassifier = window_model) -> None:
                    windows.add(pose)
                    for ready in windows.ready():
                        model.classify(ready.sequence[None], OPENPOSE_COCO_18.name, (640, 480))

                cost = {}
                for mode, work in (("window", window_frame), ("streaming", streams.add)):
                    for pose in poses[:200]:  # windows full, TorchScript optimised
                        work(pose)
                    start = time.process_time()
                    for pose in poses[200:]:
                        work(pose)
                    cost[mode] = (time.process_time() - start) / frames * 1e3
                print(f"   {name}, {people} person(s): window {cost['window']:.2f} ms, streaming "
                      f"{cost['streaming']:.2f} ms per frame ({cost['window'] / cost['streaming']:.1f}x); at 30 fps "
                      f"{cost['window'] * 0.03:.2f} vs {cost['streaming'] * 0.03:.2f} of a core", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--frames", type=int, default=216, help="streamed frames per cost measurement")
    parser.add_argument("--repeats", type=int, default=9, help="alternating window / streaming rounds")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of the accuracy comparison")
    parser.add_argument("--sections", default="cost,exactness,padded,accuracy,node",
                        help="comma-separated subset of cost, exactness, padded, accuracy, node")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    torch.set_num_threads(args.threads)
    if "cost" in sections:
        cost_section(args.frames, args.repeats)
    found = real_sequence() if {"exactness", "padded"} & sections else None
    if found is not None and "exactness" in sections:
        exactness_section(*found)
    if "padded" in sections:
        padded_section(*(found or (None, None)))
    if "accuracy" in sections:
        accuracy_section(args.epochs)
    if "node" in sections:
        node_work_section(args.frames)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
