"""Streaming (continual) ST-GCN: one frame in, each block's newest column out, logits every k-th frame.

Idea (after CoST-GCN, Hedegaard et al., arXiv 2203.11009): without temporal zero-padding every
output column of a block depends only on the last ``(k-1)*d+1`` columns of its input, so a model
that keeps those columns per block computes each new column once instead of recomputing the
whole window for every prediction. The weights are the window model's (``STGCN.fused()``).

What it reproduces, exactly (float32 rounding): the UNPADDED window model (``temporal_padding=
False``) on the newest ``window`` frames, where ``window = config.used_frames(w)`` is the part of
a ``w``-frame window that network reads (receptive field RF plus a multiple of the total stride S).
The window model pools over its N = (window - RF) / S + 1 last-block columns, which end at the
newest frame and every S frames before it; the stream keeps those pooled columns in a buffer.

Strides. A stride-2 block of the window model computes every 2nd column. A stream that emits
every ``every`` frames needs block i's columns only every g_i = gcd(P_i, every) frames (P_i: the
product of the strides up to block i); its temporal kernel then reads taps P_{i-1}/g_{i-1} input
columns apart (a dilation). ``every`` = 1: every block every frame (strides become dilations);
``every`` a multiple of S: the window model's own strides, the cheapest.

A padded checkpoint (the reference's, older ones of this package) runs with the same arithmetic:
the stream then equals the unpadded network with the padded weights, not the padded window model
(its deviation is measured in benchmarks/streaming_speed.py and stated in README).

State is explicit (a list of tensors per batch of persons), so persons can be created, reset and
dropped outside the module, and ``step`` is scriptable with TorchScript.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.models.stgcn import STGCN, FusedBlock, FusedSTGCN, STGCNConfig


class StreamingWindowError(DanceRecognitionError, ValueError):
    """A stream that cannot run as asked (a window shorter than the receptive field, ...)."""


@dataclass(frozen=True)
class StreamPlan:
    """The window and schedule arithmetic of one streaming configuration (see module docstring)."""

    window: int  # frames one prediction covers (RF + (pool_taps - 1) * total_stride)
    every: int  # frames between two predictions
    receptive_field: int
    total_stride: int
    input_rates: tuple[int, ...]  # block i gets a new input column every input_rates[i] frames
    output_rates: tuple[int, ...]  # ... and produces one every output_rates[i] frames
    dilations: tuple[int, ...]  # spacing of the temporal taps in block i's input columns
    pool_taps: int  # last-block columns averaged per prediction
    pool_spacing: int  # their spacing in stored last-block columns

    @property
    def pool_length(self) -> int:
        return (self.pool_taps - 1) * self.pool_spacing + 1

    def describe(self, fps: float | None = None) -> str:
        seconds = f" ({self.window / fps:.2f} s at {fps:g} fps)" if fps else ""
        return (f"each prediction covers the newest {self.window} frames{seconds}: receptive field "
                f"{self.receptive_field} + {self.pool_taps - 1} x stride {self.total_stride}; one every "
                f"{self.every} frame(s)")


def plan_stream(config: STGCNConfig, window: int, every: int = 1) -> StreamPlan:
    """Schedule for a stream of ``window`` frames (rounded down onto the stride grid; at least the
    receptive field, else a ValueError naming the minimum) emitting every ``every`` frames."""
    if every < 1:
        raise StreamingWindowError(f"every must be at least 1 frame, got {every}")
    field, stride = config.receptive_field, config.total_stride
    if window < field:
        raise StreamingWindowError(
            f"a streaming window of {window} frames is shorter than the network's receptive field of {field} "
            f"frames (temporal_kernel {config.temporal_kernel}, strides {list(config.strides)}); use at least "
            f"{field} frames")
    window = window - (window - field) % stride
    input_rates, output_rates, dilations = [], [], []
    product, rate = 1, 1  # P_{i-1}, g_{i-1}
    for block_stride in config.strides:
        input_rates.append(rate)
        dilations.append(product // rate)
        product *= block_stride
        rate = math.gcd(product, every)
        output_rates.append(rate)
    return StreamPlan(window=window, every=every, receptive_field=field, total_stride=stride,
                      input_rates=tuple(input_rates), output_rates=tuple(output_rates), dilations=tuple(dilations),
                      pool_taps=(window - field) // stride + 1, pool_spacing=stride // rate)


class StreamingBlock(nn.Module):
    """One fused ST-GCN block computing one column at a time from its buffered inputs.

    Columns are stored joints-major, channels last, (B, V, frames, C): every product is then one
    2-D matrix product with B*V rows and pre-transposed weights (a batched product with V=18
    columns ran at a fifth of the speed)."""

    def __init__(self, block: FusedBlock, input_rate: int, output_rate: int, dilation: int) -> None:
        super().__init__()
        with torch.no_grad():
            weight = block.tcn.weight  # (C_out, C_out, k, 1)
            self.kernel = int(weight.shape[2])
            self.out_channels = int(weight.shape[0])
            subsets, joints = int(block.A.shape[0]), int(block.A.shape[-1])
            self.in_channels = int(block.gcn_weight.shape[1]) // subsets
            # row (w, k) of A_rows = A_k[:, w]: one product aggregates every subset, already in the
            # (joint, subset, channel) order of the merged graph-convolution weight
            a_rows = block.A.squeeze(1).permute(2, 0, 1).reshape(joints * subsets, joints)
            self.register_buffer("A_rows", a_rows.contiguous())
            self.register_buffer("gcn_weight", block.gcn_weight.flatten(1).t().contiguous())  # (K*C_in, C_out)
            self.register_buffer("gcn_bias", block.gcn_bias[0, :, 0, :].t().contiguous())  # (V, C_out)
            # row j*C + c of the temporal weight multiplies tap j (oldest first) of channel c
            self.register_buffer("tcn_weight", weight.squeeze(3).permute(2, 1, 0).reshape(-1, self.out_channels)
                                 .contiguous())
            self.register_buffer("tcn_bias", block.tcn.bias.clone())
            self.residual_mode = block.residual_mode
            if block.residual_mode == 2:
                self.register_buffer("residual_weight", block.residual.weight.flatten(1).t().contiguous())
                self.register_buffer("residual_bias", block.residual.bias.clone())
            else:
                self.register_buffer("residual_weight", torch.zeros(0))
                self.register_buffer("residual_bias", torch.zeros(0))
        self.input_rate, self.output_rate, self.dilation = input_rate, output_rate, dilation
        self.history = (self.kernel - 1) * dilation + 1  # gcn columns the temporal kernel spans
        # the residual adds the input column at the kernel's centre
        self.residual_history = (self.kernel - 1) // 2 * dilation + 1 if self.residual_mode != 0 else 1

    def initial_state(self, batch: int, joints: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gcn = like.new_zeros(batch, joints, self.history, self.out_channels)
        residual_channels = self.in_channels if self.residual_mode != 0 else 1
        return gcn, like.new_zeros(batch, joints, self.residual_history, residual_channels)

    def ingest(self, column: torch.Tensor, gcn_buffer: torch.Tensor, residual_buffer: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """A new input column (B, V, C_in): its graph convolution joins the buffers."""
        batch, joints = column.shape[0], column.shape[1]
        aggregated = torch.matmul(self.A_rows, column).reshape(batch * joints, -1)  # (B*V, K*C_in)
        y = torch.relu(torch.mm(aggregated, self.gcn_weight).view(batch, joints, -1) + self.gcn_bias)
        gcn_buffer = torch.cat([gcn_buffer[:, :, 1:], y.unsqueeze(2)], dim=2)
        if self.residual_mode != 0:
            residual_buffer = torch.cat([residual_buffer[:, :, 1:], column.unsqueeze(2)], dim=2)
        return gcn_buffer, residual_buffer

    def emit(self, gcn_buffer: torch.Tensor, residual_buffer: torch.Tensor) -> torch.Tensor:
        """The block's output column (B, V, C_out) for the newest buffered input."""
        batch, joints = gcn_buffer.shape[0], gcn_buffer.shape[1]
        taps = gcn_buffer[:, :, :: self.dilation].reshape(batch * joints, -1)  # (B*V, k*C_out)
        y = torch.addmm(self.tcn_bias, taps, self.tcn_weight)
        if self.residual_mode == 1:
            y = y + residual_buffer[:, :, 0].reshape(batch * joints, -1)
        elif self.residual_mode == 2:
            y = y + torch.addmm(self.residual_bias, residual_buffer[:, :, 0].reshape(batch * joints, -1),
                                self.residual_weight)
        return torch.relu(y).view(batch, joints, -1)


