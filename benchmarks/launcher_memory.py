"""Memory of the `dance-recognition live` launcher over a long run on a looping video.

    .venv/bin/python benchmarks/launcher_memory.py [--seconds 1260] [--no-annotated-video] [--tracemalloc]

Runs ``launcher.run_live`` in this process (the launcher's own process: the nodes are children)
on ../shared/data/videos/ta_chi.mp4 looping, prints this process's RSS every minute and the
growth per minute after the first minute (start-up), and with ``--tracemalloc`` the Python heap
and the allocation sites that grew most between the first and the last sample. Compare a run with
the annotated video (the default of `live` on a file) against ``--no-annotated-video``: the mp4
writer keeps an index entry per written frame in memory until the file is closed.
Export a ROS_DOMAIN_ID of your own first: another graph in the domain would feed this one.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dance_recognition.ros import launcher
from dance_recognition.ros.graph import LiveArguments

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "ta_chi.mp4"


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


class Sampler(threading.Thread):
    """Every minute: the RSS, and with tracemalloc a snapshot (the first after start-up is kept
    as the baseline, the newest as the end)."""

    def __init__(self, with_heap: bool) -> None:
        super().__init__(daemon=True)
        self.with_heap, self.stop = with_heap, threading.Event()
        self.samples: list[tuple[float, int]] = []
        self.baseline = self.latest = None

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.wait(60 if self.samples else 0):
            self.samples.append((time.monotonic() - started, rss_kb()))
            line = f"[memory] {self.samples[-1][0]:5.0f} s  rss {self.samples[-1][1] / 1024:.1f} MB"
            if self.with_heap:
                own = tracemalloc.Filter(False, tracemalloc.__file__)  # not the snapshots themselves
                self.latest = tracemalloc.take_snapshot().filter_traces([own])
                if self.baseline is None and self.samples[-1][0] >= 60:
                    self.baseline = self.latest
                line += f"  python heap {tracemalloc.get_traced_memory()[0] / 1e6:.2f} MB (with snapshots)"
            print(line, flush=True)

    def report(self, annotated: bool) -> None:
        after_start = [(t, kb) for t, kb in self.samples if t >= 60]  # the first minute is start-up
        if len(after_start) >= 2:
            (t0, first), (t1, last) = after_start[0], after_start[-1]
            rate = (last - first) / ((t1 - t0) / 60)
            print(f"[memory] annotated video: {'yes' if annotated else 'no'}; rss {first / 1024:.1f} -> "
                  f"{last / 1024:.1f} MB from {t0:.0f} s to {t1:.0f} s: {rate:+.0f} kB/min")
        if self.baseline is not None and self.latest is not self.baseline:
            for stat in self.latest.compare_to(self.baseline, "lineno")[:5]:
                print(f"[memory] python heap {stat}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--no-annotated-video", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true", help="also the Python heap (slows the launcher)")
    args = parser.parse_args()
    if args.tracemalloc:
        tracemalloc.start(10)
    sampler = Sampler(args.tracemalloc)
    with tempfile.TemporaryDirectory() as folder:
        record = None if args.no_annotated_video else Path(folder) / "annotated.mp4"
        sampler.start()
        code = launcher.run_live(LiveArguments(input=str(args.video), loop="true", end_with_input=False),
                                 record=record, duration_s=args.seconds)
        sampler.stop.set()
        sampler.join()
    sampler.report(record is not None)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
