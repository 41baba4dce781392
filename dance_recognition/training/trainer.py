"""Training ST-GCN on a skeleton dataset: the ``train_stgcn`` of this package.

What a run leaves in its output folder:

    best.pt, last.pt          model checkpoints (the package format: a node starts from them alone)
    training_state.pt         everything needed to resume (weights, optimiser, epoch, history, RNG)
    history.json, curves.png  loss/accuracy per epoch
    report.json, confusion_matrix.png   evaluation of best.pt on the validation split

The same function runs data-parallel when started by ``torchrun`` (DistributedDataParallel:
NCCL on GPUs, gloo on CPUs); only rank 0 writes files. Ctrl-C saves ``interrupted.pt`` and the
training state of the last finished epoch; ``resume=True`` continues from it.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from dance_recognition.data.dataset import DatasetError, SkeletonDataset
from dance_recognition.errors import DanceRecognitionError
from dance_recognition.models.checkpoint import ModelCard
from dance_recognition.models.device import resolve_device
from dance_recognition.models.open_set import BACKGROUND_KEY
from dance_recognition.models.stgcn import STGCN, STGCNConfig
from dance_recognition.skeleton.conversion import conversion_plan
from dance_recognition.skeleton.preparation import InputSpec
from dance_recognition.training.batch_augmentation import BatchAugmenter
from dance_recognition.training.config import (
    RESUMABLE_SETTINGS,
    RUN_CONFIG_FILE,
    ConfigError,
    TrainConfig,
    config_from_dict,
)
from dance_recognition.training.evaluation import classification_report, predict_logits
from dance_recognition.training.finetune import (
    BackboneFreezer,
    check_finetune,
    initialise_from,
    parameter_groups,
    read_initial,
    with_initial_architecture,
)
from dance_recognition.training.run_folder import RunFolder
from dance_recognition.training.samples import TrainingSamples

log = logging.getLogger(__name__)
IMBALANCE_WARNING = 10.0


class TrainingInterruptedError(DanceRecognitionError):
    """Ctrl-C: what was saved and how to resume."""


@dataclass
class TrainResult:
    output: Path
    best_checkpoint: Path
    history: list[dict]
    report: dict


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: torch.device) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        return cls(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", 0)))


# ---------------------------------------------------------------- checks on the data and the config

def check_dataset(dataset: SkeletonDataset, config: TrainConfig) -> tuple[InputSpec, np.ndarray, np.ndarray]:
    """The model's input spec and the train/val indices, or one clear error."""
    if len(dataset) == 0:
        raise DatasetError(f"{dataset.root} holds no samples; extract or import some first")
    train, val = dataset.indices("train"), dataset.indices("val")
    if len(train) == 0:
        raise DatasetError(f"{dataset.root} has no samples in the train split")
    counts = np.bincount(dataset.labels[train], minlength=len(dataset.class_names))
    empty = [name for name, count in zip(dataset.class_names, counts, strict=True) if count == 0]
    if empty:
        raise DatasetError(f"no training samples for class(es) {', '.join(empty)}: add samples of them, or "
                           "rebuild the dataset with a classes file (--classes) that leaves them out")
    if dataset.header.extra.get("extract", {}).get("complete") is False:
        log.warning("%s is an interrupted extraction (dataset.json says complete: false): re-run the same "
                    "extract command to finish it", dataset.root)
    if counts.max() > IMBALANCE_WARNING * counts.min() and not config.data.class_balance:
        log.warning("unbalanced training data (%s): consider data.class_balance=true",
                    ", ".join(f"{n} {c}" for n, c in zip(dataset.class_names, counts, strict=True)))
    layout = config.model.layout or dataset.layout
    if layout != dataset.layout:
        if not config.model.convert_layout:
            raise ConfigError(f"the dataset is in layout {dataset.layout} but model.layout is {layout}: set "
                              "model.convert_layout=true to convert it while training, or "
                              f"model.layout={dataset.layout}")
        try:
            conversion_plan(dataset.layout, layout)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    unknown = [name for name in config.data.background_classes if name not in dataset.class_names]
    if unknown:
        known = ", ".join(dataset.class_names[:12]) + ("..." if len(dataset.class_names) > 12 else "")
        raise ConfigError(f"data.background_classes names {', '.join(unknown)}, which the dataset does not have "
                          f"(its classes: {known})")
    if set(dataset.class_names) <= set(config.data.background_classes):
        raise ConfigError("data.background_classes names every class: the model could never name a move")
    coordinates = dataset.header.coordinates
    normalization = config.data.normalization or ("body_centred" if coordinates == "pixels" else "kinetics")
    if coordinates == "kinetics" and normalization != "kinetics":
        raise ConfigError(f"{dataset.root} is already normalised (kinetics coordinates); "
                          "use data.normalization=kinetics")
    spec = InputSpec(layout=layout, normalization=normalization, window=config.data.window or dataset.header.frames,
                     persons=config.data.persons or dataset.header.persons)
    return spec, train, val


