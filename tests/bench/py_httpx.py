"""py_httpx.py -- the Python reference client: asyncio + httpx.AsyncClient,
a semaphore keeping BENCH_C requests in flight, the chat-completion text
extracted from each answer and checked by a trivial validator, as the
Python llmgateway would do it.

Environment: BENCH_BASE, BENCH_N, BENCH_C. Prints one "BENCH ..." line.
"""
import asyncio
import os
import resource
import time

import httpx

BODY = {"model": "bench-model",
        "messages": [{"role": "user", "content": "Reply with ok."}],
        "max_tokens": 4000, "temperature": 0, "stream": False}


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def validator(text):
    return [] if "ok" in text else ["missing ok"]


async def main():
    base = os.environ.get("BENCH_BASE", "http://127.0.0.1:8080/v1")
    n = int(os.environ.get("BENCH_N", "1000"))
    conc = min(int(os.environ.get("BENCH_C", "64")), n)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    url = base + "/chat/completions"
    headers = {"authorization": "Bearer bench-key"}
    limits = httpx.Limits(max_connections=conc,
                          max_keepalive_connections=conc)
    sem = asyncio.Semaphore(conc)
    ok = 0

    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        async def one():
            nonlocal ok
            async with sem:
                r = await client.post(url, json=BODY, headers=headers)
            if r.status_code == 200:
                text = r.json()["choices"][0]["message"]["content"]
                if not validator(text):
                    ok += 1

        rss0 = status_kb("VmRSS")
        t0, c0 = time.perf_counter(), cpu()
        await asyncio.gather(*(one() for _ in range(n)))
        wall, used = time.perf_counter() - t0, cpu() - c0
    print("BENCH what=python n=%d ok=%d wall=%.6f cpu=%.6f rss0=%d rss=%d"
          % (n, ok, wall, used, rss0, status_kb("VmHWM")), flush=True)


asyncio.run(main())
