"""Karatsuba in time: the schedules reproduce the polynomial product (hence the convolution) for
every kernel size, never use a product before its inputs have arrived, and do fewer products."""
from __future__ import annotations

import numpy as np
import pytest

from dance_recognition.models.karatsuba_in_time import karatsuba_schedule


@pytest.mark.parametrize("taps", range(1, 12))
def test_schedule_gives_every_coefficient_of_the_block_product(taps: int) -> None:
    schedule = karatsuba_schedule(taps)
    rng = np.random.default_rng(taps)
    for _ in range(3):
        h = np.zeros(schedule.parallel)
        h[:taps] = rng.standard_normal(taps)  # taps beyond the kernel are zero padding
        x = rng.standard_normal(schedule.parallel)
        products = (schedule.tap_matrix() @ h) * (schedule.input_matrix() @ x)
        np.testing.assert_allclose(schedule.combine @ products, np.convolve(h, x), atol=1e-12)


@pytest.mark.parametrize("taps", range(1, 12))
def test_output_c_only_uses_products_whose_inputs_arrived_by_frame_c(taps: int) -> None:
    schedule = karatsuba_schedule(taps)
    for phase in range(schedule.parallel):
        members = range(schedule.starts[phase], schedule.starts[phase + 1])
        assert all(max(schedule.input_sets[s]) == phase for s in members)  # computed when its newest input came
        assert not schedule.combine[phase, schedule.starts[phase + 1]:].any()  # output `phase` needs no later one


def test_streamed_schedule_equals_direct_convolution_frame_by_frame() -> None:
    """The streaming recurrence the network uses: y_{Lm+c} = coef_c(m) + coef_{L+c}(m-1)."""
    schedule = karatsuba_schedule(9)
    rng = np.random.default_rng(0)
    h, x = rng.standard_normal(9), rng.standard_normal(60)
    length, carry, outputs = schedule.parallel, np.zeros(2 * schedule.parallel - 1), []
    padded = np.zeros(length)
    padded[:9] = h
    for block in range(0, 54, length):
        products = (schedule.tap_matrix() @ padded) * (schedule.input_matrix() @ x[block:block + length])
        coefficients = schedule.combine @ products
        outputs.extend(coefficients[:length] + np.append(carry[length:], 0.0))  # coefficient 2L-1 is 0
        carry = coefficients
    np.testing.assert_allclose(outputs, np.convolve(h, x)[:54], atol=1e-12)


def test_the_paper_kernel_needs_four_products_per_frame_instead_of_nine() -> None:
    schedule = karatsuba_schedule(9)
    assert (schedule.parallel, schedule.products, schedule.products_per_frame) == (9, 36, 4.0)
    assert [schedule.starts[p + 1] - schedule.starts[p] for p in range(9)] == [1, 2, 3, 2, 4, 6, 3, 6, 9]
    assert karatsuba_schedule(5).products_per_frame == 3.0 and karatsuba_schedule(3).products_per_frame == 2.0


def test_a_kernel_without_taps_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 tap"):
        karatsuba_schedule(0)