def build_model(config: TrainConfig, spec: InputSpec, num_classes: int) -> STGCN:
    try:
        network = {name: value for name, value in dataclasses.asdict(config.model).items()
                   if name not in ("layout", "convert_layout")}  # every other one is an STGCNConfig field
        model = STGCN(STGCNConfig(num_classes=num_classes, layout=spec.layout, **network))
        model.config.check_window(spec.window)
        return model
    except (ValueError, KeyError) as error:
        raise ConfigError(f"invalid model settings: {error}") from None


def learning_rate(config: TrainConfig, epoch: int, base: float | None = None) -> float:
    """LR of an epoch (0-based) from ``base`` (default optim.lr): linear warm-up, then cosine to 0
    or steps at the milestones."""
    optim = config.optim
    base = optim.lr if base is None else base
    if epoch < optim.warmup_epochs:
        return base * (epoch + 1) / (optim.warmup_epochs + 1)
    if optim.schedule == "cosine":
        progress = (epoch - optim.warmup_epochs) / max(config.epochs - optim.warmup_epochs, 1)
        return base * 0.5 * (1 + math.cos(math.pi * progress))
    if optim.schedule == "step":
        return base * optim.gamma ** sum(epoch >= m for m in optim.milestones)
    return base


def group_learning_rates(config: TrainConfig, epoch: int) -> dict[str, float]:
    """The backbone's and the head's LR of an epoch (the head's from finetune.head_lr when set)."""
    head = config.finetune.head_lr
    return {"backbone": learning_rate(config, epoch),
            "head": learning_rate(config, epoch, config.optim.lr if head is None else head)}


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    optim = config.optim
    groups = parameter_groups(model)
    if optim.optimizer == "adam":
        return torch.optim.AdamW(groups, lr=optim.lr, weight_decay=optim.weight_decay)
    return torch.optim.SGD(groups, lr=optim.lr, momentum=optim.momentum, nesterov=optim.nesterov,
                           weight_decay=optim.weight_decay)


def make_loader(samples: TrainingSamples, config: TrainConfig, epoch: int, train: bool,
                distributed: Distributed) -> torch.utils.data.DataLoader:
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch + 7_919 * distributed.rank)
    sampler = None
    if train and config.data.class_balance:
        # each process draws its share of the epoch by class-balanced weights, from its own stream
        counts = np.bincount(samples.labels)
        weights = torch.as_tensor(1.0 / counts[samples.labels], dtype=torch.double)
        share = math.ceil(len(samples) / distributed.world)
        sampler = torch.utils.data.WeightedRandomSampler(weights, share, replacement=True, generator=generator)
    elif train and distributed.world > 1:
        sampler = torch.utils.data.distributed.DistributedSampler(
            samples, num_replicas=distributed.world, rank=distributed.rank, shuffle=True, seed=config.seed)
        sampler.set_epoch(epoch)
    device = resolve_device(config.device)
    return torch.utils.data.DataLoader(
        samples, batch_size=config.batch_size, shuffle=train and sampler is None, sampler=sampler,
        generator=generator, num_workers=loader_workers(config, device), drop_last=False,
        persistent_workers=False, pin_memory=device.type == "cuda")


def loader_workers(config: TrainConfig, device: torch.device) -> int:
    """``data.num_workers``, or when null (auto): none on a CPU (the model needs every core and the
    batched augmentation left little to load), up to 8 beside a GPU (one core kept for the loop)."""
    if config.data.num_workers is not None:
        return int(config.data.num_workers)
    if device.type != "cuda":
        return 0
    return max(0, min(8, (os.cpu_count() or 1) - 1))


@dataclass
class StepOptions:
    """How each training step runs beyond forward/backward: a frozen backbone, batched
    augmentation on the device, bf16 autocast."""

    freezer: BackboneFreezer | None = None
    augmenter: BatchAugmenter | None = None
    bf16: bool = False


PROGRESS_EVERY = 10  # batches between progress-bar updates (each one waits for the device)


# ---------------------------------------------------------------- helpers of the run

def _unwrap(model: nn.Module) -> STGCN:
    return model.module if hasattr(model, "module") else model  # type: ignore[return-value]


