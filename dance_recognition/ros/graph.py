"""The live graph, described once: its arguments, nodes, parameters, names, and when it ends.

Both ``launch/live.launch.py`` (for ROS 2 installs) and ``dance-recognition live`` (the
package's own launcher, for machines without ``ros2 launch``) build their processes from
``live_graph`` and decide what a node's exit means with ``exit_outcome``, so the two cannot drift
apart and the launcher's tests cover both. Standard library only: ``ros2 launch`` imports this
module under the system Python, without torch or numpy.

Defaults have one source: each node's declared parameters. A ``params_file`` overrides only the
parameters it names, and a launch argument left empty changes nothing.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.ros.dds_profile import config_dirs

PACKAGE = "dance_recognition"
DRAIN_S = 3.0  # after the input ends: time for the frames in flight to become labels
TRUE_TEXTS, FALSE_TEXTS = ("true", "1"), ("false", "0")  # what launch's IfCondition accepts


# A publisher sees its subscriptions matched before the subscribers have matched it back (a
# reader drops what arrives from a writer it does not know yet): whoever starts sending once the
# graph looks connected (camera_node playing a file, bag play) waits this long more, so the
# first messages are kept.
GRAPH_SETTLE_S = 0.5


class LaunchArgumentError(DanceRecognitionError):
    """A launch argument with a value the graph cannot use."""


def as_bool(name: str, value: str | bool) -> bool:
    """A boolean argument read as launch's IfCondition reads it: true/false/1/0, any case;
    anything else is an error rather than a silent false."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in TRUE_TEXTS:
        return True
    if text in FALSE_TEXTS:
        return False
    raise LaunchArgumentError(f"{name}:={value!r} is not a boolean: use true or false (or 1 / 0)")


def _argument(default: str, description: str, choices: tuple[str, ...] | None = None, boolean: bool = False):
    return field(default=default, metadata={"description": description, "choices": choices, "boolean": boolean})


@dataclass
class LiveArguments:
    """The launch arguments, as text like ``ros2 launch`` gives them; empty means "not given"."""

    input: str = _argument("", "webcam index, /dev/videoN or a video file (empty: camera_node's default, webcam 0)")
    backend: str = _argument("", "pose backend (empty: pose_node's default, mediapipe)", ("", "mediapipe", "openpose"))
    model: str = _argument("", "action model checkpoint (empty: the packaged demo model)")
    classes: str = _argument("", "class names of the model, one a line (reference checkpoints carry none)")
    device: str = _argument("", "model device: cpu, cuda, cuda:N or auto (empty: action_node's default, cpu)")
    namespace: str = _argument("", "namespace of the nodes and topics")
    params_file: str = _argument("", "a node parameters YAML; it overrides only the parameters it names")
    loop: str = _argument("", "replay a video file at its end (empty: no)", boolean=True)
    playback: str = _argument("", "video file pacing (empty: native)", ("", "native", "fast"))
    camera: str = _argument("true", "start camera_node; false: take images from image_topic (a driver, a bag)",
                            boolean=True)
    image_topic: str = _argument("", "image topic of the graph (empty: image_raw); its camera_info beside it")
    use_sim_time: str = _argument("false", "every node on /clock time (bags played with --clock, simulators)",
                                  boolean=True)
    required: str = _argument("true", "a node that dies with an error ends the graph (exit code 1)", boolean=True)
    end_with_input: str = _argument("true", "a video played once ends the graph after draining", boolean=True)
    reaction: str = _argument("false", "also start the example robot reaction node", boolean=True)
    record: str = _argument("", "record the session into this bag folder (empty: no recording)")
    record_images: str = _argument("", "also record camera images into the bag (empty: no)", ("", "raw", "jpeg"))
    record_max_bag_size: str = _argument("", "split the recording into files of at most this many bytes (empty: no)")
    record_max_bag_duration: str = _argument("", "split the recording into files of at most this many seconds "
                                                 "(empty: no)")

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, bool):  # convenience for Python callers
                setattr(self, spec.name, "true" if value else "false")

    def flag(self, name: str) -> bool:
        """A boolean argument; an empty one is false."""
        value = getattr(self, name)
        return as_bool(name, value) if value != "" else False

    def validate(self) -> None:
        """One clear error for the first argument the graph cannot use."""
        for spec in fields(self):
            value, choices = getattr(self, spec.name), spec.metadata["choices"]
            if spec.metadata["boolean"] and value != "":
                as_bool(spec.name, value)
            if choices is not None and value not in choices:
                raise LaunchArgumentError(f"{spec.name}:={value!r} is not one of {', '.join(c for c in choices if c)}")
        for name in ("record_max_bag_size", "record_max_bag_duration"):
            _number(name, getattr(self, name))
        if self.params_file and not Path(self.params_file).is_file():
            raise LaunchArgumentError(f"params_file:={self.params_file} does not exist")
        if self.params_file:
            _check_params_file(Path(self.params_file))


