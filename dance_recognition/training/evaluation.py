"""Metrics a person reads after training: top-1/top-5, per-class precision and recall, and the
confusion matrix (also drawn as a PNG with the class names), collected in one JSON report."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from dance_recognition.files import write_output


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, loader, device: torch.device, progress: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    from tqdm import tqdm

    model.eval()
    logits, labels = [], []
    for batch, target in tqdm(loader, desc="evaluate", unit="batch", leave=False, disable=not progress):
        logits.append(model(batch.to(device)).float().cpu())
        labels.append(target)
    if not logits:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return torch.cat(logits).numpy(), torch.cat(labels).numpy()


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def classification_report(logits: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict:
    num_classes = len(class_names)
    if len(labels) == 0:
        return {"samples": 0, "top1": None, "top5": None, "per_class": {}, "confusion_matrix": []}
    predicted = logits.argmax(axis=1)
    k = min(5, num_classes)
    top_k = np.argsort(-logits, axis=1)[:, :k]
    matrix = confusion_matrix(predicted, labels, num_classes)
    per_class = {}
    for index, name in enumerate(class_names):
        true_positive = int(matrix[index, index])
        predicted_count, support = int(matrix[:, index].sum()), int(matrix[index].sum())
        precision = true_positive / predicted_count if predicted_count else 0.0
        # without samples a class has no recall (not 0, not 100%): None, and named in the report
        recall = true_positive / support if support else None
        f1 = (2 * precision * recall / (precision + recall) if precision + recall else 0.0) if support else None
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    unseen = [name for name, metrics in per_class.items() if not metrics["support"]]
    return {
        "samples": len(labels),
        "top1": float((predicted == labels).mean()),
        "top5": float((top_k == labels[:, None]).any(axis=1).mean()),
        "top5_k": k,
        "mean_class_recall": float(np.mean([c["recall"] for c in per_class.values() if c["support"]])),
        "classes_without_samples": unseen,
        "per_class": per_class,
        "class_names": list(class_names),
        "confusion_matrix": matrix.tolist(),
    }


def recall_summary(report: dict) -> str:
    """'mean class recall 80.0%', saying over how many classes when some had no samples."""
    line = f"mean class recall {report['mean_class_recall']:.1%}"
    unseen = report.get("classes_without_samples") or []
    if unseen:
        total = len(report["per_class"])
        shown = ", ".join(unseen[:5]) + (f" and {len(unseen) - 5} more" if len(unseen) > 5 else "")
        line += f" over {total - len(unseen)} of {total} classes (no samples of {shown})"
    return line


def write_report(report: dict, folder: Path, title: str) -> tuple[Path, Path]:
    """``<folder>/report.json`` and ``<folder>/confusion_matrix.png`` (each written atomically; a
    failed write is one ``OutputError`` line)."""
    from dance_recognition.training.plots import plot_confusion_matrix

    text = json.dumps(report, indent=1).encode()
    json_path = write_output(folder / "report.json", lambda file: file.write(text), "evaluation report")
    png_path = folder / "confusion_matrix.png"
    if report["samples"]:
        plot_confusion_matrix(np.array(report["confusion_matrix"]), report["class_names"], png_path,
                              f"{title}: top-1 {report['top1']:.1%} on {report['samples']} samples")
    return json_path, png_path
