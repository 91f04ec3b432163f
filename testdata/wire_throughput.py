#!/usr/bin/env python3
"""SELECT PREDICT(...) over the wire against `adapterdb bench` at the same batch.

    python3 testdata/wire_throughput.py --adb bin/adapterdb [--model DIR | --preset minilm-l6]
        [--device cpu] [--batch 64] [--rows 20000] [--max-length 64] [--sessions 8]

Serves a model (a checkpoint directory, or a random one written with
`adapterdb make-checkpoint --preset`), fills a table with --rows texts (the
fortunes texts of testdata/datasets, repeated with a number to make them
distinct), trains a small adapter with CREATE ADAPTER (max_length
--max-length), then times `SELECT id, PREDICT('w', txt) FROM docs` from one
session, and from --sessions sessions at once (each a slice of the ids);
`SELECT id, txt FROM docs` (no inference) gives the SQL layer's and the
wire's own rate beside it.
`adapterdb bench --adapters 1` at the same --batch and the texts' mean token
count (truncated to --max-length) is the featurizer's own rate: the ratio
wire rows/s / bench seq/s is what the SQL path delivers of it (issue 14's
bar: >= 0.8 on a GPU). Prints one JSON line.

The client is the minimal text-protocol client below (--client mini, the
default: a device machine may have no PyMySQL and no network, and it parses
rows about 4x faster than PyMySQL, which would otherwise cap the figure), or
PyMySQL (--client pymysql).
Nothing else should run on the machine meanwhile.
"""
import argparse
import csv
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class MiniConn:
    """A MySQL client for text queries: handshake (empty password), COM_QUERY,
    result sets as lists of tuples of str/None. Enough for this script."""

    def __init__(self, host, port, user, database):
        self.s = socket.create_connection((host, port))
        self.f = self.s.makefile("rb")
        self.seq = 0
        hello = self._read()
        if hello[0] == 0xFF:
            raise RuntimeError("server refused: %r" % hello[3:])
        caps = 0x200 | 0x8000 | 0x1 | 0x2000 | 0x80000 | 0x8  # 4.1, secure, long pw, transactions, plugin auth, with db
        pkt = struct.pack("<IIB23x", caps, 1 << 24, 45) + user.encode() + b"\0" + b"\0"
        pkt += database.encode() + b"\0" + b"mysql_native_password\0"
        self._write(pkt)
        r = self._read()
        if r[0] == 0xFE:  # auth switch: empty password answers empty
            self._write(b"")
            r = self._read()
        if r[0] != 0x00:
            raise RuntimeError("login failed: %r" % r[3:])

    def _read(self):
        out = b""
        while True:
            head = self.f.read(4)
            if len(head) < 4:
                raise RuntimeError("connection closed")
            n = head[0] | head[1] << 8 | head[2] << 16
            self.seq = (head[3] + 1) & 0xFF
            out += self.f.read(n)
            if n < 0xFFFFFF:
                return out

    def _write(self, data):
        self.s.sendall(struct.pack("<I", len(data))[:3] + bytes([self.seq]) + data)
        self.seq = (self.seq + 1) & 0xFF

    @staticmethod
    def _lenenc(b, i):
        c = b[i]
        if c < 0xFB:
            return c, i + 1
        if c == 0xFB:
            return None, i + 1
        if c == 0xFC:
            return struct.unpack_from("<H", b, i + 1)[0], i + 3
        if c == 0xFD:
            return int.from_bytes(b[i + 1:i + 4], "little"), i + 4
        return struct.unpack_from("<Q", b, i + 1)[0], i + 9

    def query(self, sql):
        self.seq = 0
        self._write(b"\x03" + sql.encode())
        r = self._read()
        if r[0] == 0xFF:
            raise RuntimeError("%s: %s" % (sql[:80], r[9:].decode(errors="replace")))
        if r[0] == 0x00:
            return []
        ncols, _ = self._lenenc(r, 0)
        for _ in range(ncols):
            self._read()
        self._read()  # EOF after the column definitions
        rows = []
        while True:
            r = self._read()
            if r[0] == 0xFE and len(r) < 9:
                return rows
            if r[0] == 0xFF:
                raise RuntimeError("%s: %s" % (sql[:80], r[9:].decode(errors="replace")))
            row, i = [], 0
            for _ in range(ncols):
                n, i = self._lenenc(r, i)
                if n is None:
                    row.append(None)
                else:
                    row.append(r[i:i + n].decode())
                    i += n
            rows.append(tuple(row))

    def close(self):
        try:
            self.seq = 0
            self._write(b"\x01")
        finally:
            self.s.close()


class PyConn:
    """PyMySQL behind MiniConn's interface."""

    def __init__(self, host, port, user, database):
        import pymysql
        self.c = pymysql.connect(host=host, port=port, user=user, database=database, autocommit=True)

    def query(self, sql):
        with self.c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def close(self):
        self.c.close()


def connect(kind, port):
    cls = PyConn if kind == "pymysql" else MiniConn
    return cls("127.0.0.1", port, "root", "main"), kind


def quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


