"""Training throughput (samples/s) of the default config, and whether the data loader keeps up.

    .venv/bin/python benchmarks/training_speed.py [--device cpu|cuda] [--batches 6] [--workers 0]

In one run, on a generated dataset of the default shape (COCO-18, 1 person) it times, interleaved
round by round: (a) the model's forward + backward + SGD step alone on a batch already in memory,
and (b) the same steps fed by the real training pipeline (memory-mapped dataset, preparation,
augmentation, DataLoader). The ratio (b)/(a) near 1 means the loader is not the bottleneck.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dance_recognition.data.dataset import SkeletonDataset
from dance_recognition.data.synthetic import write_synthetic_dataset
from dance_recognition.models.device import resolve_device
from dance_recognition.training.config import TrainConfig, load_config
from dance_recognition.training.samples import TrainingSamples
from dance_recognition.training.trainer import (
    Distributed,
    build_model,
    check_dataset,
    make_loader,
    make_optimizer,
)


def step(model, optimizer, batch, target) -> None:
    optimizer.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(batch), target).backward()
    optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batches", type=int, default=6, help="batches per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    config: TrainConfig = load_config(None, [f"data.num_workers={args.workers}"])
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as folder:
        samples_needed = config.batch_size * args.batches
        root = write_synthetic_dataset(Path(folder) / "d", samples_per_class=samples_needed // 5 + 1,
                                       frames=args.frames, val_fraction=0)
        dataset = SkeletonDataset(root)
        spec, train_indices, _ = check_dataset(dataset, config)
        model = build_model(config, spec, len(dataset.class_names)).to(device).train()
        optimizer = make_optimizer(config, model)
        samples = TrainingSamples(dataset, train_indices, spec, config.augment, seed=0)
        batch, target = next(iter(make_loader(samples, config, 0, True, Distributed())))
        batch, target = batch.to(device), target.to(device)
        step(model, optimizer, batch, target)  # warm-up
        alone, piped = [], []
        for round_index in range(args.rounds):
            started = time.perf_counter()
            for _ in range(args.batches):
                step(model, optimizer, batch, target)
            if device.type == "cuda":
                torch.cuda.synchronize()
            alone.append(args.batches * config.batch_size / (time.perf_counter() - started))
            loader = iter(make_loader(samples, config, round_index + 1, True, Distributed()))
            started, seen = time.perf_counter(), 0
            for _ in range(args.batches):
                data, labels = next(loader)
                step(model, optimizer, data.to(device), labels.to(device))
                seen += len(labels)
            if device.type == "cuda":
                torch.cuda.synchronize()
            piped.append(seen / (time.perf_counter() - started))
    model_only, pipeline = statistics.median(alone), statistics.median(piped)
    print(f"device {device}, default model (10 blocks), batch {config.batch_size}, T={args.frames}, "
          f"V=18, M=1, {torch.get_num_threads()} threads, loader workers {args.workers}")
    print(f"{'forward+backward+step alone':<34}{model_only:>8.1f} samples/s")
    print(f"{'full training pipeline':<34}{pipeline:>8.1f} samples/s")
    print(f"pipeline / model alone: {pipeline / model_only:.2f} (1.00 = the data loader costs nothing)")


if __name__ == "__main__":
    main()
