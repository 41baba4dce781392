"""The terminal labeller's keys, without ROS: which key names which class, and what a press means.

Keys ``1``-``9`` then ``a``-``z`` (skipping the command keys) name the classes in the order of the
classes file. Pressing a class key starts that label (switching from the current one, if any);
``space`` stops the current label; ``q`` stops it and quits. The events are what
``dance_recognition/msg/LabelEvent`` carries (START/STOP with the label), so ``bag2dataset``
turns them into segments exactly as it turns any script's events into segments.
"""
from __future__ import annotations

from dataclasses import dataclass

from dance_recognition.bags.errors import LabelError
from dance_recognition.bags.labels import START, STOP

STOP_KEY, QUIT_KEY = " ", "q"
CLASS_KEYS = [str(n) for n in range(1, 10)] + [c for c in "abcdefghijklmnoprstuvwxyz"]  # no q


@dataclass(frozen=True)
class Press:
    event: int  # START or STOP
    label: str


class KeyMap:
    def __init__(self, class_names: list[str]) -> None:
        if not class_names:
            raise LabelError("the classes file holds no class names")
        if len(class_names) > len(CLASS_KEYS):
            raise LabelError(f"{len(class_names)} classes but only {len(CLASS_KEYS)} keys; label at most "
                             f"{len(CLASS_KEYS)} classes per session (or publish LabelEvent from a script)")
        self.keys = dict(zip(CLASS_KEYS, class_names, strict=False))
        self.current: str | None = None
        self.quitting = False

    def press(self, key: str) -> list[Press]:
        """The events one key press publishes (none for an unmapped key)."""
        key = key.lower()
        if key in (STOP_KEY, QUIT_KEY):
            self.quitting = key == QUIT_KEY
            if self.current is None:
                return []
            label, self.current = self.current, None
            return [Press(STOP, label)]
        label = self.keys.get(key)
        if label is None or label == self.current:
            return []
        self.current = label
        return [Press(START, label)]

    def legend(self) -> str:
        pairs = "  ".join(f"[{key}] {name}" for key, name in self.keys.items())
        return f"{pairs}  [space] stop  [q] quit"

    def status(self) -> str:
        return f"now: {self.current}" if self.current else "now: (no label)"
