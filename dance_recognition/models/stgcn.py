"""ST-GCN (Yan, Xiong, Lin, AAAI 2018, arXiv 1801.07455), checkpoint-compatible with the
public reference (yysijie/st-gcn, mmskeleton ST_GCN_18) and faster on the CPU.

Module and parameter names mirror the reference so its state_dicts load unchanged
(``st_gcn_networks.{i}.gcn.conv``, ``tcn.{0,2,3}``, ``residual.{0,1}``, ``edge_importance.{i}``,
``data_bn``, ``fcn``, buffer ``A``). The arithmetic differs where that is cheaper and exact:

- The reference applies the 1x1 convolution to every joint and then aggregates neighbours with
  ``einsum('nkctv,kvw->nctw')``. Both are linear, so we aggregate first with one broadcast
  ``matmul`` (no einsum, no permute; K*C_in instead of K*C_out channels to aggregate) and
  apply the re-ordered 1x1 weights afterwards; the conv bias becomes a per-joint term.
- ``fused()`` folds every eval-mode BatchNorm into the convolution before or after it and the
  data BatchNorm into a per-(channel, joint) affine, for inference: fewer passes over memory.

Tensor convention everywhere: ``(N, C, T, V, M)`` = batch, channels (x, y, score), frames,
joints, persons. Output: ``(N, num_classes)`` logits, averaged over persons as the reference.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from dance_recognition.skeleton.graph import adjacency
from dance_recognition.skeleton.layouts import get_layout

PAPER_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
PAPER_STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


@dataclass
class STGCNConfig:
    """Everything needed to rebuild the network; stored in our checkpoints."""

    num_classes: int
    layout: str = "openpose_coco_18"
    strategy: str = "spatial"
    in_channels: int = 3
    channels: tuple[int, ...] = PAPER_CHANNELS
    strides: tuple[int, ...] = PAPER_STRIDES
    temporal_kernel: int = 9
    dropout: float = 0.0
    edge_importance: bool = True
    max_hop: int = 1
    dilation: int = 1
    # False: no temporal zero-padding (each block shortens the sequence); the form a streaming
    # model reproduces exactly (models/streaming.py). The reference and old checkpoints pad.
    temporal_padding: bool = True

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        self.strides = tuple(int(s) for s in self.strides)
        if len(self.channels) != len(self.strides) or not self.channels:
            raise ValueError(f"channels {self.channels} and strides {self.strides} must have the same length")
        if self.temporal_kernel % 2 != 1:
            raise ValueError(f"temporal_kernel must be odd, got {self.temporal_kernel}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {self.num_classes}")
        if any(s < 1 for s in self.strides):
            raise ValueError(f"strides must be positive, got {self.strides}")
        get_layout(self.layout)  # unknown layouts fail here, with the list of known ones

    @property
    def total_stride(self) -> int:
        """Frames between two consecutive outputs of the last block."""
        return math.prod(self.strides)

    @property
    def receptive_field(self) -> int:
        """Frames that one output column of the last block depends on: 1 + (k-1) * sum of the
        strides of all earlier blocks (each temporal kernel spans k taps spaced by the product of
        the strides before it)."""
        spacing, field = 1, 1
        for stride in self.strides:
            field += (self.temporal_kernel - 1) * spacing
            spacing *= stride
        return field

    def used_frames(self, window: int) -> int:
        """Frames of a ``window`` that an unpadded network reads: RF + (N-1) * S for its N last-block
        outputs; the newest (window - RF) mod S frames fall off the stride grid."""
        self.check_window(window)
        return window - (window - self.receptive_field) % self.total_stride

    def check_window(self, window: int) -> None:
        """An unpadded network needs at least its receptive field; refuse shorter windows clearly."""
        if not self.temporal_padding and window < self.receptive_field:
            raise ValueError(
                f"a window of {window} frames is shorter than the receptive field of this unpadded network: "
                f"{self.receptive_field} frames (temporal_kernel {self.temporal_kernel}, strides "
                f"{list(self.strides)}); use a window of at least {self.receptive_field} frames, "
                "or a smaller temporal_kernel, fewer blocks or smaller strides")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"], data["strides"] = list(self.channels), list(self.strides)
        return data


class ZeroResidual(nn.Module):
    """The first block has no residual (a scriptable stand-in for the reference's lambda)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x[:, :1, :1, :1])


class GraphConv(nn.Module):
    """Spatial graph convolution: sum_k W_k (X A_k) + bias, with reference parameter layout."""

    def __init__(self, in_channels: int, out_channels: int, num_subsets: int) -> None:
        super().__init__()
        self.num_subsets = num_subsets
        self.out_channels = out_channels
        # weight (K*C_out, C_in, 1, 1) exactly as the reference's ConvTemporalGraphical.conv
        self.conv = nn.Conv2d(in_channels, out_channels * num_subsets, kernel_size=1)

    def merged_weight_and_bias(self, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: N803
        """Weight (C_out, K*C_in, 1, 1) for aggregated input and the (C_out, V) bias term."""
        K, C_out = self.num_subsets, self.out_channels  # noqa: N806
        w = self.conv.weight.view(K, C_out, -1)
        weight = w.permute(1, 0, 2).reshape(C_out, -1, 1, 1)
        bias = torch.zeros(C_out, A.shape[-1], dtype=A.dtype, device=A.device)
        conv_bias = self.conv.bias
        if conv_bias is not None:
            bias = conv_bias.view(K, C_out).t() @ A.sum(dim=1)  # sum_k b_k,o * sum_v A_k[v, w]
        return weight, bias

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:  # noqa: N803
        # x: (N, C_in, T, V); A: (K, V, V)
        N, _C, T, V = x.shape  # noqa: N806
        aggregated = torch.matmul(x.unsqueeze(1), A.unsqueeze(1))  # (N, K, C_in, T, V)
        weight, bias = self.merged_weight_and_bias(A)
        out = F.conv2d(aggregated.reshape(N, -1, T, V), weight)
        return out + bias.view(1, -1, 1, V)


class STGCNBlock(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int, num_subsets: int, temporal_kernel: int, stride: int,
        dropout: float, residual: bool, temporal_padding: bool = True,
    ) -> None:
        super().__init__()
        padding = (temporal_kernel - 1) // 2
        # Unpadded: output j of the temporal conv is centred on input j*stride + (k-1)/2, so the
        # residual starts there too (the padded form centres output j on input j*stride).
        self.crop = 0 if temporal_padding else padding
        self.stride = stride
        if not temporal_padding:
            padding = 0
        self.gcn = GraphConv(in_channels, out_channels, num_subsets)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), (padding, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(float(dropout), inplace=True),
        )
        if not residual:
            self.residual: nn.Module = ZeroResidual()
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:  # noqa: N803
        y = self.tcn(self.gcn(x, A))
        return F.relu(y + self.residual(_residual_input(x, y.shape[2], self.crop, self.stride)))


def _residual_input(x: torch.Tensor, frames_out: int, crop: int, stride: int) -> torch.Tensor:
    """The input frames the residual of ``frames_out`` outputs reads (all of them when padded)."""
    return x[:, :, crop:crop + (frames_out - 1) * stride + 1]


class STGCN(nn.Module):
    """The ST-GCN network of the paper. Input (N, C, T, V, M), output (N, num_classes)."""

    __jit_ignored_attributes__ = ["config"]  # noqa: RUF012 (read by TorchScript as a class attribute)

    def __init__(self, config: STGCNConfig) -> None:
        super().__init__()
        self.config = config
        self.layout_name = config.layout
        layout = get_layout(config.layout)
        A = torch.from_numpy(adjacency(layout, config.strategy, config.max_hop, config.dilation))  # noqa: N806
        self.register_buffer("A", A)
        num_subsets, num_joints = A.shape[0], A.shape[1]
        self.num_joints = num_joints
        self.in_channels = config.in_channels
        self.min_frames = 1 if config.temporal_padding else config.receptive_field
        self.data_bn = nn.BatchNorm1d(config.in_channels * num_joints)
        blocks = []
        in_channels = config.in_channels
        for index, (out_channels, stride) in enumerate(zip(config.channels, config.strides, strict=True)):
            blocks.append(STGCNBlock(
                in_channels, out_channels, num_subsets, config.temporal_kernel, stride,
                dropout=0.0 if index == 0 else config.dropout, residual=index != 0,
                temporal_padding=config.temporal_padding,
            ))
            in_channels = out_channels
        self.st_gcn_networks = nn.ModuleList(blocks)
        # Fixed ones when edge importance is off: same keys, same arithmetic, nothing learnt.
        self.edge_importance = nn.ParameterList(
            [nn.Parameter(torch.ones_like(A), requires_grad=config.edge_importance) for _ in blocks]
        )
        self.fcn = nn.Conv2d(in_channels, config.num_classes, kernel_size=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> pooled features (N, M, C_last)."""
        N, C, T, V, M = x.shape  # noqa: N806
        if self.in_channels != C or self.num_joints != V:
            raise ValueError(
                f"input has {C} channels and {V} joints; this model takes {self.in_channels} channels and "
                f"{self.num_joints} joints ({self.layout_name})"
            )
        if self.min_frames > T:
            raise ValueError(f"a window of {T} frames is shorter than the receptive field of this unpadded "
                             f"network; use a window of at least {self.min_frames} frames")
        x = x.permute(0, 4, 3, 1, 2).reshape(N * M, V * C, T)
        x = self.data_bn(x)
        x = x.view(N, M, V, C, T).permute(0, 1, 3, 4, 2).reshape(N * M, C, T, V)
        for block, importance in zip(self.st_gcn_networks, self.edge_importance, strict=True):
            x = block(x, self.A * importance)
        return x.mean(dim=(2, 3)).view(N, M, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.features(x).mean(dim=1)
        return self.fcn(pooled[:, :, None, None]).flatten(1)

    def fused(self) -> FusedSTGCN:
        """An inference-only copy with every BatchNorm folded in (same outputs in eval mode)."""
        return FusedSTGCN(self)


def _bn_scale_shift(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


@dataclass
class _FusedBlockWeights:
    gcn_weight: torch.Tensor
    gcn_bias: torch.Tensor
    A: torch.Tensor
    tcn_weight: torch.Tensor
    tcn_bias: torch.Tensor
    stride: int
    residual: str
    temporal_padding: bool = True
    residual_weight: torch.Tensor | None = None
    residual_bias: torch.Tensor | None = None


class FusedBlock(nn.Module):
    """One ST-GCN block with BatchNorms folded into its convolutions (eval only)."""

    def __init__(self, w: _FusedBlockWeights) -> None:
        super().__init__()
        self.register_buffer("A", w.A.unsqueeze(1).contiguous())  # (K, 1, V, V)
        self.gcn_weight = nn.Parameter(w.gcn_weight, requires_grad=False)
        self.register_buffer("gcn_bias", w.gcn_bias[None, :, None, :].contiguous())  # (1, C_out, 1, V)
        half = (w.tcn_weight.shape[2] - 1) // 2
        self.crop = 0 if w.temporal_padding else half
        self.stride = w.stride
        self.tcn = nn.Conv2d(w.tcn_weight.shape[1], w.tcn_weight.shape[0], (w.tcn_weight.shape[2], 1),
                             (w.stride, 1), (half if w.temporal_padding else 0, 0))
        self.tcn.weight.data.copy_(w.tcn_weight)
        self.tcn.bias.data.copy_(w.tcn_bias)
        self.residual_mode = {"none": 0, "identity": 1, "conv": 2}[w.residual]
        self.residual = nn.Identity()
        if w.residual == "conv":
            conv = nn.Conv2d(w.residual_weight.shape[1], w.residual_weight.shape[0], 1, (w.stride, 1))
            conv.weight.data.copy_(w.residual_weight)
            conv.bias.data.copy_(w.residual_bias)
            self.residual = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, _C, T, V = x.shape  # noqa: N806
        aggregated = torch.matmul(x.unsqueeze(1), self.A).reshape(N, -1, T, V)
        y = F.relu(F.conv2d(aggregated, self.gcn_weight) + self.gcn_bias)
        y = self.tcn(y)
        if self.residual_mode == 1:
            y = y + _residual_input(x, y.shape[2], self.crop, self.stride)
        elif self.residual_mode == 2:
            y = y + self.residual(_residual_input(x, y.shape[2], self.crop, self.stride))
        return F.relu(y)


class FusedSTGCN(nn.Module):
    """Inference form of an STGCN: same outputs as ``model.eval()`` up to float rounding."""

    __jit_ignored_attributes__ = ["config"]  # noqa: RUF012 (read by TorchScript as a class attribute)

    def __init__(self, model: STGCN) -> None:
        super().__init__()
        self.config = model.config
        self.num_joints = model.num_joints
        self.in_channels = model.in_channels
        self.min_frames = 1 if model.config.temporal_padding else model.config.receptive_field
        with torch.no_grad():
            scale, shift = _bn_scale_shift(model.data_bn)  # channel index = v * C + c
            V, C = model.num_joints, model.in_channels  # noqa: N806
            self.register_buffer("input_scale", scale.view(V, C).t().reshape(1, C, 1, V).clone())
            self.register_buffer("input_shift", shift.view(V, C).t().reshape(1, C, 1, V).clone())
            blocks = []
            for block, importance in zip(model.st_gcn_networks, model.edge_importance, strict=True):
                A = (model.A * importance).detach().clone()  # noqa: N806
                weight, bias = block.gcn.merged_weight_and_bias(A)
                s0, t0 = _bn_scale_shift(block.tcn[0])
                conv, bn = block.tcn[2], block.tcn[3]
                s1, t1 = _bn_scale_shift(bn)
                fused = _FusedBlockWeights(
                    gcn_weight=(weight * s0[:, None, None, None]).clone(),
                    gcn_bias=(bias * s0[:, None] + t0[:, None]).clone(),
                    A=A,
                    tcn_weight=(conv.weight * s1[:, None, None, None]).clone(),
                    tcn_bias=(conv.bias * s1 + t1).clone(),
                    stride=conv.stride[0],
                    temporal_padding=model.config.temporal_padding,
                    residual="none" if isinstance(block.residual, ZeroResidual) else
                    "identity" if isinstance(block.residual, nn.Identity) else "conv",
                )
                if fused.residual == "conv":
                    rconv, rbn = block.residual[0], block.residual[1]
                    rs, rt = _bn_scale_shift(rbn)
                    fused.residual_weight = (rconv.weight * rs[:, None, None, None]).clone()
                    fused.residual_bias = (rconv.bias * rs + rt).clone()
                blocks.append(FusedBlock(fused))
            self.blocks = nn.ModuleList(blocks)
            self.fcn = nn.Conv2d(model.fcn.in_channels, model.fcn.out_channels, 1)
            self.fcn.load_state_dict(model.fcn.state_dict())
        self.eval()
        for parameter in self.parameters():
            parameter.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, T, V, M = x.shape  # noqa: N806
        if self.min_frames > T:
            raise ValueError(f"a window of {T} frames is shorter than the receptive field of this unpadded "
                             f"network; use a window of at least {self.min_frames} frames")
        x = x.permute(0, 4, 1, 2, 3).reshape(N * M, C, T, V) * self.input_scale + self.input_shift
        for block in self.blocks:
            x = block(x)
        pooled = x.mean(dim=(2, 3)).view(N, M, -1).mean(dim=1)
        return self.fcn(pooled[:, :, None, None]).flatten(1)