def _agree_to_stop(stop: bool, distributed: Distributed) -> bool:
    """Rank 0 decides (it alone evaluates); every rank must leave the loop together."""
    if distributed.world <= 1:
        return stop
    import torch.distributed as dist

    flag = [stop]
    dist.broadcast_object_list(flag, src=0)
    return bool(flag[0])


# ---------------------------------------------------------------- one epoch

def train_epoch(model: nn.Module, loader, optimizer, device: torch.device, epoch: int, epochs: int,
                show_progress: bool, options: StepOptions | None = None) -> dict:
    """One pass over ``loader``. Loss and accuracy are summed on the device and read once at the
    end (and every PROGRESS_EVERY batches for the bar), so a GPU is never stalled per step."""
    options = options or StepOptions()
    if options.freezer is None:
        model.train()
    else:
        options.freezer.train_mode()
    criterion = nn.CrossEntropyLoss()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    started = time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False, disable=not show_progress)
    for index, (batch, target) in enumerate(bar):
        batch, target = batch.to(device, non_blocking=True), target.to(device, non_blocking=True)
        if options.augmenter is not None:
            batch = options.augmenter(batch, index)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=options.bf16):
            logits = model(batch)
        loss = criterion(logits.float(), target)
        loss.backward()
        optimizer.step()
        total_loss += loss.detach() * len(target)
        correct += (logits.detach().argmax(1) == target).sum()
        seen += len(target)
        if show_progress and index % PROGRESS_EVERY == 0:
            rate = seen / (time.perf_counter() - started)
            bar.set_postfix(loss=f"{float(total_loss) / seen:.3f}", acc=f"{int(correct) / seen:.3f}",
                            samples_s=f"{rate:.0f}")
    mean_loss = float(total_loss) / max(seen, 1)
    if not math.isfinite(mean_loss):
        raise DanceRecognitionError(f"the loss became {mean_loss} in epoch {epoch + 1}: lower optim.lr "
                                    "(or check the data for extreme values)")
    elapsed = time.perf_counter() - started
    return {"train_loss": mean_loss, "train_accuracy": int(correct) / max(seen, 1),
            "samples_per_second": seen / max(elapsed, 1e-9), "epoch_seconds": elapsed}


# ---------------------------------------------------------------- the whole run

def _resume_state(folder: RunFolder, config: TrainConfig) -> dict | None:
    """The state after the last finished epoch; None when the run was stopped in its first epoch
    (it then starts again from epoch 1, with the same settings)."""
    if not folder.state.exists():
        if (folder.path / RUN_CONFIG_FILE).exists():
            log.info("no epoch of %s had finished: starting it again at epoch 1", folder.path)
            return None
        raise ConfigError(f"nothing to resume: {folder.path} holds no training run")
    state = torch.load(folder.state, map_location="cpu", weights_only=True)
    saved = config_from_dict(json.loads(state["config"])).to_dict()  # settings added since get their defaults
    current = config.to_dict()
    for name in RESUMABLE_SETTINGS:  # a resumed run may be extended and moved to another device
        saved.pop(name, None)
        current.pop(name, None)
    if saved != current:
        changed = sorted(k for k in current if saved.get(k) != current.get(k))
        raise ConfigError(f"cannot resume: the settings differ from the interrupted run's ({', '.join(changed)})")
    return state


@dataclass
class Best:
    accuracy: float = -1.0
    epoch: int = -1  # 0-based; -1: none yet


