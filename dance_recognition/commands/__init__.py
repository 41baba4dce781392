"""The sub-commands of ``dance-recognition``: one module each, imported by ``cli``.

Modules import heavy libraries (torch, mediapipe, rclpy) inside their handlers, so ``--help``
and unrelated commands stay fast.
"""
