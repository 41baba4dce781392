"""A skeleton dataset as torch sees it: prepared, windowed and (for training) augmented samples.

Randomness per sample comes from a generator seeded by (seed, epoch, sample index), so a run is
reproducible whatever the number of loader workers, and a resumed run continues the same
sequence of augmentations.
"""
from __future__ import annotations

import numpy as np
import torch

from dance_recognition.data.dataset import SkeletonDataset
from dance_recognition.skeleton.preparation import InputSpec
from dance_recognition.training.augmentation import augment
from dance_recognition.training.config import AugmentSection


class TrainingSamples(torch.utils.data.Dataset):
    def __init__(self, dataset: SkeletonDataset, indices: np.ndarray, spec: InputSpec,
                 augmentation: AugmentSection | None = None, seed: int = 0) -> None:
        self.dataset, self.indices, self.spec = dataset, np.asarray(indices, dtype=np.int64), spec
        self.augmentation, self.seed, self.epoch = augmentation, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> np.ndarray:
        return self.dataset.labels[self.indices]

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int]:
        index = int(self.indices[position])
        raw, label = self.dataset[index]
        info = self.dataset.samples[index]
        data = self.spec.prepare(raw, self.dataset.layout, self.dataset.header.coordinates, info.image_size)
        if self.augmentation is None:
            data = self.spec.fit_time(data)
        else:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            a = self.augmentation
            # with augment.batched, random_move and mirror run on whole batches on the device instead
            data = augment(data, self.spec.window, self.spec.layout, rng, choose=a.random_choose,
                           shift=a.random_shift, move=a.random_move and not a.batched,
                           mirror_probability=0.0 if a.batched else a.mirror)
        return torch.from_numpy(data), label
