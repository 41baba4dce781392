"""Label segments of a bag: from LabelEvent messages, a segments CSV, or one label for a whole bag.

A segment says "performer ``track_id`` (or ``ALL_PEOPLE``) performs ``label`` from ``start_ns``
to ``end_ns``" on the clock of the skeletons' header stamps (nanoseconds since the epoch).

Events (``dance_recognition/msg/LabelEvent``, taken in header-stamp order) per performer:
START opens a segment; a START while a segment of that performer is open closes it first (so a
labeller can switch moves with one key); STOP closes the open segment (its label must match
when given); a segment still open at the end of the bag runs to the end.

Checked for every source: labels must be in the classes file (when one is given), segments of
the same performer (ALL_PEOPLE overlaps everyone) must not overlap, and every segment must
overlap the bag's time range (a segment partly outside is clipped, with a note).
"""
from __future__ import annotations

import csv
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dance_recognition.bags.errors import LabelError

LABEL_EVENT_TYPE = "dance_recognition/msg/LabelEvent"
START, STOP = 0, 1
ALL_PEOPLE = -1
ABSOLUTE_STAMP_S = 1e9  # CSV times above this are seconds since the epoch, below it seconds from the bag start


@dataclass
class LabelSegment:
    label: str
    start_ns: int
    end_ns: int | None = None  # None: to the end of the bag
    track_id: int = ALL_PEOPLE
    origin: str = ""  # where it came from, for error messages

    def covers(self, stamp_ns: int) -> bool:
        return self.start_ns <= stamp_ns and (self.end_ns is None or stamp_ns < self.end_ns)

    def describe(self, bag_start_ns: int | None = None) -> str:
        def at(ns: int | None) -> str:
            if ns is None:
                return "end"
            return f"{(ns - bag_start_ns) / 1e9:.2f}s" if bag_start_ns is not None else f"{ns / 1e9:.3f}"

        who = "all" if self.track_id == ALL_PEOPLE else f"track {self.track_id}"
        origin = f", {self.origin}" if self.origin else ""
        return f"{self.label} [{at(self.start_ns)}..{at(self.end_ns)}] ({who}{origin})"


@dataclass
class LabelEvent:
    """A decoded LabelEvent, independent of where it was read from."""

    stamp_ns: int
    event: int
    label: str
    track_id: int = ALL_PEOPLE


def segments_from_events(events: Iterable[LabelEvent], origin: str = "label topic") -> tuple[list[LabelSegment],
                                                                                             list[str]]:
    """Segments and notes (a STOP without a START, an unknown event code) from events in any order."""
    open_by_track: dict[int, LabelSegment] = {}
    segments: list[LabelSegment] = []
    notes: list[str] = []
    for event in sorted(events, key=lambda e: e.stamp_ns):
        current = open_by_track.get(event.track_id)
        if event.event == START:
            if not event.label.strip():
                notes.append(f"{origin}: START at {event.stamp_ns} ns without a label ignored")
                continue
            if current is not None:
                current.end_ns = event.stamp_ns
                segments.append(open_by_track.pop(event.track_id))
            open_by_track[event.track_id] = LabelSegment(event.label.strip(), event.stamp_ns, None, event.track_id,
                                                         origin)
        elif event.event == STOP:
            if current is None or (event.label.strip() and event.label.strip() != current.label):
                notes.append(f"{origin}: STOP {event.label!r} at {event.stamp_ns} ns matches no open segment; ignored")
                continue
            current.end_ns = event.stamp_ns
            segments.append(open_by_track.pop(event.track_id))
        else:
            notes.append(f"{origin}: unknown event code {event.event} at {event.stamp_ns} ns ignored")
    segments.extend(open_by_track.values())
    return [s for s in segments if s.end_ns is None or s.end_ns > s.start_ns], notes


@dataclass
class CsvSegment:
    bag: str
    start_s: float
    end_s: float | None
    label: str
    track_id: int
    line: int


