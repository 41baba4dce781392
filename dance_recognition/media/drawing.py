"""Skeletons and action labels drawn on images, for previews, annotated topics and videos."""
from __future__ import annotations

import cv2
import numpy as np

from dance_recognition.skeleton.layouts import get_layout
from dance_recognition.skeleton.pose import PoseFrame

# distinct, colour-blind-friendly colours (Okabe-Ito), RGB
TRACK_COLOURS = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
                 (204, 121, 167))


def track_colour(track_id: int) -> tuple[int, int, int]:
    return TRACK_COLOURS[track_id % len(TRACK_COLOURS)] if track_id >= 0 else (200, 200, 200)


def person_caption(track_id: int, label: str | None = None) -> str:
    """``#3 march 97%``: the id always (so a viewer can tell people apart), the label when known."""
    name = f"#{track_id}" if track_id >= 0 else "?"
    return f"{name} {label}" if label else name


def draw_pose_frame(image_rgb: np.ndarray, frame: PoseFrame, labels: dict[int, str] | None = None,
                    copy: bool = True) -> np.ndarray:
    """Every person's bones and joints coloured by track id, captioned with the id and, from
    ``labels`` (track id -> text), the person's current action."""
    canvas = image_rgb.copy() if copy else image_rgb
    layout = get_layout(frame.layout)
    thickness = max(1, round(min(canvas.shape[:2]) / 240))
    for person in frame.people:
        colour = track_colour(person.track_id)
        keypoints = person.keypoints
        present = person.present
        for a, b in layout.edges:
            if present[a] and present[b]:
                cv2.line(canvas, _point(keypoints[a]), _point(keypoints[b]), colour, thickness, cv2.LINE_AA)
        for joint in np.nonzero(present)[0]:
            cv2.circle(canvas, _point(keypoints[joint]), thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)
        text = person_caption(person.track_id, (labels or {}).get(person.track_id))
        if present.any():
            top = keypoints[present]
            # above the head, centred on the body: a box corner can lie on a neighbour's body
            anchor = (max(int(np.median(top[:, 0])) - 12, 0), max(int(np.min(top[:, 1])) - 8, 14))
            draw_text(canvas, text, anchor, colour)
    return canvas


def draw_text(canvas: np.ndarray, text: str, origin: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """Text on a dark box, readable over any background."""
    scale = max(0.4, min(canvas.shape[:2]) / 700)
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = origin
    cv2.rectangle(canvas, (x - 2, y - height - 4), (x + width + 2, y + baseline), (0, 0, 0), -1)
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def _point(keypoint: np.ndarray) -> tuple[int, int]:
    return round(float(keypoint[0])), round(float(keypoint[1]))
