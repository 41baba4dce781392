"""Node processes started from the package's one graph description, for end-to-end tests."""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from dance_recognition.ros.graph import LiveArguments, NodeSpec, command, live_graph


class Processes:
    """Node processes with their output captured to files; all killed at teardown."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.running = folder, {}

    def start(self, executable: str, parameters: dict | None = None, arguments: LiveArguments | None = None,
              extra: list[str] | None = None) -> subprocess.Popen:
        arguments = arguments or LiveArguments()
        graph = {spec.executable: spec for spec in live_graph(LiveArguments(**{**vars(arguments), "reaction": True}))}
        spec = graph.get(executable, NodeSpec(executable, executable))
        spec.parameters.update(parameters or {})
        log = (self.folder / f"{executable}.log").open("w")
        process = subprocess.Popen([*command(spec, arguments), *(extra or [])], stdout=log,
                                   stderr=subprocess.STDOUT)
        self.running[executable] = process
        return process

    def log(self, executable: str) -> str:
        return (self.folder / f"{executable}.log").read_text()

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.running.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
