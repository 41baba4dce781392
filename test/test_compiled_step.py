"""The C++ one-person streaming step (models/compiled_step.py): the TorchScript step's outputs and
state updates for every schedule and both temporal forms, used by StreamingClassifier for one
person once built, and a clean fall-back when it cannot be built."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_stgcn import randomise

from dance_recognition.models.compiled_step import extension_failure, load_extension, one_person_step
from dance_recognition.models.stgcn import STGCN, STGCNConfig
from dance_recognition.models.streaming import StreamingSTGCN, script_streaming
from dance_recognition.models.streaming_classifier import StreamingClassifier

pytestmark = pytest.mark.skipif(shutil.which("c++") is None or shutil.which("ninja") is None,
                                reason="no C++ compiler or ninja: the TorchScript step runs instead")


def test_the_extension_builds_here() -> None:
    assert load_extension() is not None, extension_failure()


@pytest.mark.parametrize(("every", "fast_temporal", "persons"), [(1, True, 1), (1, False, 1), (4, None, 1),
                                                                 (3, True, 2)])
def test_cpp_step_equals_the_torchscript_step(every: int, fast_temporal: bool | None, persons: int) -> None:
    model = randomise(STGCN(STGCNConfig(num_classes=6, channels=(16, 16, 32, 32), strides=(1, 2, 1, 2),
                                        temporal_kernel=9, temporal_padding=False)), 3)
    stream = StreamingSTGCN(model, window=61, every=every, persons=persons, fast_temporal=fast_temporal)
    scripted, compiled = script_streaming(stream), one_person_step(stream)
    x = torch.randn(1, 3, 150, 18, generator=torch.Generator().manual_seed(every))
    script_state, cpp_state = stream.initial_state(1), stream.initial_state(1)
    with torch.inference_mode():
        for t in range(150):
            expected, script_state = scripted.step(x[:, :, t], t, script_state)
            actual = compiled.step(x[:, :, t], t, cpp_state)
            assert (actual is None) == (expected is None)
            if expected is not None:
                torch.testing.assert_close(actual, expected, rtol=0, atol=1e-5)
    for cpp_part, script_part in zip(cpp_state, script_state, strict=True):  # the rings too, in place
        torch.testing.assert_close(cpp_part, script_part, rtol=0, atol=1e-5)


def test_the_classifier_uses_it_for_one_person_and_gives_the_same_probabilities(tmp_path) -> None:
    from test_streaming import _checkpoint

    path = _checkpoint(tmp_path)
    compiled, plain = StreamingClassifier(path, every=1), StreamingClassifier(path, every=1, compiled=False)
    assert compiled.wait_for_compiled_step(120) and plain.one_person_step is None
    frames = torch.randn(60, 1, 3, 18, generator=torch.Generator().manual_seed(7))
    compiled_state, plain_state = compiled.initial_state(1), plain.initial_state(1)
    for count, frame in enumerate(frames):
        expected, plain_state = plain.step(frame, count, plain_state)
        actual, compiled_state = compiled.step(frame, count, compiled_state)
    np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_without_the_extension_the_torchscript_step_runs(tmp_path) -> None:
    """DANCE_RECOGNITION_NO_CPP (or a machine without a compiler): one warning-free fall-back."""
    from test_streaming import _checkpoint

    path = _checkpoint(tmp_path)
    code = ("import torch; from dance_recognition.models.streaming_classifier import StreamingClassifier as S;"
            f"c = S({str(path)!r}); print(c.wait_for_compiled_step(60));"
            "p, _ = c.step(torch.zeros(1, 3, 18), 0, c.initial_state(1)); print(p.shape)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "DANCE_RECOGNITION_NO_CPP": "1"}, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "(1,", "4)"], result.stdout
