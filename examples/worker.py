"""A job-queue worker on ferrymq with redis-py: visibility timeout, dead-letter stream and
delayed retry done by the server, not by this loop.

    pip install redis
    cargo run --release &                 # ferrymq on 127.0.0.1:6379
    python3 examples/worker.py produce 20 # enqueue 20 jobs (every 7th one always fails)
    python3 examples/worker.py work w1    # run a worker (start several)

- A job that is not acknowledged within VISIBILITY ms (the worker died or hung) is delivered
  again to whichever worker reads next: there is no XPENDING/XAUTOCLAIM loop here.
- A job delivered MAX_DELIVERIES times goes to the dead-letter stream `jobs:dead` with its
  origin; `python3 examples/worker.py redrive` puts them back.
- A job that fails is retried later with FMQ.SCHEDULE (exponential back-off) and acknowledged
  now, so the retry is a new entry that no worker sees before its time. Once its retries are
  used up it is left unacknowledged, and the server's delivery limit dead-letters it.
"""

import json
import os
import sys
import time

import redis

STREAM, GROUP, DEAD = "jobs", "workers", "jobs:dead"
VISIBILITY_MS, MAX_DELIVERIES, RETRIES = 2_000, 3, 2


def connect():
    r = redis.Redis(host="127.0.0.1", port=int(os.environ.get("PORT", "6379")), decode_responses=True)
    try:
        r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise
    r.execute_command(
        "FMQ.GROUPSET", STREAM, GROUP,
        "VISIBILITY", VISIBILITY_MS,
        "MAXDELIVERIES", MAX_DELIVERIES,
        "DEADLETTER", DEAD,
    )
    return r


def handle(job):
    n = int(job["n"])
    if n % 7 == 0:
        raise RuntimeError(f"job {n} always fails")
    time.sleep(0.05)


def work(name):
    r = connect()
    while True:
        reply = r.xreadgroup(GROUP, name, {STREAM: ">"}, count=1, block=5_000)
        if not reply:
            continue
        for entry_id, fields in reply[0][1]:
            attempt = int(fields.get("attempt", "0"))
            try:
                handle(fields)
                print(f"{name}: done {fields}")
            except Exception as e:  # noqa: BLE001 - any failure is retried
                if attempt >= RETRIES:
                    # Out of retries: leave it unacknowledged. The server delivers it again
                    # after the visibility timeout, and after MAX_DELIVERIES moves it to the
                    # dead-letter stream.
                    print(f"{name}: giving up on {fields}")
                    continue
                delay = 200 * 2 ** attempt
                retry = dict(fields, attempt=str(attempt + 1), error=str(e))
                args = [x for kv in retry.items() for x in kv]
                r.execute_command("FMQ.SCHEDULE", "DELAY", delay, "XADD", STREAM, "*", *args)
                print(f"{name}: failed {fields}, retry in {delay} ms")
            # This delivery is over; a crash before this line means redelivery.
            r.xack(STREAM, GROUP, entry_id)


def produce(count):
    r = connect()
    for n in range(count):
        r.xadd(STREAM, {"n": str(n), "payload": json.dumps({"n": n})})
    print(f"enqueued {count} jobs")


def redrive():
    r = connect()
    print("moved back:", r.execute_command("FMQ.REDRIVE", DEAD, "COUNT", 1000))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "work"
    if cmd == "produce":
        produce(int(sys.argv[2]) if len(sys.argv) > 2 else 10)
    elif cmd == "redrive":
        redrive()
    else:
        work(sys.argv[2] if len(sys.argv) > 2 else "worker-1")
