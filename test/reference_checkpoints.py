"""Checkpoints in the published reference format, made in the tests (no download needed)."""
from __future__ import annotations

from pathlib import Path

import torch

from dance_recognition.models.stgcn import STGCN, STGCNConfig

# the published networks' ten blocks and strides, with fewer channels (fast on a CPU)
SMALL_CHANNELS = [8, 8, 8, 8, 16, 16, 16, 16, 16, 16]


def write_reference_checkpoint(path: Path, classes: int = 7, seed: int = 3, layout: str = "openpose_coco_18"
                               ) -> dict[str, torch.Tensor]:
    """A bare state_dict as the published st_gcn.*.pt (DataParallel ``module.`` prefix, no
    num_batches_tracked) of a small network; every tensor moved off its fresh initialisation
    (so arriving unchanged is visible), BatchNorm statistics included. Returns it unprefixed."""
    torch.manual_seed(seed)
    model = STGCN(STGCNConfig(num_classes=classes, layout=layout, channels=tuple(SMALL_CHANNELS)))
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and name != "A":
                tensor.add_(0.05 * torch.randn_like(tensor))
                if "running_var" in name:
                    tensor.abs_()
    state = {f"module.{k}": v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, path)
    return {k[len("module."):]: v for k, v in state.items()}
