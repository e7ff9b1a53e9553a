"""bench/_cpu_share.py: the CPU a process took over a window, from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench._cpu_share import CpuSampler, cpu_seconds


def test_a_busy_process_shows_about_a_core_and_an_idle_one_none() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with CpuSampler({"busy": [busy.pid], "idle": [idle.pid]}, period_s=0.1) as s:
            t0 = time.time()
            time.sleep(1.5)
            t1 = time.time()
        cores = s.cores(t0, t1)
        assert 0.3 < cores["busy"] <= 1.1  # a shared 2-core machine may not give it all
        assert cores["idle"] < 0.05
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()


def test_a_gone_process_counts_nothing_and_a_short_window_says_nothing() -> None:
    assert cpu_seconds(os.getpid()) > 0
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its /proc entry is gone
    assert cpu_seconds(gone.pid) == 0.0
    with CpuSampler({"me": [os.getpid()]}, period_s=5.0) as s:
        pass
    assert s.cores(time.time() + 10, time.time() + 20) == {}
