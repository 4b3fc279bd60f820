#!/usr/bin/env python3
"""Time to ready of a Lambda bootstrap: from exec until it asks the runtime API for its first
invocation (GET .../runtime/invocation/next), which is when Lambda considers the init done.
A stand-in runtime API on 127.0.0.1 answers nothing (the binary waits); runs N times and
prints the median and the worst, in milliseconds.

Usage: scripts/ready-time.py [binary, default target/release/api] [runs, default 20]
"""
import http.server
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/api"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
asked = threading.Event()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            asked.set()
            time.sleep(0.5)  # hold the request; the process is killed meanwhile
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(
    os.environ,
    AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
    AWS_LAMBDA_FUNCTION_NAME="ready-time",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
    AWS_LAMBDA_FUNCTION_VERSION="1",
    AWS_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="x",
    AWS_SECRET_ACCESS_KEY="x",
    TABLE_NAME="ready-time",
    ACK_LINK_SECRET="ready-time",
    RUST_LOG="warn",
)
times = []
for _ in range(runs):
    asked.clear()
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not asked.wait(5):
        process.kill()
        sys.exit(f"{binary} did not ask for an invocation within 5 s")
    times.append((time.perf_counter() - started) * 1000)
    process.kill()
    process.wait()
print(f"{binary}: ready in {statistics.median(times):.1f} ms median, {max(times):.1f} ms worst of {runs}")
