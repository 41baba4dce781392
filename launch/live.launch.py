"""Live dance recognition: camera_node -> pose_node -> action_node.

    ros2 launch dance_recognition live.launch.py input:=/dev/video0
    ros2 launch dance_recognition live.launch.py input:=dance.mp4 backend:=mediapipe model:=runs/moves/best.pt \
        namespace:=robot1 device:=cuda
    ros2 launch dance_recognition live.launch.py camera:=false image_topic:=/usb_cam/image_raw use_sim_time:=true

The arguments, nodes, parameters and what a node's exit means come from
dance_recognition.ros.graph, the same description `dance-recognition live` uses on machines
without `ros2 launch`: a node that dies with an error ends the launch with exit code 1
(required:=true), a video played once ends it after draining (end_with_input:=true). The Fast DDS
profile is set inside a scoped group, so it reaches this graph's nodes only, never the nodes of a
launch file that includes this one.
"""
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    GroupAction,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
    Shutdown,
    TimerAction,
)
from launch.event_handlers import OnProcessExit
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node

from dance_recognition.ros.dds_profile import PROFILE_ENV, default_profile_path
from dance_recognition.ros.graph import (
    DRAIN_S,
    PACKAGE,
    LiveArguments,
    Outcome,
    exit_outcome,
    launch_arguments,
    live_graph,
    params_files,
)


class GraphStopped(RuntimeError):  # noqa: N818 (launch prints its message as the reason)
    """Raised in an exit handler: launch then shuts everything down and exits with code 1."""


def _exit_handler(spec, arguments):
    def on_exit(event, context):
        if context.is_shutdown:
            return None  # stopping anyway (Ctrl-C, Shutdown): exits are expected
        outcome, line = exit_outcome(spec, event.returncode, arguments)
        if outcome is Outcome.FAIL:
            raise GraphStopped(line)
        if outcome is Outcome.DRAIN:
            return [TimerAction(period=DRAIN_S, actions=[Shutdown(reason=line)])]
        return None
    return on_exit


def _graph(context):
    arguments = LiveArguments(**{spec.name: LaunchConfiguration(spec.name).perform(context)
                                 for spec in launch_arguments()})
    actions = []
    for spec in live_graph(arguments):
        node = Node(package=PACKAGE, executable=spec.executable, name=spec.name,
                    namespace=arguments.namespace or None,
                    parameters=[*map(str, params_files(arguments)), spec.parameters],
                    remappings=spec.remappings, output="screen")
        actions += [node, RegisterEventHandler(OnProcessExit(target_action=node,
                                                             on_exit=_exit_handler(spec, arguments)))]
    return actions


def generate_launch_description() -> LaunchDescription:
    declared = [DeclareLaunchArgument(spec.name, default_value=spec.default, description=spec.description,
                                      choices=spec.choices)
                for spec in launch_arguments()]
    declared.append(DeclareLaunchArgument(
        "fastdds_profile", default_value=EnvironmentVariable(PROFILE_ENV, default_value=str(default_profile_path())),
        description="Fast DDS profile (the package's one carries 640x480 images reliably)"))
    return LaunchDescription([
        *declared,
        GroupAction(scoped=True, forwarding=True, actions=[
            SetEnvironmentVariable(PROFILE_ENV, LaunchConfiguration("fastdds_profile")),
            OpaqueFunction(function=_graph),
        ]),
    ])
