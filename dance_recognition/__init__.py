"""dance_recognition: dance-move recognition from human skeletons (ROS 2 + ST-GCN).

An installed build replaces this file with the message generator's empty one. In a source
checkout it lets ``dance_recognition.msg`` (built and installed elsewhere, e.g. into the venv)
be found beside the source sub-packages, so tests and tools run straight from the tree.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