def _check_params_file(path: Path) -> None:
    """ROS reads a file that is not a parameters YAML without a word and applies nothing; a user
    who tuned a threshold there would never learn why it did not change."""
    import yaml

    template = "see config/live.yaml: node name (or /**), then ros__parameters, then name: value"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise LaunchArgumentError(f"params_file:={path} is not readable YAML ({error.__class__.__name__}); "
                                  f"{template}") from None
    problem = _parameters_problem(data, "")
    if problem:
        raise LaunchArgumentError(f"params_file:={path} is not a ROS parameters file: {problem}; {template}")


def _parameters_problem(data: object, where: str) -> str:
    """'' for a valid nesting of (namespace/)node names ending in ``ros__parameters`` mappings."""
    if not isinstance(data, dict) or not data:
        found = type(data).__name__ if data is not None else "nothing"
        return f"{where} has no ros__parameters" if where else f"the file holds {found}, not node names"
    for key, value in data.items():
        here = f"{where}/{key}" if where else str(key)
        if key == "ros__parameters":
            if not isinstance(value, dict):
                return f"{here} is not a mapping of parameter names to values"
        elif not isinstance(value, dict):
            return f"{where or key} has no ros__parameters (found {key!s}: {value!r})"
        else:
            problem = _parameters_problem(value, here)
            if problem:
                return problem
    return ""


def _number(name: str, value: str) -> float:
    """A non-negative number argument (empty: 0), or one clear error."""
    try:
        number = float(value) if value != "" else 0.0
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise LaunchArgumentError(f"{name}:={value!r} is not a number of 0 or more")
    return number


@dataclass(frozen=True)
class ArgumentSpec:
    name: str
    default: str
    description: str
    choices: list[str] | None


def launch_arguments() -> list[ArgumentSpec]:
    """What the launch file declares (DeclareLaunchArgument with these choices)."""
    return [ArgumentSpec(spec.name, spec.default, spec.metadata["description"],
                         list(spec.metadata["choices"]) if spec.metadata["choices"] else None)
            for spec in fields(LiveArguments)]


@dataclass
class NodeSpec:
    executable: str
    name: str
    parameters: dict = field(default_factory=dict)  # override the params file
    remappings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def module(self) -> str:
        return f"{PACKAGE}.ros.nodes.{self.executable}"


def media_file(name: str) -> Path | None:
    """Media fetched at set-up (share/dance_recognition/media), None when absent."""
    for folder in config_dirs():
        path = folder.parent / "media" / name
        if path.is_file():
            return path
    return None


def _image_remappings(topic: str) -> list[tuple[str, str]]:
    """image_raw -> ``topic``, and camera_info beside it (image_transport's convention)."""
    if not topic:
        return []
    head, separator, _ = topic.rpartition("/")
    info = f"{head}/camera_info" if separator else "camera_info"
    return [("image_raw", topic), ("camera_info", info)]


