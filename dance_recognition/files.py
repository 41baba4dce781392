"""Small file-system helpers shared by the writers of datasets and checkpoints."""
from __future__ import annotations

import os


def current_umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
