"""Pictures of training: the confusion matrix and the loss/accuracy curves (matplotlib, no display)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from dance_recognition.files import write_output


def save_figure(figure: plt.Figure, path: Path, what: str) -> None:
    """PNG through ``files.write_output`` (atomic; a full disk is one clear error), then the figure
    is closed either way (pyplot keeps every open figure alive)."""
    try:
        write_output(path, lambda file: figure.savefig(file, format="png", dpi=120), what)
    finally:
        plt.close(figure)


def plot_confusion_matrix(matrix: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    """Row-normalised colours (recall per true class) with the raw counts written in each cell."""
    size = max(4.0, 0.45 * len(class_names) + 2.5)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros(matrix.shape, float), where=totals > 0)
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    axes.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    if len(class_names) <= 30:
        for row in range(matrix.shape[0]):
            for column in range(matrix.shape[1]):
                if matrix[row, column]:
                    axes.text(column, row, str(matrix[row, column]), ha="center", va="center",
                              color="white" if share[row, column] > 0.5 else "black", fontsize=8)
    figure.tight_layout()
    save_figure(figure, path, "confusion matrix")


def plot_training_curves(history: list[dict], path: Path) -> None:
    epochs = [h["epoch"] for h in history]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(11, 4))
    loss_axes.plot(epochs, [h["train_loss"] for h in history], label="train")
    if any(h.get("val_loss") is not None for h in history):
        loss_axes.plot(epochs, [h.get("val_loss") for h in history], label="val")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("cross-entropy loss")
    loss_axes.legend()
    accuracy_axes.plot(epochs, [h["train_accuracy"] for h in history], label="train")
    if any(h.get("val_accuracy") is not None for h in history):
        accuracy_axes.plot(epochs, [h.get("val_accuracy") for h in history], label="val top-1")
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("accuracy")
    accuracy_axes.set_ylim(0, 1.02)
    accuracy_axes.legend()
    figure.tight_layout()
    save_figure(figure, path, "training curves")
