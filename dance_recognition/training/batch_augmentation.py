"""The reference's random_move and the layout-aware mirror applied to a whole batch, on the
training device (torch), instead of per sample in the data loader (numpy).

On a GPU the per-sample numpy work starved the model (the pipeline ran at 0.44 of the model alone
with 0 loader workers); as tensor operations on the batch it costs a few kernel launches. On a CPU
it is no slower than the per-sample form. Same distributions as ``augmentation.random_move`` and
``augmentation.mirror``: per sample, rotation, scale and translation drift linearly between key
frames (the first, two random ones, the last), each drawn from the reference's candidates; missing
joints (confidence 0) stay at zero. Randomness comes from a generator seeded by (seed, epoch,
batch), so a run is reproducible whatever the number of loader workers, and a resumed run repeats
the same augmentations.
"""
from __future__ import annotations

import math

import torch

from dance_recognition.skeleton.layouts import get_layout
from dance_recognition.training.augmentation import ANGLES_DEG, SCALES, SHIFTS


def _pick(candidates: tuple[float, ...], shape: tuple[int, ...], generator: torch.Generator,
          device: torch.device) -> torch.Tensor:
    table = torch.tensor(candidates, dtype=torch.float32, device=device)
    return table[torch.randint(0, len(candidates), shape, generator=generator, device=device)]


def _drift(values: torch.Tensor, keys: torch.Tensor, frames: int) -> torch.Tensor:
    """(N, K) values at (N, K) sorted key frames -> (N, T) piecewise-linear in between."""
    t = torch.arange(frames, device=values.device, dtype=torch.float32).expand(len(values), frames)
    segment = (torch.searchsorted(keys.contiguous(), t.contiguous(), right=True) - 1).clamp(0, keys.shape[1] - 2)
    k0, k1 = keys.gather(1, segment), keys.gather(1, segment + 1)
    v0, v1 = values.gather(1, segment), values.gather(1, segment + 1)
    span = k1 - k0
    weight = torch.where(span > 0, (t - k0) / span.clamp_min(1e-9), torch.ones_like(t))
    return v0 + weight * (v1 - v0)


def random_move_batch(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(N, C, T, V, M) -> the same with x, y rotated, scaled and shifted, drifting over time."""
    n, _, frames, _, _ = x.shape
    device = x.device
    inner = torch.randint(0, frames, (n, 2), generator=generator, device=device).sort(dim=1).values
    keys = torch.cat([torch.zeros(n, 1, device=device, dtype=torch.long), inner,
                      torch.full((n, 1), frames - 1, device=device, dtype=torch.long)], 1).float()
    shape = (n, keys.shape[1])
    angle = _drift(_pick(ANGLES_DEG, shape, generator, device) * (math.pi / 180), keys, frames)
    scale = _drift(_pick(SCALES, shape, generator, device), keys, frames)
    shift_x = _drift(_pick(SHIFTS, shape, generator, device), keys, frames)
    shift_y = _drift(_pick(SHIFTS, shape, generator, device), keys, frames)
    cos, sin = (torch.cos(angle) * scale)[:, :, None, None], (torch.sin(angle) * scale)[:, :, None, None]
    px, py = x[:, 0], x[:, 1]  # (N, T, V, M)
    moved_x = cos * px - sin * py + shift_x[:, :, None, None]
    moved_y = sin * px + cos * py + shift_y[:, :, None, None]
    present = x[:, 2] > 0
    out = x.clone()
    out[:, 0] = torch.where(present, moved_x, torch.zeros_like(moved_x))
    out[:, 1] = torch.where(present, moved_y, torch.zeros_like(moved_y))
    return out


def mirror_batch(x: torch.Tensor, layout: str, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Each sample mirrored (x -> -x, left_* and right_* joints swapped) with ``probability``."""
    chosen = torch.rand(len(x), generator=generator, device=x.device) < probability
    permutation = torch.tensor(get_layout(layout).mirror_permutation(), device=x.device)
    mirrored = x.index_select(3, permutation)
    mirrored[:, 0] = -mirrored[:, 0] + 0.0  # no negative zeros
    return torch.where(chosen[:, None, None, None, None], mirrored, x)


class BatchAugmenter:
    """random_move and mirror for the training batches of one run (see the module docstring)."""

    def __init__(self, layout: str, move: bool, mirror_probability: float, seed: int) -> None:
        self.layout, self.move, self.mirror_probability, self.seed = layout, move, mirror_probability, seed
        self.epoch = 0

    @property
    def active(self) -> bool:
        return self.move or self.mirror_probability > 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, batch: torch.Tensor, index: int) -> torch.Tensor:
        generator = torch.Generator(device=batch.device)
        generator.manual_seed((self.seed * 1_000_003 + self.epoch) * 100_003 + index)
        if self.move:
            batch = random_move_batch(batch, generator)
        if self.mirror_probability > 0:
            batch = mirror_batch(batch, self.layout, self.mirror_probability, generator)
        return batch