class StreamingSTGCN(nn.Module):
    """The continual form of a (fused) ST-GCN. ``step`` takes one prepared frame per person."""

    __jit_ignored_attributes__ = ["plan"]  # noqa: RUF012 (read by TorchScript as a class attribute)

    def __init__(self, model: STGCN | FusedSTGCN, window: int, every: int = 1, persons: int = 1) -> None:
        super().__init__()
        fused = model.eval().fused() if isinstance(model, STGCN) else model
        self.plan = plan_stream(fused.config, window, every)
        self.every, self.persons = self.plan.every, max(int(persons), 1)
        self.num_joints, self.in_channels = fused.num_joints, fused.in_channels
        self.pool_spacing = self.plan.pool_spacing
        with torch.no_grad():
            self.register_buffer("input_scale", fused.input_scale[0, :, 0, :].t().contiguous())  # (V, C)
            self.register_buffer("input_shift", fused.input_shift[0, :, 0, :].t().contiguous())
            self.blocks = nn.ModuleList([
                StreamingBlock(block, rate_in, rate_out, dilation) for block, rate_in, rate_out, dilation in zip(
                    fused.blocks, self.plan.input_rates, self.plan.output_rates, self.plan.dilations, strict=True)
            ])
            self.register_buffer("fcn_weight", fused.fcn.weight.flatten(1).clone())  # (classes, C_last)
            self.register_buffer("fcn_bias", fused.fcn.bias.clone())
            self.register_buffer("absent_features", torch.zeros(self.blocks[-1].out_channels))
            if self.persons > 1:  # the zero-padded persons of the window model: constant features
                self.absent_features.copy_(self._features_of_absent_person())
        self.eval()

    def _features_of_absent_person(self) -> torch.Tensor:
        """Pooled features of an all-zero person (what the window model averages in for each
        missing person); constant in time, computed once by streaming zeros through the network."""
        state = self.initial_state(1)
        zeros = self.input_scale.new_zeros(1, self.in_channels, self.num_joints)
        pooled = torch.zeros(0)
        for frame in range(self.plan.window + self.every):
            _logits, state = self.step(zeros, frame % self.every, state)
            pooled = state[-1][0, :, -1]
        return pooled

    def initial_state(self, batch: int) -> list[torch.Tensor]:
        """Zeroed buffers for ``batch`` persons: [gcn_0, residual_0, ..., pooled]."""
        state: list[torch.Tensor] = []
        for block in self.blocks:
            state.extend(block.initial_state(batch, self.num_joints, self.input_scale))
        last = self.blocks[-1].out_channels
        state.append(self.input_scale.new_zeros(batch, last, self.plan.pool_length))
        return state

    def forward(self, frame: torch.Tensor, phase: int, state: list[torch.Tensor]
                ) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        return self.step(frame, phase, state)

    def step(self, frame: torch.Tensor, phase: int, state: list[torch.Tensor]
             ) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        """Advance every person of the batch by one frame.

        ``frame`` (B, C, V): one prepared (normalised) frame per person; ``phase``: the persons'
        common frame count modulo ``every`` (a prediction is due at phase 0); ``state``: their
        buffers. Returns (logits (B, classes) at phase 0 else None, the new state). Logits are
        meaningful once ``plan.window`` frames went in since the state was created.
        """
        column = frame.transpose(1, 2) * self.input_scale + self.input_shift  # (B, V, C)
        new_state = list(state)
        active = True
        for index, block in enumerate(self.blocks):
            if active:
                gcn, residual = block.ingest(column, state[2 * index], state[2 * index + 1])
                new_state[2 * index], new_state[2 * index + 1] = gcn, residual
                if phase % block.output_rate == 0:
                    column = block.emit(gcn, residual)
                else:
                    active = False
        if not active:
            return None, new_state
        pooled = torch.cat([state[-1][:, :, 1:], column.mean(dim=1).unsqueeze(2)], dim=2)
        new_state[-1] = pooled
        if phase % self.every != 0:
            return None, new_state
        features = pooled[:, :, :: self.pool_spacing].mean(dim=2)
        if self.persons > 1:
            features = (features + (self.persons - 1) * self.absent_features) / self.persons
        return torch.matmul(features, self.fcn_weight.t()) + self.fcn_bias, new_state


def script_streaming(model: StreamingSTGCN) -> torch.jit.ScriptModule:
    """TorchScript of the streaming step (frozen: weights become constants); its ``plan`` stays on
    the Python module."""
    return torch.jit.freeze(torch.jit.script(model.eval()), preserved_attrs=["step"])
