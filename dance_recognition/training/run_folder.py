"""The output folder of a training run: the names of its files and the one way each is written.

Every file goes through ``files.write_output``: written atomically (a reader, or a resume after a
crash, sees the previous complete file or the new one), and a failed write (a full disk, a
file-size limit) ends the run with one line naming the file and the fix, leaving no partial file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dance_recognition.files import write_output
from dance_recognition.models.checkpoint import ModelCard, save_atomically, save_checkpoint
from dance_recognition.models.stgcn import STGCN
from dance_recognition.training.config import RUN_CONFIG_FILE, ConfigError
from dance_recognition.training.evaluation import write_report
from dance_recognition.training.plots import plot_training_curves

STATE_FILE = "training_state.pt"


@dataclass
class RunFolder:
    path: Path

    @property
    def state(self) -> Path:
        return self.path / STATE_FILE

    @property
    def interrupted(self) -> Path:
        return self.path / "interrupted.pt"

    def checkpoint(self, name: str) -> Path:
        return self.path / f"{name}.pt"

    def holds_a_run(self) -> bool:
        return self.state.exists() or (self.path / RUN_CONFIG_FILE).exists()

    def prepare(self, resume: bool) -> None:
        """One clear error before any training when the folder holds another run (and this is
        not a resume) or cannot be written at all."""
        if self.holds_a_run() and not resume:
            raise ConfigError(f"{self.path} holds a training run already; resume it (--resume) or choose another "
                              "folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write_test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise ConfigError(f"cannot write to {self.path} ({error.strerror}); choose another output "
                              "folder") from None

    def write_json(self, name: str, data: object, what: str) -> Path:
        text = json.dumps(data, indent=1).encode()
        return write_output(self.path / name, lambda file: file.write(text), what)

    def save_model(self, name: str, model: STGCN, card: ModelCard) -> Path:
        return save_checkpoint(self.checkpoint(name), model, card)

    def save_state(self, payload: dict) -> None:
        save_atomically(payload, self.state, "training state")

    def save_history(self, history: list[dict]) -> None:
        self.write_json("history.json", history, "training history")
        plot_training_curves(history, self.path / "curves.png")

    def save_report(self, report: dict, title: str) -> None:
        write_report(report, self.path, title)