class TrainingRun:
    """One training run: its data, model, optimiser, history and output folder, built once by
    ``open`` and then driven epoch by epoch. Only rank 0 (``distributed.main``) writes files."""

    def __init__(self, config: TrainConfig, dataset: SkeletonDataset, spec: InputSpec, folder: RunFolder,
                 device: torch.device, distributed: Distributed) -> None:
        self.config, self.dataset, self.spec, self.folder = config, dataset, spec, folder
        self.device, self.distributed = device, distributed
        self.history: list[dict] = []
        self.best = Best()
        self.start_epoch = 0

    # -------------------------------------------------------- building

    @classmethod
    def open(cls, dataset_path: str | Path, output: str | Path, config: TrainConfig, resume: bool) -> TrainingRun:
        """Checks everything a user can get wrong before the first step: settings, data, output
        folder, fine-tuning source, resume state."""
        config.check()
        device = resolve_device(config.device)
        distributed = Distributed.from_environment(device)
        if device.type == "cuda" and distributed.world > 1:
            device = torch.device("cuda", distributed.local_rank)
        dataset = SkeletonDataset(dataset_path)
        check_finetune(config, distributed.world)
        initial = read_initial(config.finetune.init_from) if config.finetune.init_from else None
        notes: list[str] = []
        if initial is not None:
            config, notes = with_initial_architecture(config, initial, dataset.layout)
        spec, train_indices, val_indices = check_dataset(dataset, config)
        folder = RunFolder(Path(output))
        if distributed.main:
            dataset.check_values()
            folder.prepare(resume)
        run = cls(config, dataset, spec, folder, device, distributed)
        run._build_model(initial, notes, resume)
        run._restore(resume)
        run._build_samples(train_indices, val_indices)
        return run

    def _build_model(self, initial, notes: list[str], resume: bool) -> None:
        torch.manual_seed(self.config.seed)
        model = build_model(self.config, self.spec, len(self.dataset.class_names))
        if initial is not None and not resume:
            report = initialise_from(model, initial, self.dataset.class_names, f"{self.config.finetune.init_from} "
                                     f"({initial.card.source} checkpoint, {initial.card.config.layout}, "
                                     f"{initial.card.config.num_classes} classes)")
            report.settings = notes
            if self.distributed.main:
                for line in report.lines():
                    tqdm.write(line)
                self.folder.write_json("init_report.json", report.to_json(), "fine-tuning report")
        self.model: nn.Module = model.to(self.device)
        self.freezer = BackboneFreezer(model)
        self.optimizer = make_optimizer(self.config, model)

    def _restore(self, resume: bool) -> None:
        """The resume state (if any) into model, optimiser, history and RNG; the run's settings
        written first, so an interruption in epoch 1 can be resumed too."""
        state = _resume_state(self.folder, self.config) if resume else None
        if self.distributed.main:
            self.folder.write_json(RUN_CONFIG_FILE, self.config.to_dict(), "run settings")
        if state is not None:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.history, self.start_epoch = list(state["history"]), int(state["epoch"]) + 1
            self.best = Best(float(state["best_accuracy"]), int(state["best_epoch"]))
            torch.set_rng_state(state["torch_rng"])
            log.info("resuming at epoch %d of %d", self.start_epoch + 1, self.config.epochs)
        if self.distributed.world > 1:
            self.model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def _build_samples(self, train_indices: np.ndarray, val_indices: np.ndarray) -> None:
        config, spec = self.config, self.spec
        self.train_samples = TrainingSamples(self.dataset, train_indices, spec, config.augment, seed=config.seed)
        augment = config.augment
        self.augmenter = BatchAugmenter(spec.layout, augment.random_move, augment.mirror, config.seed) \
            if augment.batched else None
        self.options = StepOptions(freezer=self.freezer,
                                   augmenter=self.augmenter if self.augmenter and self.augmenter.active else None,
                                   bf16=config.precision == "bf16")
        self.val_samples = TrainingSamples(self.dataset, val_indices, spec, None)
        if len(val_indices) == 0 and self.distributed.main:
            log.warning("no validation split: best.pt is chosen by training accuracy")

    # -------------------------------------------------------- training

    def run_epochs(self, on_epoch: Callable[[dict], None] | None, show_progress: bool, dataset_path) -> None:
        """Every remaining epoch; Ctrl-C saves ``interrupted.pt`` and says how to resume."""
        epoch = self.start_epoch - 1
        try:
            for epoch in range(self.start_epoch, self.config.epochs):
                record = self._train_one_epoch(epoch, show_progress and self.distributed.main)
                stop = False
                if self.distributed.main:
                    stop = self._finish_epoch(record)
                    if on_epoch is not None:
                        on_epoch(record)
                if _agree_to_stop(stop, self.distributed):
                    break
        except KeyboardInterrupt:
            if self.distributed.main:
                self._save_model("interrupted", epoch + 1, None)
                where = ("continue from the last finished epoch" if self.folder.state.exists()
                         else "no epoch had finished: start it again (same settings)")
                raise TrainingInterruptedError(
                    f"interrupted in epoch {epoch + 1}: weights saved to {self.folder.interrupted}; {where} with "
                    f"`dance-recognition train {dataset_path} {self.folder.path} --resume`") from None
            raise
        finally:
            if self.distributed.world > 1:
                import torch.distributed as dist

                with suppress(Exception):
                    dist.barrier()

    def _train_one_epoch(self, epoch: int, show_progress: bool) -> dict:
        config = self.config
        rates = group_learning_rates(config, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = rates[group["name"]]
        self.freezer.set(epoch < config.finetune.freeze_backbone_epochs)
        self.train_samples.set_epoch(epoch)
        if self.augmenter is not None:
            self.augmenter.set_epoch(epoch)
        record = {"epoch": epoch + 1, "lr": rates["backbone"]}
        if config.finetune.head_lr is not None:
            record["head_lr"] = rates["head"]
        if self.freezer.frozen:
            record["backbone_frozen"] = True
        loader = make_loader(self.train_samples, config, epoch, True, self.distributed)
        return record | train_epoch(self.model, loader, self.optimizer, self.device, epoch, config.epochs,
                                    show_progress, self.options)

    def _finish_epoch(self, record: dict) -> bool:
        """Rank 0 after each epoch: validate, save checkpoints/state/curves; True = stop early."""
        epoch = record["epoch"] - 1
        if len(self.val_samples):
            record |= self._validate(epoch)
        score = record.get("val_accuracy", record["train_accuracy"])
        self.history.append(record)
        self._save_model("last", epoch + 1, record.get("val_accuracy"))
        if score > self.best.accuracy:
            self.best = Best(score, epoch)
            self._save_model("best", epoch + 1, record.get("val_accuracy"))
        self._save_state(epoch)
        self.folder.save_history(self.history)
        tqdm.write(_epoch_line(record, self.config.epochs))
        early = self.config.early_stopping
        if early and epoch - self.best.epoch >= early:
            tqdm.write(f"early stop: no better accuracy for {early} epochs")
            return True
        return False

    def _validate(self, epoch: int) -> dict:
        loader = make_loader(self.val_samples, self.config, epoch, False, Distributed())
        logits, labels = predict_logits(_unwrap(self.model), loader, self.device)
        report = classification_report(logits, labels, self.dataset.class_names)
        loss = float(nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)))
        return {"val_loss": loss, "val_accuracy": report["top1"], "val_top5": report["top5"]}

    # -------------------------------------------------------- saving

    def _save_model(self, name: str, epoch: int, val_accuracy: float | None) -> None:
        network, spec, config = _unwrap(self.model), self.spec, self.config
        card = ModelCard(config=network.config, classes=list(self.dataset.class_names),
                         normalization=spec.normalization, window=spec.window, max_persons=spec.persons,
                         extra={"dataset": str(self.dataset.root), "epoch": epoch, "val_accuracy": val_accuracy,
                                BACKGROUND_KEY: list(config.data.background_classes),
                                "train_config": json.dumps(config.to_dict())})
        self.folder.save_model(name, network, card)

    def _save_state(self, epoch: int) -> None:
        self.folder.save_state({
            "config": json.dumps(self.config.to_dict()), "model": _unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(), "epoch": epoch, "history": self.history,
            "best_accuracy": self.best.accuracy, "best_epoch": self.best.epoch, "torch_rng": torch.get_rng_state(),
        })

    def finish(self) -> dict:
        """Rank 0: evaluates best.pt on the validation split (report.json, confusion_matrix.png);
        the run has finished, so no interrupted.pt is left. Every rank leaves the process group."""
        report: dict = {}
        if self.distributed.main:
            from dance_recognition.models.checkpoint import load_checkpoint

            best_model = load_checkpoint(self.folder.checkpoint("best"), device=self.device).model
            if len(self.val_samples):
                loader = make_loader(self.val_samples, self.config, 0, False, Distributed())
                logits, labels = predict_logits(best_model, loader, self.device)
                report = classification_report(logits, labels, self.dataset.class_names)
                self.folder.save_report(report, f"{self.folder.path.name} best (epoch {self.best.epoch + 1})")
            self.folder.interrupted.unlink(missing_ok=True)
        if self.distributed.world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()
        return report


def train(dataset_path: str | Path, output: str | Path, config: TrainConfig, resume: bool = False,
          on_epoch: Callable[[dict], None] | None = None, show_progress: bool = True) -> TrainResult:
    """Trains (or with ``resume`` continues) a run in ``output``; see the module docstring."""
    run = TrainingRun.open(dataset_path, output, config, resume)
    run.run_epochs(on_epoch, show_progress, dataset_path)
    report = run.finish()
    return TrainResult(output=run.folder.path, best_checkpoint=run.folder.checkpoint("best"), history=run.history,
                       report=report)


def _epoch_line(record: dict, epochs: int) -> str:
    line = (f"epoch {record['epoch']}/{epochs}  lr {record['lr']:.4g}  loss {record['train_loss']:.4f}  "
            f"acc {record['train_accuracy']:.3f}")
    if "val_accuracy" in record:
        line += f"  val loss {record['val_loss']:.4f}  val acc {record['val_accuracy']:.3f}"
    if record.get("backbone_frozen"):
        line += "  (backbone frozen)"
    return line + f"  {record['samples_per_second']:.0f} samples/s"
