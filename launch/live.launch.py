"""Live dance recognition: camera_node -> pose_node -> action_node.

    ros2 launch dance_recognition live.launch.py input:=/dev/video0
    ros2 launch dance_recognition live.launch.py input:=dance.mp4 backend:=mediapipe model:=runs/moves/best.pt \
        namespace:=robot1 device:=cuda

The nodes and their parameters come from dance_recognition.ros.graph.live_graph, the same
description `dance-recognition live` uses on machines without `ros2 launch`.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node

from dance_recognition.ros.dds_profile import PROFILE_ENV, default_profile_path
from dance_recognition.ros.graph import PACKAGE, LiveArguments, live_graph, params_file

ARGUMENTS = {
    "input": ("", "webcam index, /dev/videoN or a video file (empty: the params file's)"),
    "backend": ("", "pose backend: mediapipe or openpose (empty: the params file's)"),
    "model": ("", "action model checkpoint (empty: the packaged demo model)"),
    "device": ("", "model device: cpu, cuda, auto (empty: the params file's)"),
    "namespace": ("", "namespace of the nodes and topics"),
    "params_file": ("", "node parameters YAML (empty: the package's config/live.yaml)"),
    "loop": ("", "true to replay a video file"),
    "playback": ("", "native or fast video pacing"),
    "record": ("", "record the session into this bag folder (empty: no recording)"),
    "record_images": ("", "also record camera images into the bag: raw or jpeg"),
}


def _nodes(context):
    values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    reaction = LaunchConfiguration("reaction").perform(context).lower() == "true"
    arguments = LiveArguments(**values, reaction=reaction)
    parameters_file = str(params_file(arguments))
    return [
        Node(package=PACKAGE, executable=spec.executable, name=spec.name, namespace=arguments.namespace or None,
             parameters=[parameters_file, spec.parameters], remappings=spec.remappings, output="screen")
        for spec in live_graph(arguments)
    ]


def generate_launch_description() -> LaunchDescription:
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, (default, text) in ARGUMENTS.items()]
    declared.append(DeclareLaunchArgument("reaction", default_value="false",
                                          description="also start the example robot reaction node"))
    declared.append(DeclareLaunchArgument(
        "fastdds_profile", default_value=EnvironmentVariable(PROFILE_ENV, default_value=str(default_profile_path())),
        description="Fast DDS profile (the package's one carries 640x480 images reliably)"))
    return LaunchDescription([
        *declared,
        SetEnvironmentVariable(PROFILE_ENV, LaunchConfiguration("fastdds_profile")),
        OpaqueFunction(function=_nodes),
    ])
