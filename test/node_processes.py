"""Node and command processes started from the package's one graph description, for end-to-end tests."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from dance_recognition.ros.graph import LiveArguments, NodeSpec, command, live_graph


class Processes:
    """Node processes and ``dance-recognition`` commands with their output captured to files
    (``<name>.log`` in the test's folder); all stopped at teardown."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.running = folder, {}

    def start(self, executable: str, parameters: dict | None = None, arguments: LiveArguments | None = None,
              extra: list[str] | None = None) -> subprocess.Popen:
        """A node of the live graph (its parameters as the graph gives them, plus ``parameters``)."""
        arguments = arguments or LiveArguments()
        graph = {spec.executable: spec for spec in live_graph(LiveArguments(**{**vars(arguments), "reaction": True}))}
        spec = graph.get(executable, NodeSpec(executable, executable))
        spec.parameters.update(parameters or {})
        return self._spawn(executable, [*command(spec, arguments), *(extra or [])])

    def cli(self, name: str, *args: str, cwd: Path | None = None) -> subprocess.Popen:
        """``dance-recognition ARGS`` (record, live, bag play...), known as ``name`` (its log: ``name.log``)."""
        return self._spawn(name, [sys.executable, "-m", "dance_recognition.cli", *args], cwd=cwd)

    def _spawn(self, name: str, argv: list[str], cwd: Path | None = None) -> subprocess.Popen:
        from conftest import REPO

        log = (self.folder / f"{name}.log").open("w")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd or REPO)
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()

    def finish(self, name: str, stop: signal.Signals | None = signal.SIGINT,
               timeout_s: float = 60.0) -> tuple[int, str]:
        """Sends ``stop`` (None: none, it ends by itself), waits, and returns (exit code, output)."""
        process = self.running[name]
        if stop is not None and process.poll() is None:
            process.send_signal(stop)
        code = process.wait(timeout=timeout_s)
        return code, self.log(name)

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.running.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