def read_segments_csv(path: Path) -> list[CsvSegment]:
    """``bag,start,end,label[,track]`` with a header row; times in seconds from the bag start, or
    absolute (seconds since the epoch, any value above 1e9); empty end = to the end of the bag;
    empty or missing track = every person."""
    try:
        # utf-8-sig: spreadsheets ("CSV UTF-8") start the file with a byte-order mark
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [{(key or "").strip(): value for key, value in row.items()}
                    for row in csv.DictReader(f, skipinitialspace=True)]
    except (OSError, UnicodeDecodeError) as error:
        raise LabelError(f"cannot read the segments CSV {path}: {error}") from None
    required = {"bag", "start", "end", "label"}
    if not rows or not required <= set(rows[0]):
        raise LabelError(f"{path} needs a header row bag,start,end,label[,track] and data rows")
    result = []
    for line, row in enumerate(rows, start=2):
        try:
            start = float(row["start"] or 0)
            end = float(row["end"]) if (row["end"] or "").strip() else None
            track = int(row["track"]) if (row.get("track") or "").strip() else ALL_PEOPLE
        except ValueError:
            raise LabelError(f"{path}:{line}: start/end must be seconds and track an integer: "
                             f"{row['start']!r}, {row['end']!r}, {row.get('track')!r}") from None
        if not math.isfinite(start) or (end is not None and not math.isfinite(end)):
            raise LabelError(f"{path}:{line}: start/end must be finite seconds, not {row['start']!r}, {row['end']!r}")
        if (end is not None and end <= start) or not (row["label"] or "").strip():
            raise LabelError(f"{path}:{line}: a segment needs end > start and a label")
        result.append(CsvSegment((row["bag"] or "").strip(), start, end, row["label"].strip(), track, line))
    return result


def csv_segments_for(bag_path: Path, rows: Sequence[CsvSegment], bag_start_ns: int, csv_path: Path
                     ) -> list[LabelSegment]:
    """The rows naming this bag (by the path as given, its folder/file name or its stem)."""
    names = {str(bag_path), bag_path.name, bag_path.stem, str(bag_path).rstrip("/")}
    segments = []
    for row in rows:
        if row.bag not in names:
            continue

        def to_ns(seconds: float) -> int:
            return round(seconds * 1e9) if seconds > ABSOLUTE_STAMP_S else bag_start_ns + round(seconds * 1e9)

        segments.append(LabelSegment(row.label, to_ns(row.start_s), None if row.end_s is None else to_ns(row.end_s),
                                     row.track_id, f"{csv_path.name}:{row.line}"))
    return segments


def check_segments(segments: list[LabelSegment], bag: str, start_ns: int, end_ns: int,
                   class_names: Sequence[str] | None) -> list[str]:
    """Raises LabelError on unknown labels, overlaps or segments outside [start_ns, end_ns];
    clips segments partly outside and returns notes saying so."""
    notes: list[str] = []
    if class_names:
        unknown = sorted({s.label for s in segments} - set(class_names))
        if unknown:
            raise LabelError(f"{bag}: label(s) {', '.join(unknown)} not in the classes file "
                             f"(known: {', '.join(class_names)}); add them there or fix the labels")
    for segment in segments:
        if segment.start_ns >= end_ns or (segment.end_ns is not None and segment.end_ns <= start_ns):
            raise LabelError(f"{bag}: label segment {segment.describe(start_ns)} is outside the bag's time range "
                             f"0..{(end_ns - start_ns) / 1e9:.2f}s; fix its times (seconds from the bag start, or "
                             "absolute stamps)")
        if segment.start_ns < start_ns or (segment.end_ns is not None and segment.end_ns > end_ns):
            notes.append(f"label segment {segment.describe(start_ns)} clipped to the bag's time range")
            segment.start_ns = max(segment.start_ns, start_ns)
            if segment.end_ns is not None:
                segment.end_ns = min(segment.end_ns, end_ns)
    by_track: dict[int, list[LabelSegment]] = defaultdict(list)
    for segment in segments:
        by_track[segment.track_id].append(segment)
    everyone = by_track.get(ALL_PEOPLE, [])
    for track, own in by_track.items():
        group = sorted(own + (everyone if track != ALL_PEOPLE else []), key=lambda s: s.start_ns)
        for first, second in itertools.pairwise(group):
            first_end = end_ns if first.end_ns is None else first.end_ns
            if second.start_ns < first_end:
                raise LabelError(f"{bag}: overlapping label segments {first.describe(start_ns)} and "
                                 f"{second.describe(start_ns)}; a performer has one label at a time")
    return notes


def label_at(segments: Sequence[LabelSegment], stamp_ns: int, track_id: int) -> str | None:
    for segment in segments:
        if segment.covers(stamp_ns) and segment.track_id in (track_id, ALL_PEOPLE):
            return segment.label
    return None