def fortunes():
    out = []
    for name in ("fortunes_train.csv", "fortunes_test.csv"):
        with open(os.path.join(ROOT, "testdata", "datasets", name), newline="") as f:
            out += [(r["text"], r["label"]) for r in csv.DictReader(f)]
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def mean_tokens(adb, model, texts, max_len):
    """Mean token count (special tokens included, truncated to max_len)."""
    counts = []
    for lo in range(0, len(texts), 200):
        out = subprocess.run([adb, "tokenize", "--model", model, "--"] + texts[lo:lo + 200],
                             check=True, capture_output=True, text=True).stdout
        counts += [min(len(json.loads(line)), max_len) for line in out.splitlines() if line.strip()]
    return statistics.mean(counts), counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adb", required=True, help="the adapterdb binary")
    ap.add_argument("--model", help="checkpoint directory (default: a random --preset checkpoint)")
    ap.add_argument("--preset", default="minilm-l6", help="make-checkpoint preset when --model is not given")
    ap.add_argument("--device", default="cpu", help="serve and bench --device (cpu, cuda:bf16, ...)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--max-length", type=int, default=64, help="the adapter's max_length (tokens)")
    ap.add_argument("--sessions", type=int, default=8, help="concurrent sessions for the second measurement (0: skip)")
    ap.add_argument("--rounds", type=int, default=2, help="timed rounds of each measurement (the best counts)")
    ap.add_argument("--client", default="mini", choices=["mini", "pymysql"])
    ap.add_argument("--log", help="write the server's log here")
    a = ap.parse_args()
    adb = os.path.abspath(a.adb)
    work = tempfile.mkdtemp(prefix="wire-")
    model = a.model
    if not model:
        model = os.path.join(work, a.preset)
        subprocess.run([adb, "make-checkpoint", "--preset", a.preset, "--out", model], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    log = open(a.log or os.path.join(work, "server.log"), "w")
    srv = subprocess.Popen([adb, "serve", "--db", os.path.join(work, "wire.db"), "--model", model,
                            "--listen", "127.0.0.1:%d" % port, "--batch", str(a.batch), "--device", a.device],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                conn, client = connect(a.client, port)
                break
            except Exception:  # refused until the server listens (PyMySQL wraps it)
                if srv.poll() is not None:
                    sys.exit("server exited at start (log: %s)" % log.name)
                time.sleep(0.1)
        else:
            sys.exit("server did not start")
        src = fortunes()
        conn.query("CREATE TABLE docs (id INT PRIMARY KEY, txt TEXT)")
        texts = []
        for i in range(a.rows):
            t, _ = src[i % len(src)]
            texts.append(t if i < len(src) else "%s (%d)" % (t, i // len(src)))
        for lo in range(0, a.rows, 500):
            conn.query("INSERT INTO docs VALUES " + ", ".join(
                "(%d, %s)" % (i + 1, quote(texts[i])) for i in range(lo, min(lo + 500, a.rows))))
        # A small adapter: which labels it learnt does not matter for speed.
        conn.query("CREATE TABLE train (txt TEXT, label TEXT)")
        conn.query("INSERT INTO train VALUES " + ", ".join(
            "(%s, %s)" % (quote(t), quote(l)) for t, l in src[::len(src) // 128][:128]))
        t0 = time.time()
        conn.query("CREATE ADAPTER w OPTIONS (epochs = 1, max_length = %d, validation_fraction = 0) "
                   "AS SELECT txt, label FROM train" % a.max_length)
        train_s = time.time() - t0
        conn.query("SELECT id, PREDICT('w', txt) FROM docs WHERE id <= %d" % min(2048, a.rows))  # warm-up

        def timed(fn):
            best = None
            for _ in range(a.rounds):
                t0 = time.time()
                n = fn()
                dt = time.time() - t0
                best = dt if best is None else min(best, dt)
            return n / best

        def one():
            rows = conn.query("SELECT id, PREDICT('w', txt) FROM docs")
            assert len(rows) == a.rows, len(rows)
            return len(rows)

        def plain():
            return len(conn.query("SELECT id, txt FROM docs"))

        plain_rate = timed(plain)  # the SQL layer and the wire alone
        wire = timed(one)
        conc = None
        if a.sessions > 1:
            conns = [connect(client, port)[0] for _ in range(a.sessions)]
            per = (a.rows + a.sessions - 1) // a.sessions

            def many():
                got, errs = [0] * a.sessions, []

                def run(k):
                    try:
                        got[k] = len(conns[k].query("SELECT id, PREDICT('w', txt) FROM docs WHERE id > %d AND id <= %d"
                                                    % (k * per, (k + 1) * per)))
                    except Exception as e:  # reported below
                        errs.append(e)
                ts = [threading.Thread(target=run, args=(k,)) for k in range(a.sessions)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                if errs:
                    raise errs[0]
                assert sum(got) == a.rows, got
                return sum(got)
            conc = timed(many)
            for c in conns:
                c.close()
        conn.close()
    finally:
        srv.terminate()
        srv.wait(timeout=30)
        log.close()
    sample = texts[:: max(1, a.rows // 2000)]
    mean_len, counts = mean_tokens(adb, model, sample, a.max_length)
    seq = max(2, round(mean_len))
    out = subprocess.run([adb, "bench", "--model", model, "--device", a.device, "--batch", str(a.batch),
                          "--seq", str(seq), "--iters", "20", "--adapters", "1"],
                         check=True, capture_output=True, text=True).stdout
    bench = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
    res = {
        "device": a.device, "model": a.model or a.preset, "client": client, "rows": a.rows, "batch": a.batch,
        "max_length": a.max_length, "mean_tokens": round(mean_len, 1),
        "max_tokens_share": round(sum(c == a.max_length for c in counts) / len(counts), 3),
        "bench_seq": seq, "bench_seq_per_s": round(bench["seq_per_s"], 1),
        "wire_rows_per_s": round(wire, 1), "ratio": round(wire / bench["seq_per_s"], 3),
        "plain_rows_per_s": round(plain_rate, 1),
        "train_s": round(train_s, 2),
        "load": os.getloadavg()[0],
    }
    if conc is not None:
        res.update({"sessions": a.sessions, "wire_sessions_rows_per_s": round(conc, 1),
                    "ratio_sessions": round(conc / bench["seq_per_s"], 3)})
    print(json.dumps(res))


if __name__ == "__main__":
    main()
