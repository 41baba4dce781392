"""A FAKE of the few launch / launch_ros classes launch/live.launch.py uses (neither package can be
installed on this project's machines). Each fake only records what it was built with, except where
the real one checks something the launch file relies on (DeclareLaunchArgument's choices,
LaunchConfiguration.perform), so a test can run the launch file's own functions: which nodes with
which parameters, the scoped environment, and what its exit handlers do."""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field


class Recorded:
    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class DeclareLaunchArgument(Recorded):
    def __init__(self, name, *, default_value=None, description="", choices=None) -> None:
        super().__init__(name, default_value=default_value, description=description, choices=choices)
        if choices is not None and isinstance(default_value, str) and default_value not in choices:
            raise ValueError(f'Provided default_value "{default_value}" is not in provided choices "{choices}".')
        self.name, self.default_value, self.choices = name, default_value, choices


class LaunchConfiguration(Recorded):
    def perform(self, context) -> str:
        return context.launch_configurations[self.args[0]]


@dataclass
class Context:
    launch_configurations: dict[str, str]
    is_shutdown: bool = False


@dataclass
class ProcessExited:
    returncode: int
    extra: dict = field(default_factory=dict)


def install(monkeypatch) -> None:
    """Put the fakes where ``import launch`` / ``import launch_ros`` find them (for one test)."""
    names = {
        "launch": {"LaunchDescription": type("LaunchDescription", (Recorded,), {})},
        "launch.actions": {"DeclareLaunchArgument": DeclareLaunchArgument,
                           **{name: type(name, (Recorded,), {}) for name in (
                               "GroupAction", "OpaqueFunction", "RegisterEventHandler", "SetEnvironmentVariable",
                               "Shutdown", "TimerAction")}},
        "launch.event_handlers": {"OnProcessExit": type("OnProcessExit", (Recorded,), {})},
        "launch.substitutions": {"LaunchConfiguration": LaunchConfiguration,
                                 "EnvironmentVariable": type("EnvironmentVariable", (Recorded,), {})},
        "launch_ros": {},
        "launch_ros.actions": {"Node": type("Node", (Recorded,), {})},
    }
    for module_name, members in names.items():
        module = types.ModuleType(module_name)
        module.__dict__.update(members)
        monkeypatch.setitem(sys.modules, module_name, module)
