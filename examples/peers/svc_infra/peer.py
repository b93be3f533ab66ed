"""The svc-infra side of examples/peers/run.sh.

    python peer.py REDIS_URL enqueue|process JOBS [CONCURRENCY]

Prints one line: `svc-infra <figure> <concurrency> <jobs> <jobs per second>`.
svc-infra 1.22 has no bulk enqueue. `process` fills the queue, then starts
CONCURRENCY processes, each running svc-infra's process_one() with a no-op
handler until the queue is empty, and times them until the last one exits.
The queue client is synchronous, so processes are its unit of concurrency.
"""

import asyncio
import multiprocessing
import os
import sys
import time

from redis import Redis
from svc_infra.jobs.redis_queue import RedisJobQueue
from svc_infra.jobs.worker import process_one

USAGE = "usage: python peer.py REDIS_URL enqueue|process JOBS [CONCURRENCY]"


def open_queue(url, prefix):
    return RedisJobQueue(Redis.from_url(url), prefix=prefix)


def fill(queue, jobs):
    for n in range(jobs):
        queue.enqueue("noop", {"n": n})


async def noop(job):
    return None


def drain(url, prefix):
    """Run process_one() until no job is ready, so the process exits."""
    queue = open_queue(url, prefix)

    async def loop():
        while await process_one(queue, noop):
            pass

    asyncio.run(loop())


def main():
    if len(sys.argv) < 4:
        sys.exit(USAGE)
    url, figure, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    prefix = f"svc-infra-peer-{figure}-{concurrency}-{os.getpid()}"
    queue = open_queue(url, prefix)

    if figure == "enqueue":
        started = time.perf_counter()
        fill(queue, jobs)
        elapsed = time.perf_counter() - started
    elif figure == "process":
        fill(queue, jobs)
        workers = [multiprocessing.Process(target=drain, args=(url, prefix)) for _ in range(concurrency)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        left = queue._r.llen(f"{prefix}:ready") + queue._r.llen(f"{prefix}:processing")
        if left:
            sys.exit(f"{left} jobs were left unprocessed under {prefix}")
    else:
        sys.exit(f"unknown figure `{figure}`; {USAGE}")

    print(f"svc-infra {figure} {concurrency} {jobs} {jobs / elapsed:.0f}")
    keys = list(queue._r.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        queue._r.unlink(*keys[start : start + 1000])


if __name__ == "__main__":
    main()
