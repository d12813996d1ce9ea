"""Per-call cost of the Python libraries a user would pick instead of observers, for
`cargo xtask bench --compare`.

    python python_peers.py MODE BASE_URL CALLS

makes CALLS chat completions against BASE_URL with the official `openai` SDK and prints one
JSON object: latency percentiles (µs) and process CPU per call (µs, every thread, the
library's background work included: its queue is flushed before the clock stops).

MODE is `bare` (the SDK alone), `observers` (wrapped by Python observers with its default
DuckDB store) or `langfuse` (the Langfuse SDK's OpenAI integration, exporting over
OTLP/HTTP to LANGFUSE_HOST, a loopback sink here). Each mode runs in a process of its own:
Langfuse's integration patches the `openai` module for the whole process.
"""

import json
import os
import statistics
import sys
import time

MODE, BASE_URL, CALLS = sys.argv[1], sys.argv[2], int(sys.argv[3])
MESSAGES = json.loads(os.environ["OBSERVERS_COMPARE_MESSAGES"])
WARM_UP = 50


def client_and_flush():
    if MODE == "bare":
        import openai

        return openai.OpenAI(base_url=BASE_URL, api_key="sk-compare"), lambda: None, lambda: None
    if MODE == "observers":
        import openai
        from observers import wrap_openai
        from observers.stores.duckdb import DuckDBStore

        store = DuckDBStore.connect("store.db")
        client = wrap_openai(openai.OpenAI(base_url=BASE_URL, api_key="sk-compare"), store=store)
        rows = lambda: store._conn.execute("SELECT count(*) FROM openai_records").fetchone()[0]
        return client, lambda: None, rows
    if MODE == "langfuse":
        from langfuse import get_client
        from langfuse.openai import openai

        langfuse = get_client()
        return openai.OpenAI(base_url=BASE_URL, api_key="sk-compare"), langfuse.flush, lambda: None
    raise SystemExit(f"unknown mode {MODE!r}: bare, observers or langfuse")


def main():
    client, flush, rows = client_and_flush()

    def call():
        started = time.perf_counter()
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return time.perf_counter() - started

    for _ in range(WARM_UP):
        call()
    flush()
    cpu = time.process_time()
    latencies = [call() for _ in range(CALLS)]
    flush()
    cpu = time.process_time() - cpu
    ordered = sorted(latencies)
    print(
        json.dumps(
            {
                "calls": CALLS,
                "p50_us": ordered[len(ordered) // 2] * 1e6,
                "p99_us": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e6,
                "mean_us": statistics.fmean(latencies) * 1e6,
                "cpu_us_per_call": cpu * 1e6 / CALLS,
                "rows": rows(),
            }
        )
    )


if __name__ == "__main__":
    main()
