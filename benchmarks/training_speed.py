"""Training throughput (samples/s) of the default config, and whether the data loader keeps up.

    .venv/bin/python benchmarks/training_speed.py [--device cpu|cuda] [--batches 6] [--workers N] [--bf16]

In one run, on a generated dataset of the default shape (COCO-18, 1 person) it times, interleaved
round by round: (a) the model's forward + backward + SGD step alone on a batch already in memory,
and (b) the trainer's own epoch loop (``train_epoch``) fed by the real training pipeline
(memory-mapped dataset, preparation, the per-sample augmentations in the DataLoader, the batched
ones on the device) over the same number of batches. The ratio (b)/(a) near 1 means the data
pipeline is not the bottleneck. ``--per-sample`` measures the old way (every augmentation per sample
in the loader) for comparison.
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
from dance_recognition.training.batch_augmentation import BatchAugmenter
from dance_recognition.training.config import TrainConfig, load_config
from dance_recognition.training.samples import TrainingSamples
from dance_recognition.training.trainer import (
    Distributed,
    StepOptions,
    build_model,
    check_dataset,
    loader_workers,
    make_loader,
    make_optimizer,
    train_epoch,
)


def step(model, optimizer, batch, target, bf16: bool = False) -> None:
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(batch.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(batch)
    torch.nn.functional.cross_entropy(logits.float(), target).backward()
    optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batches", type=int, default=6, help="batches per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--workers", default="null", help="loader workers (default null = auto, as training)")
    parser.add_argument("--per-sample", action="store_true", help="augment per sample in the loader (old way)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (precision=bf16)")
    args = parser.parse_args()
    config: TrainConfig = load_config(None, [f"data.num_workers={args.workers}", f"device={args.device}",
                                             f"augment.batched={str(not args.per_sample).lower()}",
                                             f"precision={'bf16' if args.bf16 else 'fp32'}"])
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as folder:
        samples_needed = config.batch_size * args.batches
        root = write_synthetic_dataset(Path(folder) / "d", samples_per_class=samples_needed // 5 + 1,
                                       frames=args.frames, val_fraction=0)
        dataset = SkeletonDataset(root)
        spec, train_indices, _ = check_dataset(dataset, config)
        model = build_model(config, spec, len(dataset.class_names)).to(device).train()
        optimizer = make_optimizer(config, model)
        samples = TrainingSamples(dataset, train_indices[:samples_needed], spec, config.augment, seed=0)
        augmenter = BatchAugmenter(spec.layout, config.augment.random_move, config.augment.mirror, 0)
        options = StepOptions(augmenter=augmenter if config.augment.batched else None,
                              bf16=config.precision == "bf16")
        batch, target = next(iter(make_loader(samples, config, 0, True, Distributed())))
        batch, target = batch.to(device), target.to(device)
        step(model, optimizer, batch, target, options.bf16)  # warm-up
        alone, piped = [], []
        for round_index in range(args.rounds):
            started = time.perf_counter()
            for _ in range(args.batches):
                step(model, optimizer, batch, target, options.bf16)
            if device.type == "cuda":
                torch.cuda.synchronize()
            alone.append(args.batches * config.batch_size / (time.perf_counter() - started))
            augmenter.set_epoch(round_index + 1)
            loader = make_loader(samples, config, round_index + 1, True, Distributed())
            started = time.perf_counter()
            train_epoch(model, loader, optimizer, device, 0, 1, False, options)  # reads the loss: synchronised
            if device.type == "cuda":
                torch.cuda.synchronize()
            piped.append(len(samples) / (time.perf_counter() - started))
    model_only, pipeline = statistics.median(alone), statistics.median(piped)
    print(f"device {device}, default model (10 blocks), batch {config.batch_size}, T={args.frames}, "
          f"V=18, M=1, {torch.get_num_threads()} threads, loader workers {loader_workers(config, device)}, "
          f"augmentation {'per sample' if args.per_sample else 'batched on the device'}, {config.precision}")
    print(f"{'forward+backward+step alone':<34}{model_only:>8.1f} samples/s")
    print(f"{'full training pipeline':<34}{pipeline:>8.1f} samples/s")
    print(f"pipeline / model alone: {pipeline / model_only:.2f} (1.00 = the data loader costs nothing)")


if __name__ == "__main__":
    main()
