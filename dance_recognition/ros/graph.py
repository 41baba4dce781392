"""The live graph, described once: which nodes, with which parameters and names.

Both ``launch/live.launch.py`` (for ROS 2 installs) and ``dance-recognition live`` (the
package's own launcher, for machines without ``ros2 launch``) build their processes from
``live_graph``, so the two cannot drift apart. No rclpy import here.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dance_recognition.ros.dds_profile import config_dirs, config_file

PACKAGE = "dance_recognition"


@dataclass
class NodeSpec:
    executable: str
    name: str
    parameters: dict = field(default_factory=dict)  # override the params file
    remappings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def module(self) -> str:
        return f"{PACKAGE}.ros.nodes.{self.executable}"


@dataclass
class LiveArguments:
    """The launch arguments; empty strings mean "keep the params file's value"."""

    input: str = ""  # webcam index, /dev/videoN or a video file
    backend: str = ""
    model: str = ""  # action model checkpoint
    device: str = ""
    namespace: str = ""
    params_file: str = ""
    loop: str = ""  # "true" / "false"
    playback: str = ""
    reaction: bool = False  # also start the example robot reaction node
    record: str = ""  # bag folder to record the session into (recorder_node); empty = no recording
    record_images: str = ""  # also record the camera images: "" (no), "raw" or "jpeg"


def media_file(name: str) -> Path | None:
    """Media fetched at set-up (share/dance_recognition/media), None when absent."""
    for folder in config_dirs():
        path = folder.parent / "media" / name
        if path.is_file():
            return path
    return None


def _as_bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def live_graph(arguments: LiveArguments) -> list[NodeSpec]:
    camera, pose, action = {}, {}, {}
    if arguments.input:
        camera["source"] = arguments.input
    if arguments.loop:
        camera["loop"] = _as_bool(arguments.loop)
    if arguments.playback:
        camera["playback"] = arguments.playback
    if arguments.backend:
        pose["backend"] = arguments.backend
    if arguments.model:
        action["checkpoint"] = arguments.model
    if arguments.device:
        action["device"] = arguments.device
    nodes = [NodeSpec("camera_node", "camera_node", camera), NodeSpec("pose_node", "pose_node", pose),
             NodeSpec("action_node", "action_node", action)]
    if arguments.reaction:
        nodes.append(NodeSpec("reaction_node", "reaction_node"))
    if arguments.record:
        nodes.append(recorder_spec(arguments.record, images=arguments.record_images))
    return nodes


def recorder_spec(bag: str, storage: str = "", topics: list[str] | None = None, images: str = "",
                  label: str = "", duration_s: float = 0.0) -> NodeSpec:
    """The recorder of ``dance-recognition record`` and of the live graph's ``record`` argument;
    empty values keep the node's defaults (MCAP, the graph's result and label topics)."""
    parameters: dict = {"bag": str(Path(bag).absolute())}
    optional = {"storage": storage, "topics": list(topics or []), "images": images, "label": label,
                "duration_s": float(duration_s)}
    parameters.update({key: value for key, value in optional.items() if value})
    return NodeSpec("recorder_node", "recorder_node", parameters)


def params_file(arguments: LiveArguments) -> Path:
    return Path(arguments.params_file) if arguments.params_file else config_file("live.yaml")


def ros_arguments(spec: NodeSpec, arguments: LiveArguments) -> list[str]:
    """``--ros-args`` of a node process, as ``ros2 launch`` would pass them."""
    args = ["--ros-args", "-r", f"__node:={spec.name}", "--params-file", str(params_file(arguments))]
    if arguments.namespace:
        args += ["-r", f"__ns:=/{arguments.namespace.strip('/')}"]
    for key, value in spec.parameters.items():
        # values are read as YAML: quote strings so "0" stays the string "0"
        text = json.dumps(value) if isinstance(value, (str, list)) else str(value).lower()
        args += ["-p", f"{key}:={text}"]
    for source, target in spec.remappings:
        args += ["-r", f"{source}:={target}"]
    return args


def command(spec: NodeSpec, arguments: LiveArguments) -> list[str]:
    return [sys.executable, "-m", spec.module, *ros_arguments(spec, arguments)]
