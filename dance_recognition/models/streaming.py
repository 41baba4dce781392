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

Fewer products. A label every frame needs every block's every column (2.8x the products of every 4th
frame for the paper network), so the temporal kernels of its larger blocks run as Karatsuba in
time (models/karatsuba_in_time.py): exact, 4 matrix products per frame instead of 9.

State is explicit (a list of tensors per batch of persons), so persons can be created, reset and
dropped outside the module, and ``step`` is scriptable with TorchScript.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.models.karatsuba_in_time import karatsuba_schedule
from dance_recognition.models.stgcn import STGCN, FusedBlock, FusedSTGCN, STGCNConfig

# Below this many channels a temporal matrix product costs about what an operation's call does
# (18 rows x 64 x 64: ~2 us), so Karatsuba's extra sums would not pay (benchmarks/streaming_speed.py).
FAST_TEMPORAL_MIN_CHANNELS = 128


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
    """One fused ST-GCN block computing one column at a time into preallocated ring buffers.

    Columns are stored joints-major, channels last, (B, V, slots, C): every product is then one
    2-D matrix product with B*V rows and pre-transposed weights (a batched product with V=18
    columns ran at a fifth of the speed). The graph-convolution ring keeps the columns of each
    residue modulo the dilation d apart (their taps never mix) and holds each column twice (slots
    q and q + k of its residue, q = (n // d) mod k), so the k taps of the newest column are always
    one contiguous slice, read by the temporal product in place: no concatenation, no copy of the
    history per step. Biases are folded (the residual convolution's into the temporal one).

    ``fast``: the temporal kernel by Karatsuba in time (models/karatsuba_in_time.py, 4 matrix
    products per frame instead of 9 for the paper's kernel), for blocks that output every column.
    Its state per residue is rows (B, d, 2L + S, V, C): the L input columns of the current block
    of columns, its S products, the L carried coefficients. The residual ring is (B, slots, V, C)."""

    def __init__(self, block: FusedBlock, input_rate: int, output_rate: int, dilation: int, fast: bool = False,
                 phase_offset: int = 0) -> None:
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
            bias = block.tcn.bias.clone()
            self.residual_mode = block.residual_mode
            if block.residual_mode == 2:
                self.register_buffer("residual_weight", block.residual.weight.flatten(1).t().contiguous())
                bias += block.residual.bias
            else:
                self.register_buffer("residual_weight", torch.zeros(0))
            self.register_buffer("tcn_bias", bias)
        self.input_rate, self.output_rate, self.dilation = input_rate, output_rate, dilation
        self.span = 2 * self.kernel  # ring slots per residue
        # the residual adds the input column at the kernel's centre: the oldest of this many
        self.residual_ring = (self.kernel - 1) // 2 * dilation + 1 if self.residual_mode != 0 else 1
        # Karatsuba in time (models/karatsuba_in_time.py): only where every output column is needed
        self.fast = bool(fast) and output_rate == input_rate and self.kernel > 1
        self._set_up_fast_temporal(weight, joints, phase_offset)

    def _set_up_fast_temporal(self, weight: torch.Tensor, joints: int, phase_offset: int) -> None:
        """Per-product weights (sums of taps), the input sums and output combinations as matrices,
        sliced per phase once (a slice costs an interpreter call per frame, as much as a small
        product). The state of a residue is one tensor of rows: the block's L input columns, its
        S products, and the L carried coefficients of the previous block (bias included)."""
        schedule = karatsuba_schedule(self.kernel if self.fast else 1)
        self.parallel, self.products = schedule.parallel, schedule.products
        self.starts = list(schedule.starts)
        self.phase_offset = phase_offset % self.parallel
        self.fast_rows = 2 * schedule.parallel + schedule.products
        # distinct placeholders (typed for TorchScript; freezing refuses attributes that share memory)
        self.phase_input_sums, self.phase_tap_sums, self.phase_combine = ([torch.zeros(0)] for _ in range(3))
        if not self.fast:
            for name in ("carry_combine", "carry_bias"):
                self.register_buffer(name, torch.zeros(0))
            return
        with torch.no_grad():
            # tap a (0 = newest) of the window model's cross-correlation is weight[..., k - 1 - a]
            taps = weight.squeeze(3).flip(2).permute(2, 1, 0)  # (k, C_in, C_out), newest first
            padded = taps.new_zeros(schedule.parallel, *taps.shape[1:])
            padded[:self.kernel] = taps
            tap_sums = torch.einsum("sa,aio->sio", torch.from_numpy(schedule.tap_matrix()).to(taps), padded)
            input_sums = torch.from_numpy(schedule.input_matrix()).to(taps)
            combine = torch.from_numpy(schedule.combine.astype(np.float32)).to(taps)
            phases = [(p, self.starts[p], self.starts[p + 1]) for p in range(self.parallel)]
            self.phase_input_sums = [input_sums[start:end, :p + 1].clone() for p, start, end in phases]
            self.phase_tap_sums = [tap_sums[start:end].clone() for p, start, end in phases]
            self.phase_combine = [combine[p:p + 1, :end].clone() for p, start, end in phases]
            self.register_buffer("carry_combine", combine[schedule.parallel:].contiguous())  # (L-1, S)
            self.register_buffer("carry_bias", self.tcn_bias.repeat(joints))  # (V*C), joints-major

    def _apply(self, fn, recurse: bool = True):
        """Moves and casts (``.to(device)``) reach the per-phase tables, which are not buffers."""
        module = super()._apply(fn, recurse)
        with torch.no_grad():
            self.phase_input_sums = [fn(t) for t in self.phase_input_sums]
            self.phase_tap_sums = [fn(t) for t in self.phase_tap_sums]
            self.phase_combine = [fn(t) for t in self.phase_combine]
        return module

    def initial_state(self, batch: int, joints: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        residual_channels = self.in_channels if self.residual_mode != 0 else 1
        residual = like.new_zeros(batch, self.residual_ring, joints, residual_channels)
        if self.fast:
            rows = like.new_zeros(batch, self.dilation, self.fast_rows, joints, self.out_channels)
            rows[:, :, self.parallel + self.products:] = self.carry_bias.view(joints, -1)  # as if zeros came before
            return rows, residual
        gcn = like.new_zeros(batch, joints, self.dilation * self.span, self.out_channels)
        return gcn, residual

    def _residue_and_phase(self, index: int) -> tuple[int, int]:
        """Karatsuba block phase of input column ``index`` in its residue's stream. Each network
        block starts its blocks of L columns at its own offset (any start is exact), so their heavy
        last phases (L products) fall on different frames: the slowest frame of the paper network
        took 2.9 ms with one phase for all, 2.2 ms staggered, same mean. The residues of a block
        keep one phase (consecutive frames then reuse the same weights while they are in cache:
        staggering them too cost 4% of the mean)."""
        residue = index % self.dilation
        return residue, (index // self.dilation + self.phase_offset) % self.parallel

    def _slot(self, index: int) -> int:
        """First ring slot of gcn column ``index``: its residue's part, then its place in it."""
        return index % self.dilation * self.span + index // self.dilation % self.kernel

    def ingest(self, column: torch.Tensor, index: int, gcn_ring: torch.Tensor, residual_ring: torch.Tensor) -> None:
        """Input column number ``index`` (B, V, C_in): its graph convolution (and, for the
        residual, the column itself) goes into the rings, in place."""
        batch, joints = column.shape[0], column.shape[1]
        if self.fast and batch == 1:  # straight into its ring rows (rows of a residue: see _fast_temporal)
            residue, phase = self._residue_and_phase(index)
            first = (residue * self.fast_rows + phase) * joints
            column_rows = gcn_ring.view(-1, self.out_channels)[first:first + joints]
            torch.addmm(self.gcn_bias, torch.mm(self.A_rows, column[0]).view(joints, -1), self.gcn_weight,
                        out=column_rows)
            column_rows.relu_()
            if self.residual_mode != 0:
                residual_ring.select(1, index % self.residual_ring).copy_(column)
            return
        if batch == 1:
            aggregated = torch.mm(self.A_rows, column[0]).view(joints, -1)  # (V, K*C_in)
            y = torch.addmm(self.gcn_bias, aggregated, self.gcn_weight)
        else:
            aggregated = torch.matmul(self.A_rows, column).view(batch * joints, -1)
            y = (torch.mm(aggregated, self.gcn_weight).view(batch, joints, -1) + self.gcn_bias).view(batch * joints, -1)
        if self.fast:
            residue, phase = self._residue_and_phase(index)
            gcn_ring.select(1, residue).select(1, phase).copy_(y.relu_().view(batch, joints, -1))
        else:
            slot = self._slot(index)
            gcn_ring[:, :, slot:slot + self.kernel + 1:self.kernel].copy_(
                y.relu_().view(batch, joints, 1, -1).expand(-1, -1, 2, -1))
        if self.residual_mode != 0:
            residual_ring.select(1, index % self.residual_ring).copy_(column)

    def emit(self, index: int, gcn_ring: torch.Tensor, residual_ring: torch.Tensor) -> torch.Tensor:
        """The block's output column (B, V, C_out) for its newest input column ``index``."""
        if self.fast:
            y = self._fast_temporal(index, gcn_ring)
            batch, joints = gcn_ring.shape[0], gcn_ring.shape[3]
        else:
            batch, joints = gcn_ring.shape[0], gcn_ring.shape[1]
            slot = self._slot(index)
            taps = gcn_ring.narrow(2, slot + 1, self.kernel).reshape(batch * joints, -1)  # a view
            y = torch.addmm(self.tcn_bias, taps, self.tcn_weight)  # (B*V, C_out)
        if self.residual_mode != 0:
            centre = residual_ring.select(1, (index + 1) % self.residual_ring).reshape(batch * joints, -1)
            if self.residual_mode == 1:
                y.add_(centre)
            else:
                y = torch.addmm(y, centre, self.residual_weight)
        return y.relu_().view(batch, joints, -1)

    def _fast_temporal(self, index: int, rows: torch.Tensor) -> torch.Tensor:
        """Temporal convolution (bias included) of input column ``index`` by Karatsuba in time:
        the products whose newest input is this column, then this column's output from the
        block's products and the previous block's carry. Returns (B*V, C_out)."""
        batch, joints, channels = rows.shape[0], rows.shape[3], self.out_channels
        residue, phase = self._residue_and_phase(index)
        start, end = self.starts[phase], self.starts[phase + 1]
        count, width = end - start, joints * channels
        first, carried = self.parallel + start, self.parallel + self.products
        if batch == 1:  # 2-D products on the rows of this residue; per-phase tables sliced beforehand
            base = residue * self.fast_rows
            rows_1 = rows.view(-1, width)
            sums = torch.mm(self.phase_input_sums[phase], rows_1[base:base + phase + 1])  # (n, V*C)
            torch.bmm(sums.view(count, joints, channels), self.phase_tap_sums[phase],
                      out=rows.view(-1, joints, channels)[base + first:base + first + count])
            y = torch.addmm(rows_1[base + carried + phase:base + carried + phase + 1], self.phase_combine[phase],
                            rows_1[base + self.parallel:base + self.parallel + end])
            if phase == self.parallel - 1:  # the block is complete: carry its upper coefficients over
                torch.addmm(self.carry_bias, self.carry_combine, rows_1[base + self.parallel:base + carried],
                            out=rows_1[base + carried:base + carried + self.parallel - 1])
            return y.view(joints, channels)
        block = rows.select(1, residue)  # (B, 2L + S, V, C)
        inputs = block.narrow(1, 0, phase + 1).reshape(batch, phase + 1, width)
        sums = torch.matmul(self.phase_input_sums[phase], inputs)  # (B, n, V*C)
        products = torch.bmm(sums.view(batch, count, joints, channels).transpose(0, 1).reshape(
            count, batch * joints, channels), self.phase_tap_sums[phase])
        block.narrow(1, first, count).copy_(products.view(count, batch, joints, channels).transpose(0, 1))
        products = block.narrow(1, self.parallel, end).reshape(batch, end, width)
        carry = block.select(1, carried + phase).reshape(batch, 1, width)
        y = torch.matmul(self.phase_combine[phase], products) + carry
        if phase == self.parallel - 1:
            products = block.narrow(1, self.parallel, self.products).reshape(batch, self.products, width)
            block.narrow(1, carried, self.parallel - 1).copy_(
                (torch.matmul(self.carry_combine, products) + self.carry_bias).view(batch, -1, joints, channels))
        return y.view(batch * joints, channels)


def _fast(block: FusedBlock, fast_temporal: bool | None) -> bool:
    if fast_temporal is not None:
        return fast_temporal
    return int(block.tcn.weight.shape[0]) >= FAST_TEMPORAL_MIN_CHANNELS


class StreamingSTGCN(nn.Module):
    """The continual form of a (fused) ST-GCN. ``step`` takes one prepared frame per person."""

    __jit_ignored_attributes__ = ["plan"]  # noqa: RUF012 (read by TorchScript as a class attribute)

    def __init__(self, model: STGCN | FusedSTGCN, window: int, every: int = 1, persons: int = 1,
                 fast_temporal: bool | None = None) -> None:
        """``fast_temporal``: Karatsuba in time for the temporal kernels of blocks that output
        every column (None: for blocks of at least FAST_TEMPORAL_MIN_CHANNELS channels, where a
        matrix product outweighs the few extra small operations it brings)."""
        super().__init__()
        fused = model.eval().fused() if isinstance(model, STGCN) else model
        self.plan = plan_stream(fused.config, window, every)
        self.every, self.persons = self.plan.every, max(int(persons), 1)
        self.num_joints, self.in_channels = fused.num_joints, fused.in_channels
        self.pool_spacing, self.pool_length = self.plan.pool_spacing, self.plan.pool_length
        self.last_rate = self.plan.output_rates[-1]
        with torch.no_grad():
            self.register_buffer("input_scale", fused.input_scale[0, :, 0, :].t().contiguous())  # (V, C)
            self.register_buffer("input_shift", fused.input_shift[0, :, 0, :].t().contiguous())
            self.blocks = nn.ModuleList([
                StreamingBlock(block, rate_in, rate_out, dilation, fast=_fast(block, fast_temporal), phase_offset=2 * i)
                for i, (block, rate_in, rate_out, dilation) in enumerate(zip(
                    fused.blocks, self.plan.input_rates, self.plan.output_rates, self.plan.dilations, strict=True))
            ])
            self.register_buffer("fcn_weight", fused.fcn.weight.flatten(1).t().contiguous())  # (C_last, classes)
            self.register_buffer("fcn_bias", fused.fcn.bias.clone())
            if self.persons > 1:  # the zero-padded persons of the window model: constant features, folded in
                absent = self._features_of_absent_person()
                self.fcn_bias.add_(absent @ self.fcn_weight, alpha=(self.persons - 1) / self.persons)
                self.fcn_weight.div_(self.persons)
        self.eval()

    def _features_of_absent_person(self) -> torch.Tensor:
        """Pooled features of an all-zero person (what the window model averages in for each
        missing person); constant in time, computed once by streaming zeros through the network."""
        state = self.initial_state(1)
        zeros = self.input_scale.new_zeros(1, self.in_channels, self.num_joints)
        for frame in range(self.plan.window + self.every):
            self.step(zeros, frame, state)
        return self._pooled_features(state[-1], self.plan.window + self.every - 1)[0]

    def initial_state(self, batch: int) -> list[torch.Tensor]:
        """Zeroed ring buffers for ``batch`` persons: [gcn_0, residual_0, ..., pooled]."""
        state: list[torch.Tensor] = []
        for block in self.blocks:
            state.extend(block.initial_state(batch, self.num_joints, self.input_scale))
        last = self.blocks[-1].out_channels
        state.append(self.input_scale.new_zeros(batch, 2 * self.pool_length, last))
        return state

    def forward(self, frame: torch.Tensor, count: int, state: list[torch.Tensor]
                ) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        return self.step(frame, count, state)

    def _pooled_features(self, pooled: torch.Tensor, count: int) -> torch.Tensor:
        """Mean of the last block's columns one prediction averages (ring slots, oldest first)."""
        slot = (count // self.last_rate) % self.pool_length
        return pooled[:, slot + 1:slot + self.pool_length + 1:self.pool_spacing].mean(dim=1)

    def step(self, frame: torch.Tensor, count: int, state: list[torch.Tensor]
             ) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        """Advance every person of the batch by one frame, updating ``state`` in place.

        ``frame`` (B, C, V): one prepared (normalised) frame per person; ``count``: the number of
        frames this batch's state took in before (common to the batch: it places the columns in
        the rings, and a prediction is due when ``count % every == 0``); ``state``: their ring
        buffers. Returns (logits (B, classes) when a prediction is due else None, ``state``).
        Logits are meaningful once ``plan.window`` frames went in since the state was created.
        """
        column = torch.addcmul(self.input_shift, frame.transpose(1, 2), self.input_scale)  # (B, V, C)
        for index, block in enumerate(self.blocks):
            if count % block.input_rate != 0:
                return None, state
            column_index = count // block.input_rate
            block.ingest(column, column_index, state[2 * index], state[2 * index + 1])
            if count % block.output_rate != 0:
                return None, state
            column = block.emit(column_index, state[2 * index], state[2 * index + 1])
        pooled = state[-1]
        slot = (count // self.last_rate) % self.pool_length
        pooled[:, slot::self.pool_length].copy_(column.mean(dim=1).unsqueeze(1).expand(-1, 2, -1))
        if count % self.every != 0:
            return None, state
        features = pooled[:, slot + 1:slot + self.pool_length + 1:self.pool_spacing].mean(dim=1)
        return torch.addmm(self.fcn_bias, features, self.fcn_weight), state


def script_streaming(model: StreamingSTGCN) -> torch.jit.ScriptModule:
    """TorchScript of the streaming step (frozen: weights become constants); its ``plan`` stays on
    the Python module."""
    return torch.jit.freeze(torch.jit.script(model.eval()), preserved_attrs=["step"])
