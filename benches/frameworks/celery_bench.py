"""Celery against one server: tasks sent with apply_async, run by a worker subprocess.

    .venv/bin/python benches/frameworks/celery_bench.py --port P --tasks N
        [--concurrency 8] [--pool threads] [--backend] [--timeout 120] [--pin 1]

Starts `celery -A celery_app worker --pool POOL --concurrency C` (pinned with taskset to CPU
--pin), waits until it is ready, sends N tasks from this process (`inc.apply_async`), and waits
until the task's counter (INCR in the task) reaches N, polling every 10 ms. Prints one line
of key=value fields: send=tasks/s (the apply_async loop) and e2e=tasks/s (first send to the
counter reaching N). With --backend the redis result backend is on (same server, db 1);
without it results are ignored. Checks that every task ran exactly once (a set of task
numbers next to the counter) and that the queue ends empty; otherwise prints error=... and
exits 1.
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--pool", default="threads")
    ap.add_argument("--backend", action="store_true")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--pin", default="1")
    a = ap.parse_args()

    broker = f"redis://127.0.0.1:{a.port}/0"
    os.environ["FRAMEWORKS_BROKER"] = broker
    if a.backend:
        os.environ["FRAMEWORKS_BACKEND"] = f"redis://127.0.0.1:{a.port}/1"
    else:
        os.environ.pop("FRAMEWORKS_BACKEND", None)
    sys.path.insert(0, HERE)
    import redis
    from celery_app import inc

    r = redis.Redis(host="127.0.0.1", port=a.port)
    r.delete("bench:done", "bench:seen", "bench")
    deadline = time.monotonic() + a.timeout

    def fail(msg):
        print(f"error={msg!r}", flush=True)
        stop()
        sys.exit(1)

    cmd = [
        os.path.join(os.path.dirname(sys.executable), "celery"),
        "-A", "celery_app", "worker",
        "--pool", a.pool, "--concurrency", str(a.concurrency),
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-Q", "bench", "-l", "info", "-n", f"bench{os.getpid()}@%h",
    ]
    if a.pin and a.pin != "none":
        cmd = ["taskset", "-c", a.pin] + cmd
    log = []
    worker = subprocess.Popen(
        cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    # A SIGTERM (the bench's timeout) ends this process through `finally`, stopping the worker.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ready = threading.Event()

    def reader():
        for line in worker.stdout:
            log.append(line)
            if " ready." in line:
                ready.set()

    threading.Thread(target=reader, daemon=True).start()

    def stop():
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()

    try:
        while not ready.wait(0.1):
            if worker.poll() is not None:
                fail("worker exited: " + "".join(log[-20:]))
            if time.monotonic() > deadline:
                fail("worker not ready: " + "".join(log[-20:]))

        t0 = time.perf_counter()
        for n in range(a.tasks):
            inc.apply_async((n,))
        t1 = time.perf_counter()
        done = 0
        while True:
            done = int(r.get("bench:done") or 0)
            if done >= a.tasks:
                break
            if time.monotonic() > deadline:
                fail(f"timeout: {done}/{a.tasks} tasks ran; worker log: " + "".join(log[-20:]))
            if worker.poll() is not None:
                fail("worker exited: " + "".join(log[-20:]))
            time.sleep(0.01)
        t2 = time.perf_counter()
        # Late duplicates (a redelivery) would show up here.
        time.sleep(0.2)
        done = int(r.get("bench:done") or 0)
        seen = r.scard("bench:seen")
        queued = r.llen("bench")
        if done != a.tasks or seen != a.tasks or queued != 0:
            fail(f"ran {done} times, {seen} distinct tasks of {a.tasks}, {queued} left in the queue")
        errors = [l for l in log if "ERROR" in l or "Traceback" in l]
        if errors:
            fail("worker errors: " + "".join(errors[:5]))
        print(f"send={a.tasks / (t1 - t0):.0f} e2e={a.tasks / (t2 - t0):.0f}", flush=True)
    finally:
        stop()


if __name__ == "__main__":
    main()
