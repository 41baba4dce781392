"""The pure-Python core of dance_recognition as a pip-installable distribution.

The full package (messages, nodes, launch files) is built by CMake: ``scripts/setup.sh`` in a
standalone venv, or ``colcon build`` in a ROS 2 workspace. This file serves users who want only
the ROS-free core (layouts, ST-GCN, datasets, training, extraction) in an existing environment:
``pip install --no-build-isolation .``. The ``dance_recognition.ros`` sub-package is included
but needs a ROS build to import.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r"<version>([^<]+)</version>", (HERE / "package.xml").read_text()).group(1)

setup(
    name="dance_recognition",
    version=VERSION,
    description="Dance-move recognition from human skeletons: ST-GCN, pose backends, ROS 2 nodes",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["dance_recognition", "dance_recognition.*"]),
    data_files=[("share/dance_recognition/config", [str(p.relative_to(HERE)) for p in (HERE / "config").glob("*")])],
    package_data={"dance_recognition": ["resources/*.pt", "resources/*.png"]},  # the demo model
    install_requires=["numpy>=1.26", "torch==2.13.0", "PyYAML", "tqdm", "matplotlib", "scipy",
                      "opencv-contrib-python>=4.10,<5"],  # 5.x has no Caffe importer (OpenPose path)
    extras_require={"pose": ["mediapipe==0.10.14"], "export": ["onnx==1.18.0", "onnxruntime"],
                    "bags": ["rosbags==0.11.9"]},
    entry_points={"console_scripts": ["dance-recognition = dance_recognition.cli:main"]},
)