def live_graph(arguments: LiveArguments) -> list[NodeSpec]:
    arguments.validate()
    camera, pose, action = {}, {}, {}
    if arguments.input:
        camera["source"] = arguments.input
    if arguments.loop:
        camera["loop"] = arguments.flag("loop")
    if arguments.playback:
        camera["playback"] = arguments.playback
    # a video file starts once the whole graph is up (pose_node's and action_node's outputs have
    # their publishers), not only pose_node: a short clip's first window must reach action_node
    camera["wait_for_publishers"] = ["skeletons", "actions"]
    if arguments.backend:
        pose["backend"] = arguments.backend
    if arguments.model:
        action["checkpoint"] = arguments.model
    if arguments.classes:
        action["classes_file"] = arguments.classes
    if arguments.device:
        action["device"] = arguments.device
    images = _image_remappings(arguments.image_topic)
    nodes = [NodeSpec("pose_node", "pose_node", pose, list(images)), NodeSpec("action_node", "action_node", action)]
    if arguments.flag("camera"):
        nodes.insert(0, NodeSpec("camera_node", "camera_node", camera, list(images)))
    if arguments.flag("reaction"):
        nodes.append(NodeSpec("reaction_node", "reaction_node"))
    if arguments.record:
        nodes.append(recorder_spec(arguments.record, images=arguments.record_images,
                                   max_bag_size=int(_number("record_max_bag_size", arguments.record_max_bag_size)),
                                   max_bag_duration_s=_number("record_max_bag_duration",
                                                              arguments.record_max_bag_duration)))
    if arguments.flag("use_sim_time"):
        for spec in nodes:
            spec.parameters["use_sim_time"] = True
    return nodes


def recorder_spec(bag: str, storage: str = "", topics: list[str] | None = None, images: str = "",
                  label: str = "", duration_s: float = 0.0, max_bag_size: int = 0,
                  max_bag_duration_s: float = 0.0) -> NodeSpec:
    """The recorder of ``dance-recognition record`` and of the live graph's ``record`` argument;
    empty values keep the node's defaults (MCAP, the graph's result and label topics)."""
    parameters: dict = {"bag": str(Path(bag).absolute())}
    optional = {"storage": storage, "topics": list(topics or []), "images": images, "label": label,
                "duration_s": float(duration_s), "max_bag_size": int(max_bag_size),
                "max_bag_duration_s": float(max_bag_duration_s)}
    parameters.update({key: value for key, value in optional.items() if value})
    return NodeSpec("recorder_node", "recorder_node", parameters)


def params_files(arguments: LiveArguments) -> list[Path]:
    """The user's params file, if any: on top of the nodes' own defaults, so it changes only what it names."""
    return [Path(arguments.params_file)] if arguments.params_file else []


def _parameter_text(value) -> str:
    """A value as YAML for ``-p``: strings quoted so "0" stays the string "0"."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, list)):
        return json.dumps(value)
    return str(value)


def ros_arguments(spec: NodeSpec, arguments: LiveArguments) -> list[str]:
    """``--ros-args`` of a node process, as ``ros2 launch`` would pass them."""
    args = ["--ros-args", "-r", f"__node:={spec.name}"]
    for path in params_files(arguments):
        args += ["--params-file", str(path)]
    if arguments.namespace:
        args += ["-r", f"__ns:=/{arguments.namespace.strip('/')}"]
    for key, value in spec.parameters.items():
        args += ["-p", f"{key}:={_parameter_text(value)}"]
    for source, target in spec.remappings:
        args += ["-r", f"{source}:={target}"]
    return args


def command(spec: NodeSpec, arguments: LiveArguments) -> list[str]:
    return [sys.executable, "-m", spec.module, *ros_arguments(spec, arguments)]


class Outcome(Enum):
    CONTINUE = "continue"  # the rest of the graph runs on
    DRAIN = "drain"  # the input has ended: stop after DRAIN_S, exit code 0
    FAIL = "fail"  # stop now, exit code 1


def exit_outcome(spec: NodeSpec, code: int, arguments: LiveArguments) -> tuple[Outcome, str]:
    """What a node's exit (while the graph runs) means for the graph, and the line that says so."""
    if spec.executable == "camera_node" and code == 0:
        outcome = Outcome.DRAIN if arguments.flag("end_with_input") else Outcome.CONTINUE
        return outcome, "the input has ended" + ("; draining the pipeline" if outcome is Outcome.DRAIN else "")
    what = f"{spec.name} died with exit code {code}" if code != 0 else f"{spec.name} exited"
    if arguments.flag("required"):
        return Outcome.FAIL, f"{what}; stopping the graph"
    return Outcome.CONTINUE, f"{what}; the others run on (required:=false)"
