"""Rates and latencies over a sliding time window, for the diagnostics nodes log periodically."""
from __future__ import annotations

import time
from collections import deque

import numpy as np


class RateMonitor:
    def __init__(self, horizon_s: float = 5.0) -> None:
        self.horizon_s = horizon_s
        self._events: deque[tuple[float, float]] = deque()  # (monotonic time, latency ms)
        self.total = 0
        self.dropped = 0

    def record(self, latency_ms: float = float("nan")) -> None:
        now = time.monotonic()
        self._events.append((now, latency_ms))
        self.total += 1
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._events and now - self._events[0][0] > self.horizon_s:
            self._events.popleft()

    def rate_hz(self) -> float:
        self._trim(time.monotonic())
        if len(self._events) < 2:
            return 0.0
        span = self._events[-1][0] - self._events[0][0]
        return (len(self._events) - 1) / span if span > 0 else 0.0

    def latency_ms(self, percentile: float) -> float:
        values = [lat for _, lat in self._events if np.isfinite(lat)]
        return float(np.percentile(values, percentile)) if values else float("nan")

    def summary(self, what: str) -> str:
        """One log line; the latency part only when latencies were recorded (a camera has none)."""
        p50 = self.latency_ms(50)
        latency = f", latency p50 {p50:.1f} ms p99 {self.latency_ms(99):.1f} ms" if np.isfinite(p50) else ""
        return f"{what}: {self.rate_hz():.1f} Hz{latency}, total {self.total}, dropped {self.dropped}"
