"""Play the Python side of the svc-infra interoperability tests.

tests/tests/interop_svc_infra.rs runs this script with the interpreter of a
virtualenv that has svc-infra 1.22 installed, against a throwaway Redis:

    svc_infra_peer.py enqueue REDIS_URL PREFIX
        Enqueue the jobs listed in PRODUCED with svc-infra's RedisJobQueue.
    svc_infra_peer.py work REDIS_URL PREFIX PLAN
        Reserve jobs with svc-infra's reserve_next() and ack or fail each
        one. PLAN is JSON: {"expect": <number of jobs>, "timeout": <seconds>,
        "fail": {"<job name>": "<error>"}}; jobs whose name is not in "fail"
        are acked.

Each command prints one JSON object on stdout. The exit status is 3 when
svc_infra cannot be imported, and 1 when the work plan times out.
"""

import json
import sys
import time

try:
    from importlib.metadata import version

    import redis
    from svc_infra.jobs.redis_queue import RedisJobQueue
except ImportError as error:
    print(f"cannot import svc_infra or redis: {error}", file=sys.stderr)
    sys.exit(3)


def produced():
    """Return (key, job name, payload, delay in seconds) for each job to enqueue.

    json.dumps, which svc-infra uses, writes the non-finite floats as the
    bare tokens NaN, Infinity and -Infinity, integers of any width in full,
    and non-ASCII text as \\u escapes, with surrogate pairs above U+FFFF.
    """
    return [
        ("greet", "interop.greet", {"name": "Ada", "visits": 3}, 0),
        ("delayed", "interop.greet", {"name": "Later", "visits": 1}, 2),
        ("note", "interop.note", {"text": "caf\u00e9 \u20ac \U0001f600 \u65e5\u672c"}, 0),
        ("nan", "interop.reading", {"sensor": "t1", "value": float("nan"), "label": "NaN"}, 0),
        ("negative_infinity", "interop.reading", {"sensor": "t2", "value": float("-inf"), "label": "-Infinity"}, 0),
        ("strict", "interop.strict_reading", {"value": float("inf")}, 0),
        ("ledger", "interop.ledger", {"credit": 2**100, "debt": -(2**80)}, 0),
        ("counter", "interop.counter", {"count": 2**70}, 0),
    ]


def enqueue(queue):
    ids = {}
    for key, name, payload, delay in produced():
        ids[key] = queue.enqueue(name, payload, delay_seconds=delay).id
    return {"ids": ids}


def work(queue, plan):
    deadline = time.monotonic() + plan["timeout"]
    failures = plan.get("fail", {})
    seen = []
    while len(seen) < plan["expect"]:
        if time.monotonic() > deadline:
            print(f"reserved {len(seen)} of {plan['expect']} jobs before the timeout", file=sys.stderr)
            print(json.dumps({"jobs": seen}))
            sys.exit(1)
        job = queue.reserve_next()
        if job is None:
            time.sleep(0.05)
            continue
        seen.append(
            {
                "id": job.id,
                "name": job.name,
                "payload": job.payload,
                "attempts": job.attempts,
                "max_attempts": job.max_attempts,
                "backoff_seconds": job.backoff_seconds,
                "reserved_at": time.time(),
            }
        )
        if job.name in failures:
            queue.fail(job.id, error=failures[job.name])
        else:
            queue.ack(job.id)
    return {"jobs": seen}


def main():
    command, url, prefix = sys.argv[1:4]
    client = redis.Redis.from_url(url)
    queue = RedisJobQueue(client, prefix=prefix)
    if command == "enqueue":
        report = enqueue(queue)
    elif command == "work":
        report = work(queue, json.loads(sys.argv[4]))
    else:
        print(f"unknown command {command!r}; use enqueue or work", file=sys.stderr)
        sys.exit(2)
    report["svc_infra_version"] = version("svc-infra")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
