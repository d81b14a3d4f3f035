"""The Celery application of benches/frameworks/celery_bench.py.

Broker: FRAMEWORKS_BROKER (redis://127.0.0.1:PORT/0). The result backend is off unless
FRAMEWORKS_BACKEND is set (then results go to that URL). The task counts its runs in the
broker's server: INCR of a counter, and SADD of its number so a task run twice is seen.
"""

import os

import redis
from celery import Celery

BROKER = os.environ.get("FRAMEWORKS_BROKER", "redis://127.0.0.1:6379/0")
BACKEND = os.environ.get("FRAMEWORKS_BACKEND") or None

app = Celery("bench", broker=BROKER, backend=BACKEND)
app.conf.update(
    task_ignore_result=BACKEND is None,
    task_default_queue="bench",
    worker_prefetch_multiplier=int(os.environ.get("FRAMEWORKS_PREFETCH", "4")),
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    result_expires=600,
)

_counter = redis.Redis.from_url(BROKER)


@app.task(name="bench.inc")
def inc(n):
    pipe = _counter.pipeline(transaction=False)
    pipe.sadd("bench:seen", n)
    pipe.incr("bench:done")
    pipe.execute()
    return n
