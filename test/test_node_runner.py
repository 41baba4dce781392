"""The node runner: construction problems are one "cannot start" line (exit 2); an exception in
a callback is logged and the node keeps spinning (a real rclpy node in this process)."""
from __future__ import annotations

import pytest
from rclpy.node import Node

from dance_recognition.ros.node_runner import run_node


class FlakyNode(Node):
    """A timer whose first calls raise; it ends the node (``finished``) after a few good calls."""

    def __init__(self) -> None:
        super().__init__("flaky_node")
        self.calls = 0
        self.finished = False
        self.create_timer(0.01, self._tick)

    def _tick(self) -> None:
        self.calls += 1
        if self.calls <= 3:
            raise ValueError(f"bad input number {self.calls}")
        if self.calls >= 6:
            self.finished = True


def test_a_failing_callback_is_logged_and_the_node_keeps_spinning(capfd) -> None:
    nodes = []

    def factory() -> FlakyNode:
        nodes.append(FlakyNode())
        return nodes[-1]

    assert run_node(factory, ["flaky_node"]) == 0
    assert nodes[0].calls >= 6, "the node must keep spinning after a callback raised"
    err = capfd.readouterr().err
    assert "a callback failed (1 so far); the node keeps running: ValueError: bad input number 1" in err
    assert "cannot start" not in err


def test_a_construction_error_is_one_cannot_start_line(capfd, monkeypatch) -> None:
    monkeypatch.setattr("sys.argv", ["/venv/lib/dance_recognition/action_node"])

    def factory() -> Node:
        raise FileNotFoundError("checkpoint model.pt does not exist")

    assert run_node(factory, ["action_node"]) == 2
    err = capfd.readouterr().err.strip()
    assert err == "[action_node] cannot start: checkpoint model.pt does not exist"


def test_a_bug_in_a_constructor_keeps_its_traceback() -> None:
    def factory() -> Node:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_node(factory, ["node"])
