"""The one-person streaming step compiled to C++ (streaming_step.cpp), with the TorchScript step as
the fallback.

Why. After Karatsuba in time, a label-every-frame step of the paper network is ~280 small ATen
operations; the TorchScript interpreter spends ~1.2 us on each, a fifth of the step. The C++
step runs the same operations in the same order (its outputs equal the TorchScript step's), for
a batch of one person: the case of a robot watching one performer, and the per-person target.
Batches of several persons keep the TorchScript step (their products have more rows, the
per-operation time matters less).

Building needs a C++ compiler and ninja (torch.utils.cpp_extension); the first build takes
~40 s on 2 cores and is cached (``TORCH_EXTENSIONS_DIR``, default ~/.cache/torch_extensions), so
``scripts/setup.sh`` builds it once. Without a compiler, or with ``DANCE_RECOGNITION_NO_CPP=1``,
``load_one_person_step`` returns None and the TorchScript step runs: same outputs, slower.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from dance_recognition.models.streaming import StreamingSTGCN

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("streaming_step.cpp")
DISABLE_VARIABLE = "DANCE_RECOGNITION_NO_CPP"
_extension: Any = None
_failure: str | None = None
_lock = threading.Lock()


def load_extension() -> Any:
    """The compiled module (built on first call, then cached), or None with the reason logged once."""
    global _extension, _failure  # one build per process
    with _lock:
        if _extension is not None or _failure is not None:
            return _extension
        if os.environ.get(DISABLE_VARIABLE):
            _failure = f"{DISABLE_VARIABLE} is set"
            return None
        try:
            from torch.utils.cpp_extension import load_inline

            _extension = load_inline(name="dance_recognition_streaming_step", cpp_sources=[SOURCE.read_text()],
                                     extra_cflags=["-O2"], verbose=False)
        except Exception as error:  # no compiler, no ninja, no headers: all mean "fall back"
            _failure = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            log.warning("the C++ streaming step could not be built (%s); the TorchScript step runs instead "
                        "(same outputs, ~20%% slower per frame)", _failure)
        return _extension


def extension_failure() -> str | None:
    """Why the C++ step is unavailable (None when it loaded or was not tried)."""
    return _failure


def one_person_step(model: StreamingSTGCN) -> Any:
    """A C++ ``step(frame (1, C, V), count, state) -> logits | None`` for ``model`` (its current
    device and weights), or None when the extension cannot be built."""
    extension = load_extension()
    if extension is None:
        return None
    integers, tensors, tables = [], [], []
    for block in model.blocks:
        integers.append([block.input_rate, block.output_rate, block.dilation, block.kernel, block.span,
                         block.residual_mode, block.residual_ring, int(block.fast), block.parallel, block.products,
                         block.fast_rows, block.phase_offset, *block.starts])
        tensors.append([block.A_rows, block.gcn_weight, block.gcn_bias, block.tcn_weight, block.tcn_bias,
                        block.residual_weight, block.carry_combine, block.carry_bias])
        tables.append([*block.phase_input_sums, *block.phase_tap_sums, *block.phase_combine])
    network = [model.every, model.last_rate, model.pool_length, model.pool_spacing]
    return extension.OnePersonStep(integers, tensors, tables, network,
                                   [model.input_shift, model.input_scale, model.fcn_bias, model.fcn_weight])


def main() -> int:
    """Build (or find cached) the C++ step: ``python -m dance_recognition.models.compiled_step``."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if load_extension() is None:
        print(f"C++ streaming step unavailable ({_failure}); the TorchScript step will run")
        return 1
    print("C++ streaming step built and cached")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
