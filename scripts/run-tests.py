#!/usr/bin/env python3
"""Runs every test binary cargo built, a few side by side, where cargo-nextest is absent.

`cargo test` runs its binaries one after another, and most of their time is spent waiting on
DynamoDB Local and Chromium rather than the CPU. Reads cargo's JSON messages on stdin
(`cargo test --no-run --message-format=json`), starts the binaries that ran longest last time
first (names in SLOW), then the fault tests on their own (ALONE: they load the machine on
purpose, and a loaded machine's timeouts are part of what they check), prints each binary's
output when it finishes, and exits non-zero if any failed. Usage: run-tests.py LANES < messages.json
"""
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

# Longest first, so the short binaries fill the gaps at the end (measured in BENCHMARKS.md).
SLOW = ["console", "lead_log", "distribution", "governance", "notify", "qualification", "concurrency"]
ALONE = ["faults"]


def binaries(messages):
    found = []
    for line in messages:
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact":
            continue
        if message.get("profile", {}).get("test") and message.get("executable"):
            found.append((message["target"]["name"], message["executable"]))
    return found


def rank(entry):
    name = entry[0]
    return SLOW.index(name) if name in SLOW else len(SLOW)


def run(entry):
    name, executable = entry
    started = time.monotonic()
    done = subprocess.run([executable], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return name, done.returncode, done.stdout.decode(errors="replace"), time.monotonic() - started


def report(result, failed):
    name, code, output, seconds = result
    sys.stdout.write(output)
    print(f"== {name}: {'ok' if code == 0 else 'FAILED'} in {seconds:.1f} s", flush=True)
    if code != 0:
        failed.append(name)


def main():
    lanes = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    found = sorted(binaries(sys.stdin), key=rank)
    alone = [entry for entry in found if entry[0] in ALONE]
    failed = []
    with ThreadPoolExecutor(max_workers=lanes) as pool:
        side_by_side = [entry for entry in found if entry[0] not in ALONE]
        for future in as_completed([pool.submit(run, entry) for entry in side_by_side]):
            report(future.result(), failed)
    for entry in alone:
        report(run(entry), failed)
    if failed:
        print(f"== failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    main()
