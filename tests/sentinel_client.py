"""A job queue kept running across a failover by redis-py's Sentinel client.

Run by tests/sentinel.rs: python3 tests/sentinel_client.py <master-pid> <sentinel-port>...

Producers push jobs to a list queue (LPUSH) and a stream (XADD); a job counts as acknowledged
when WAIT says both replicas have it. Halfway, the master is killed with SIGKILL; the client
keeps going through the master Sentinel names. At the end every acknowledged job must have
been consumed (BRPOP, or XREADGROUP + XACK) or still be in the queue. Exit status 0 on success;
the last line printed is a summary.
"""

import os
import signal
import sys
import time

from redis.exceptions import ConnectionError, ReadOnlyError, ResponseError, TimeoutError
from redis.sentinel import MasterNotFoundError, Sentinel

RETRYABLE = (ConnectionError, TimeoutError, ReadOnlyError, MasterNotFoundError, ResponseError)


def retry(fn, deadline=60.0):
    """Run fn until it succeeds, across the failover (connections closed, READONLY from a
    demoted master, no master known for a moment)."""
    end = time.time() + deadline
    while True:
        try:
            return fn()
        except RETRYABLE:
            if time.time() > end:
                raise
            time.sleep(0.05)


def main():
    master_pid = int(sys.argv[1])
    sentinels = [("127.0.0.1", int(p)) for p in sys.argv[2:]]
    sentinel = Sentinel(sentinels, socket_timeout=2.0)
    master = sentinel.master_for("mymaster", socket_timeout=2.0)
    retry(lambda: master.xgroup_create("jobs-stream", "workers", id="0", mkstream=True))

    acked_list, acked_stream = set(), set()
    consumed_list, consumed_stream = set(), set()
    total = 200
    for i in range(total):
        if i == total // 2:
            os.kill(master_pid, signal.SIGKILL)
        job = f"job-{i}"

        def produce():
            master.lpush("jobs", job)
            master.xadd("jobs-stream", {"job": job})
            return master.execute_command("WAIT", 2, 1000)

        try:
            if produce() >= 2:
                acked_list.add(job)
                acked_stream.add(job)
        except RETRYABLE:
            # Not acknowledged: it may or may not be there. Wait for a master before going on.
            retry(lambda: master.ping())
        # A worker takes one job of each kind now and then.
        if i % 3 == 0:
            got = retry(lambda: master.brpop("jobs", timeout=1))
            if got:
                consumed_list.add(got[1].decode())
            entries = retry(
                lambda: master.xreadgroup("workers", "w1", {"jobs-stream": ">"}, count=1)
            )
            for _, msgs in entries or []:
                for msg_id, fields in msgs:
                    consumed_stream.add(fields[b"job"].decode())
                    retry(lambda: master.xack("jobs-stream", "workers", msg_id))

    # Drain what is left.
    while True:
        got = retry(lambda: master.rpop("jobs"))
        if got is None:
            break
        consumed_list.add(got.decode())
    for start in ("0", ">"):
        while True:
            entries = retry(
                lambda: master.xreadgroup("workers", "w1", {"jobs-stream": start}, count=100)
            )
            msgs = [m for _, ms in entries or [] for m in ms]
            if not msgs:
                break
            for msg_id, fields in msgs:
                consumed_stream.add(fields[b"job"].decode())
                retry(lambda: master.xack("jobs-stream", "workers", msg_id))
            if start == "0" and len(msgs) < 100:
                break

    lost_list = sorted(acked_list - consumed_list)
    lost_stream = sorted(acked_stream - consumed_stream)
    addr = sentinel.discover_master("mymaster")
    print(
        f"acked={len(acked_list)} consumed_list={len(consumed_list)} "
        f"consumed_stream={len(consumed_stream)} lost_list={lost_list} "
        f"lost_stream={lost_stream} master={addr[1]}"
    )
    return 0 if not lost_list and not lost_stream and acked_list else 1


if __name__ == "__main__":
    sys.exit(main())
