"""ST-GCN: reference checkpoints load and reproduce an independent implementation; our
checkpoints round-trip with their metadata; TorchScript/ONNX match eager; bad files fail clearly."""
from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from dance_recognition.models.checkpoint import CheckpointError, ModelCard, load_checkpoint, save_checkpoint
from dance_recognition.models.export import export_onnx, export_torchscript
from dance_recognition.models.stgcn import STGCN, STGCNConfig

STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


def randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial BatchNorm statistics and edge importances, so every parameter matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith(("running_mean", "bias")) or (".weight" in name and tensor.ndim == 1):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1 + (1.0 if "weight" in name else 0))
            elif name.startswith("edge_importance"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
    return model.eval()


def independent_forward(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Straight from the paper and the reference's arithmetic: conv, then einsum over subsets."""
    def bn(t: torch.Tensor, prefix: str) -> torch.Tensor:
        return F.batch_norm(t, state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"],
                            state[f"{prefix}.weight"], state[f"{prefix}.bias"], training=False, eps=1e-5)

    n, c, t, v, m = x.shape
    h = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)
    h = bn(h, "data_bn").view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
    a = state["A"]
    for i, stride in enumerate(STRIDES):
        p = f"st_gcn_networks.{i}"
        if i == 0:
            res = 0
        elif f"{p}.residual.0.weight" in state:
            res = bn(F.conv2d(h, state[f"{p}.residual.0.weight"], state[f"{p}.residual.0.bias"], stride=(stride, 1)),
                     f"{p}.residual.1")
        else:
            res = h
        k = a.shape[0]
        y = F.conv2d(h, state[f"{p}.gcn.conv.weight"], state[f"{p}.gcn.conv.bias"])
        y = y.view(y.shape[0], k, y.shape[1] // k, y.shape[2], y.shape[3])
        y = torch.einsum("nkctv,kvw->nctw", y, a * state[f"edge_importance.{i}"])
        y = F.relu(bn(y, f"{p}.tcn.0"))
        y = F.conv2d(y, state[f"{p}.tcn.2.weight"], state[f"{p}.tcn.2.bias"], stride=(stride, 1), padding=(4, 0))
        h = F.relu(bn(y, f"{p}.tcn.3") + res)
    h = F.avg_pool2d(h, h.shape[2:]).view(n, m, -1, 1, 1).mean(dim=1)
    return F.conv2d(h, state["fcn.weight"], state["fcn.bias"]).view(n, -1)


def reference_state(layout: str = "openpose_coco_18", classes: int = 400, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state_dict in the published checkpoints' key format, as DataParallel saved it."""
    model = randomise(STGCN(STGCNConfig(num_classes=classes, layout=layout)), seed)
    return {f"module.{k}": v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def test_parameter_counts_match_the_published_models() -> None:
    kinetics = STGCN(STGCNConfig(num_classes=400, layout="openpose_coco_18"))
    ntu = STGCN(STGCNConfig(num_classes=60, layout="ntu_rgbd_25"))
    assert sum(p.numel() for p in kinetics.parameters()) == 3_177_140
    assert sum(p.numel() for p in ntu.parameters()) == 3_098_832


@pytest.mark.parametrize(("layout", "classes", "frames", "persons"),
                         [("openpose_coco_18", 400, 64, 2), ("ntu_rgbd_25", 60, 30, 1)])
def test_reference_checkpoint_loads_and_reproduces_the_reference_outputs(
        tmp_path, layout: str, classes: int, frames: int, persons: int) -> None:
    state = reference_state(layout, classes)
    path = tmp_path / "st_gcn.reference.pt"
    torch.save(state, path)
    names = [f"move_{i}" for i in range(classes)]
    loaded = load_checkpoint(path, classes=names)
    assert loaded.card.config.layout == layout and loaded.card.config.strategy == "spatial"
    assert loaded.card.classes == names and loaded.model_id.startswith("st_gcn.reference@")
    x = torch.randn(2, 3, frames, loaded.model.num_joints, persons, generator=torch.Generator().manual_seed(1))
    expected = independent_forward({k[len("module."):]: v for k, v in state.items()}, x)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.model(x), expected, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(loaded.model.fused()(x), expected, rtol=1e-4, atol=1e-5)


def test_mmskeleton_style_checkpoint_with_meta_loads(tmp_path) -> None:
    state = {k[len("module."):]: v for k, v in reference_state(classes=5).items()}
    torch.save({"meta": {"epoch": 50, "mmcv_version": "0.4"}, "state_dict": state}, tmp_path / "mm.pth")
    assert load_checkpoint(tmp_path / "mm.pth", classes=list("abcde")).card.config.num_classes == 5


def test_reference_checkpoint_without_edge_importance_loads(tmp_path) -> None:
    state = {k: v for k, v in reference_state(classes=3).items() if ".edge_importance." not in f".{k[7:]}"}
    torch.save(state, tmp_path / "plain.pt")
    loaded = load_checkpoint(tmp_path / "plain.pt", classes=list("abc"))
    assert not loaded.card.config.edge_importance
    x = torch.randn(1, 3, 30, 18, 1)
    expected = independent_forward({k[7:]: v for k, v in state.items()} | {
        f"edge_importance.{i}": torch.ones(3, 18, 18) for i in range(10)}, x)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.model(x), expected, rtol=1e-4, atol=1e-5)


def test_our_checkpoint_round_trips_with_metadata(tmp_path) -> None:
    model = randomise(STGCN(STGCNConfig(num_classes=3, layout="mediapipe_pose_33", strategy="distance",
                                        channels=(16, 16, 32, 32), strides=(1, 2, 1, 2), dropout=0.2)))
    card = ModelCard(config=model.config, classes=["salsa", "twirl", "bow"], normalization="body_centred",
                     window=48, max_persons=1, extra={"epochs": 3})
    path = save_checkpoint(tmp_path / "ours.pt", model, card)
    loaded = load_checkpoint(path)
    assert loaded.card.classes == card.classes and loaded.card.window == 48
    assert loaded.card.normalization == "body_centred" and loaded.card.config == model.config
    x = torch.randn(1, 3, 48, 33, 1)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.model(x), model(x))
    assert not list(tmp_path.glob(".ours.pt.*")), "temporary file left behind"


def test_fused_model_equals_eval_model_for_live_shapes() -> None:
    model = randomise(STGCN(STGCNConfig(num_classes=10, layout="mediapipe_pose_33")))
    fused = model.fused()
    for frames, persons in ((30, 1), (64, 2), (151, 1)):
        x = torch.randn(1, 3, frames, 33, persons)
        with torch.inference_mode():
            torch.testing.assert_close(fused(x), model(x), rtol=1e-4, atol=1e-5)


def test_torchscript_and_onnx_match_eager(tmp_path) -> None:
    model = randomise(STGCN(STGCNConfig(num_classes=6, layout="openpose_coco_18")))
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 40, 18, 2)
    with torch.inference_mode():
        torch.testing.assert_close(scripted(x), model(x))
    assert export_torchscript(model, tmp_path / "m.ts", frames=40) < 1e-4
    reloaded = torch.jit.load(str(tmp_path / "m.ts"))
    with torch.inference_mode():
        torch.testing.assert_close(reloaded(x), model(x), rtol=1e-4, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript-based ONNX exporter
        assert export_onnx(model, tmp_path / "m.onnx", frames=40) < 1e-4
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    y = torch.randn(1, 3, 75, 18, 1)  # other frame count and batch: dynamic axes
    with torch.inference_mode():
        torch.testing.assert_close(torch.from_numpy(session.run(None, {"skeletons": y.numpy()})[0]), model(y),
                                   rtol=1e-4, atol=1e-5)


def test_wrong_input_layout_is_a_clear_error() -> None:
    model = STGCN(STGCNConfig(num_classes=2, layout="mediapipe_pose_33"))
    with pytest.raises(ValueError, match="input has 3 channels and 18 joints; this model takes 3 channels and 33"):
        model(torch.zeros(1, 3, 10, 18, 1))


def test_class_count_mismatch_names_both_sides(tmp_path) -> None:
    torch.save(reference_state(classes=400), tmp_path / "k.pt")
    with pytest.raises(CheckpointError, match=r"has 400 classes .* but 60 class names were given"):
        load_checkpoint(tmp_path / "k.pt", classes=[str(i) for i in range(60)])


def test_layout_mismatch_names_both_sides(tmp_path) -> None:
    torch.save(reference_state(classes=4), tmp_path / "k.pt")
    with pytest.raises(CheckpointError, match=r"trained on openpose_coco_18 \(spatial\), but coco_17"):
        load_checkpoint(tmp_path / "k.pt", layout="coco_17")
    model = STGCN(STGCNConfig(num_classes=2, layout="coco_17"))
    save_checkpoint(tmp_path / "ours.pt", model, ModelCard(config=model.config, classes=["a", "b"]))
    with pytest.raises(CheckpointError, match="trained on coco_17, but mediapipe_pose_33 was asked for"):
        load_checkpoint(tmp_path / "ours.pt", layout="mediapipe_pose_33")


def test_channel_mismatch_is_named(tmp_path) -> None:
    state = reference_state(classes=4)
    state["module.st_gcn_networks.3.tcn.2.weight"] = torch.zeros(64, 32, 9, 1)
    torch.save(state, tmp_path / "bad.pt")
    message = r"st_gcn_networks.3.tcn.2.weight has shape \(64, 32, 9, 1\), the network"
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(tmp_path / "bad.pt")


def test_truncated_and_missing_files_are_clear_errors(tmp_path) -> None:
    model = STGCN(STGCNConfig(num_classes=2))
    path = save_checkpoint(tmp_path / "full.pt", model, ModelCard(config=model.config, classes=["a", "b"]))
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing.pt")


class Payload:
    """Stands for arbitrary code in a pickle: loading it would import and build this class."""

    def __reduce__(self):
        return (print, ("this would have run",))


def test_pickled_code_is_refused(tmp_path, capsys) -> None:
    torch.save({"state_dict": {}, "evil": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"refusing to load .*pickled Python objects"):
        load_checkpoint(tmp_path / "evil.pt")
    assert "this would have run" not in capsys.readouterr().out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_device_gives_the_cpu_outputs(tmp_path) -> None:
    torch.save(reference_state(classes=5), tmp_path / "k.pt")
    cpu = load_checkpoint(tmp_path / "k.pt", classes=list("abcde"))
    gpu = load_checkpoint(tmp_path / "k.pt", classes=list("abcde"), device="cuda")
    x = torch.randn(1, 3, 64, 18, 1)
    with torch.inference_mode():
        torch.testing.assert_close(gpu.model(x.cuda()).cpu(), cpu.model(x), rtol=1e-3, atol=1e-4)
