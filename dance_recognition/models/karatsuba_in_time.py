"""Fewer multiplications for a streamed temporal convolution: nested Karatsuba over time.

Why. A streaming ST-GCN block computes one output column per frame, ``y_t = sum_a H_a x_{t-a}``
for a k-tap kernel of channel-mixing matrices ``H_a``: k matrix products per frame, most of a
step's time. Grouping frames in blocks of L >= k (polyphase form), the columns of block m are the
coefficients of the polynomial product ``H(z) X_m(z)`` (H = sum_a H_a z^a, X_m = sum_b x_{Lm+b}
z^b): ``y_{Lm+c} = coef_c(m) + coef_{L+c}(m-1)``. Karatsuba's trick computes such a product from
fewer products of SUMS of taps and inputs: 3 instead of 4 for L=2, 6 instead of 9 for L=3, and
nested, 36 instead of 81 for L=9 = 3x3, i.e. 4 matrix products per frame instead of 9 for the
paper's 9-tap kernel. This is the fast-FIR algorithm of signal processing (Parhi's "fast FIR
filters"), applied with matrices as taps.

Streaming, without delay. Every product of the nested construction multiplies a sum of taps by
a sum of inputs ``sum_{b in T} x_{Lm+b}``; it can be computed once its newest input, ``max T``,
has arrived (its *phase*), and coefficient c < L only uses products of phase <= c (checked when
a schedule is built). So at phase p of a block the stream computes the products of phase p and
emits ``y_{Lm+p}`` at once: no output waits for later frames. The work per frame is uneven
(9 taps: 1 product at phase 0, 9 at phase 8, 4 on average); the mean is what drops.

Exactness. Only sums and differences of float32 products: the result equals the direct
convolution to float32 rounding (tests compare both; the streaming benchmark checks the whole
network against the window model on 500 real frames).

This module is plain integer bookkeeping (no torch): ``StreamingBlock`` turns it into tensors.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

# Karatsuba base cases: products (tap set, input set) and the coefficients of the product
# polynomial as signed sums of them (rows: coefficient 0 .. 2L-2).
_BASES: dict[int, tuple[list[tuple[tuple[int, ...], tuple[int, ...]]], list[list[int]]]] = {
    1: ([((0,), (0,))], [[1]]),
    # A = h0 x0, B = h1 x1, D = (h0+h1)(x0+x1): c0 = A, c1 = D - A - B, c2 = B
    2: ([((0,), (0,)), ((1,), (1,)), ((0, 1), (0, 1))],
        [[1, 0, 0], [-1, -1, 1], [0, 1, 0]]),
    # A = h0x0, B = h1x1, C = h2x2, D = (h0+h1)(x0+x1), E = (h1+h2)(x1+x2), F = (h0+h2)(x0+x2):
    # c0 = A, c1 = D-A-B, c2 = F-A-C+B, c3 = E-B-C, c4 = C
    3: ([((0,), (0,)), ((1,), (1,)), ((2,), (2,)), ((0, 1), (0, 1)), ((1, 2), (1, 2)), ((0, 2), (0, 2))],
        [[1, 0, 0, 0, 0, 0], [-1, -1, 0, 1, 0, 0], [-1, 1, -1, 0, 0, 1], [0, -1, -1, 0, 1, 0], [0, 0, 1, 0, 0, 0]]),
}


@dataclass(frozen=True)
class KaratsubaSchedule:
    """How to stream a ``taps``-tap convolution in blocks of ``parallel`` frames.

    Products are sorted by phase: those of phase p are ``starts[p]:starts[p + 1]``.
    ``tap_sets[s]`` / ``input_sets[s]``: which taps (0 = the newest input's) and which inputs of
    the block (0 = the block's first frame) product s adds up. ``combine``: (2L-1, S) signed
    integers, coefficient c of the block's product polynomial = sum_s combine[c, s] * product_s."""

    taps: int
    parallel: int
    tap_sets: tuple[tuple[int, ...], ...]
    input_sets: tuple[tuple[int, ...], ...]
    starts: tuple[int, ...]
    combine: np.ndarray

    @property
    def products(self) -> int:
        return len(self.tap_sets)

    @property
    def products_per_frame(self) -> float:
        """Mean matrix products per frame (the direct form does ``taps``)."""
        return self.products / self.parallel

    def input_matrix(self) -> np.ndarray:
        """(S, L) 0/1: row s sums the inputs of product s."""
        return _membership(self.input_sets, self.parallel)

    def tap_matrix(self) -> np.ndarray:
        """(S, L) 0/1: row s sums the taps of product s (taps >= ``taps`` are zero padding)."""
        return _membership(self.tap_sets, self.parallel)


def _membership(sets: tuple[tuple[int, ...], ...], size: int) -> np.ndarray:
    matrix = np.zeros((len(sets), size), np.float32)
    for row, members in enumerate(sets):
        matrix[row, list(members)] = 1.0
    return matrix


def _factorisations(taps: int) -> list[tuple[int, ...]]:
    """Block sizes L in [taps, 2 taps] made of factors 2 and 3, as factor tuples (3s first)."""
    found = []
    for length in range(max(taps, 1), 2 * max(taps, 1) + 1):
        rest, factors = length, []
        for factor in (3, 2):
            while rest % factor == 0:
                factors.append(factor)
                rest //= factor
        if rest == 1:
            found.append(tuple(factors))
    return found


def _nest(factors: tuple[int, ...]) -> tuple[list[tuple[tuple[int, ...], tuple[int, ...]]], np.ndarray]:
    """Products and combination matrix of a block of prod(factors) frames: the outer factor splits
    the block into sub-blocks of L2 frames, each outer product is a product of two sub-block
    polynomials, computed by the inner (nested) schedule."""
    if not factors:
        products, rows = _BASES[1]
        return products, np.array(rows, np.int64)
    outer_products, outer_rows = _BASES[factors[0]]
    outer = np.array(outer_rows, np.int64)
    inner_products, inner = _nest(factors[1:])
    inner_length = int(np.prod(factors[1:], dtype=np.int64))
    length = factors[0] * inner_length
    products = []
    for taps_outer, inputs_outer in outer_products:
        for taps_inner, inputs_inner in inner_products:
            products.append((tuple(sorted(inner_length * a + b for a in taps_outer for b in taps_inner)),
                             tuple(sorted(inner_length * a + b for a in inputs_outer for b in inputs_inner))))
    combine = np.zeros((2 * length - 1, len(products)), np.int64)
    for gamma in range(outer.shape[0]):
        for k_inner in range(inner.shape[0]):
            combine[inner_length * gamma + k_inner] += np.kron(outer[gamma], inner[k_inner])
    return products, combine


@cache
def karatsuba_schedule(taps: int) -> KaratsubaSchedule:
    """The cheapest schedule (fewest mean products per frame) for a ``taps``-tap kernel."""
    if taps < 1:
        raise ValueError(f"a temporal kernel needs at least 1 tap, got {taps}")
    best = min(_factorisations(taps), key=lambda f: (3 ** f.count(2) * 6 ** f.count(3) / np.prod(f), np.prod(f)))
    products, combine = _nest(best)
    length = int(np.prod(best, dtype=np.int64))
    order = sorted(range(len(products)), key=lambda s: (max(products[s][1]), s))
    products = [products[s] for s in order]
    combine = combine[:, order]
    phases = [max(inputs) for _, inputs in products]
    starts = (*(int(np.searchsorted(phases, p)) for p in range(length)), len(products))
    schedule = KaratsubaSchedule(taps, length, tuple(p[0] for p in products), tuple(p[1] for p in products),
                                 starts, combine)
    _check_causal(schedule)
    return schedule


def _check_causal(schedule: KaratsubaSchedule) -> None:
    """Output c of a block may only use products whose inputs have all arrived by frame c."""
    for c in range(schedule.parallel):
        used = np.flatnonzero(schedule.combine[c])
        if used.size and used.max() >= schedule.starts[c + 1]:
            raise AssertionError(f"Karatsuba schedule for {schedule.taps} taps: output {c} needs a later product")
