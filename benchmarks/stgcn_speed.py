"""ST-GCN CPU latency: this package's formulations against the reference one, same run, same weights.

    .venv/bin/python benchmarks/stgcn_speed.py [--threads 1] [--repeats 30] [--quick]

For each live shape (frames T, persons M, joints V) it prints the median latency of the reference
formulation (benchmarks/reference_stgcn.py), of our eager model, of its BatchNorm-folded form
(`STGCN.fused()`, what nodes and exports use) and of that form frozen with TorchScript, the
ratios (reference time / ours: above 1 = faster) and the largest output difference. Timings are
interleaved round by round so that load on a shared machine hits every candidate alike.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reference_stgcn import ReferenceSTGCN

from dance_recognition.models.stgcn import STGCN, STGCNConfig

SHAPES = [  # (frames, persons, layout)
    (30, 1, "openpose_coco_18"), (64, 1, "openpose_coco_18"), (150, 1, "openpose_coco_18"),
    (300, 1, "openpose_coco_18"), (300, 2, "openpose_coco_18"), (64, 1, "mediapipe_pose_33"),
    (150, 2, "mediapipe_pose_33"),
]


def randomised(model: STGCN) -> STGCN:
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var") or name.startswith("edge_importance"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith("running_mean"):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
    return model.eval()


def measure(candidates: dict, x: torch.Tensor, repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in candidates}
    with torch.inference_mode():
        for fn in candidates.values():
            for _ in range(3):
                fn(x)
        for _ in range(repeats):
            for name, fn in candidates.items():
                start = time.perf_counter()
                fn(x)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="only T=64, M=1, V=18 (the target shape)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", DeprecationWarning)
    shapes = [(64, 1, "openpose_coco_18")] if args.quick else SHAPES
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats} interleaved rounds, ms")
    header = f"{'T':>4} {'M':>2} {'V':>3} | {'reference':>9} {'eager':>7} {'fused':>7} {'frozen':>7} | " \
             f"{'eager x':>7} {'fused x':>7} {'frozen x':>8} | max |diff|"
    print(header)
    print("-" * len(header))
    models: dict[str, tuple] = {}
    for frames, persons, layout in shapes:
        if layout not in models:
            ours = randomised(STGCN(STGCNConfig(num_classes=400, layout=layout)))
            reference = ReferenceSTGCN(ours.A.clone(), 400).eval()
            reference.load_state_dict(ours.state_dict())
            fused = ours.fused()
            models[layout] = (reference, ours, fused, torch.jit.freeze(torch.jit.script(fused)))
        reference, ours, fused, frozen = models[layout]
        x = torch.randn(1, 3, frames, ours.num_joints, persons)
        ms = measure({"reference": reference, "eager": ours, "fused": fused, "frozen": frozen}, x, args.repeats)
        with torch.inference_mode():
            expected = reference(x)
            diff = max(float((m(x) - expected).abs().max()) for m in (ours, fused, frozen))
        print(f"{frames:>4} {persons:>2} {ours.num_joints:>3} | {ms['reference']:>9.1f} {ms['eager']:>7.1f} "
              f"{ms['fused']:>7.1f} {ms['frozen']:>7.1f} | {ms['reference'] / ms['eager']:>6.2f}x "
              f"{ms['reference'] / ms['fused']:>6.2f}x {ms['reference'] / ms['frozen']:>7.2f}x | {diff:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
