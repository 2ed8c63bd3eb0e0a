"""Runs SQL statements on chdb (a current ClickHouse engine, in-process) and reports each result.

Input on stdin: JSON {"setup": [sql...], "statements": [sql...], "max_rows": n (default 50)}. Setup runs first (e.g. migrations);
each statement's outcome is printed as one JSON line: {"i": n, "ok": bool, "error": str, "rows": [...]}.
Used by test/unit/sql-portability.test.ts so every statement the project owns is checked on a
current engine as well as on the 18.16 server.
"""
import json
import sys
import tempfile

import chdb
from chdb import session as chs

req = json.load(sys.stdin)
with tempfile.TemporaryDirectory() as path:
    sess = chs.Session(path)
    sess.query("CREATE DATABASE IF NOT EXISTS hitstream")
    sess.query("USE hitstream")
    for i, stmt in enumerate(req.get("setup", [])):
        try:
            sess.query(stmt)
        except Exception as e:  # report setup failures as statement failures
            print(json.dumps({"i": i, "setup": True, "ok": False, "error": str(e)[:500]}), flush=True)
    for i, stmt in enumerate(req["statements"]):
        try:
            res = sess.query(stmt, "JSONEachRow")
            text = res.bytes().decode() if hasattr(res, "bytes") else str(res)
            rows = [json.loads(l) for l in text.splitlines() if l.strip()]
            print(json.dumps({"i": i, "ok": True, "rows": rows[: req.get("max_rows", 50)]}), flush=True)
        except Exception as e:
            print(json.dumps({"i": i, "ok": False, "error": str(e)[:500]}), flush=True)
    sess.close()
