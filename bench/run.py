#!/usr/bin/env python3
"""Benchmark `backups list` against the emulator on loopback, side by side with the official
Huawei Python SDK, and print a Markdown table.

    python3 bench/run.py                      # N = 1k, 10k, 100k at 0 ms and 50 ms
    python3 bench/run.py --sizes 10000 --latencies 50 --no-sdk
    python3 bench/run.py --worst-page-only [--bin OTHER/backups]   # peak RSS of hostile pages
    python3 bench/run.py --only-tls           # over TLS with a 50 ms round trip on the wire,
                                              # and 200 accounts at once (tls_rows, many_accounts)

For each (N, latency) it starts `backups emulator --scale N --latency-ms M`, lists the
AK/SK demo account `huawei-demo-sg` (N backups, pages of 1000) with `-o ndjson` to /dev/null,
and reports wall time, CPU time and peak RSS (from /usr/bin/time), the round-trip floors and
the ratio to them, then the same listing through huaweicloudsdkcbr (installed into
target/bench-venv on first use). Everything runs on 127.0.0.1 and stops by itself.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "backups")
VENV = os.path.join(ROOT, "target", "bench-venv")
PAGE = 1000
PARALLEL = 16  # `backups list --parallel` default
ACCOUNT = "huawei-demo-sg"


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (wall s, cpu s, peak RSS MiB, stdout)."""
    fmt = "%e %U %S %M"
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", fmt] + cmd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=600)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr.decode()[-2000:]}")
        fields = tf.read().strip().splitlines()[-1].split()
        _, user, system, rss_kib = fields
        return wall, float(user) + float(system), int(rss_kib) / 1024, out.stdout


def start_emulator(n, latency, cfg):
    proc = subprocess.Popen([BIN, "emulator", "--port", "0", "--scale", str(n), "--latency-ms", str(latency),
                             "--write-config", cfg], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proc.stdout.readline()  # the base URL: the listeners are up
    return proc


def sdk_python():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "huaweicloudsdkcbr"], check=True)
    return py


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--latencies", default="0,50")
    ap.add_argument("--runs", type=int, default=5, help="runs per point; the best is reported")
    ap.add_argument("--no-sdk", action="store_true")
    ap.add_argument("--formats", default="ndjson,json,csv,table",
                    help="output formats whose memory is measured at the largest size, 0 ms")
    ap.add_argument("--table-sizes", default="10000",
                    help="further sizes at which `-o table` is measured, 0 ms (the table's budget: "
                         "10k rows under 0.3 s, 100k under 3 s and 200 MiB)")
    ap.add_argument("--accounts-scale", type=int, default=2000,
                    help="backups per demo account for the all-accounts run at 50 ms (0 skips it)")
    ap.add_argument("--record-rows", type=int, default=100000,
                    help="rows of the `list --record` measurement, 0 ms (0 skips it)")
    ap.add_argument("--record-only", action="store_true",
                    help="run only the `list --record` measurement")
    ap.add_argument("--worst-page-only", action="store_true",
                    help="only the worst-case page rows (peak RSS of a hostile page of tiny rows)")
    ap.add_argument("--bin", default=BIN, help="the backups binary to measure (default: this tree's release build)")
    ap.add_argument("--only-tls", action="store_true", help="print the TLS rows only")
    ap.add_argument("--tls-sizes", default="10000",
                    help="sizes listed over TLS with --rtt (0 skips it); see tls_rows()")
    ap.add_argument("--rtt", type=int, default=50, help="round trip on the wire for the TLS rows, ms")
    ap.add_argument("--many-accounts", type=int, default=200,
                    help="generated accounts for the many-accounts run over TLS (0 skips it)")
    ap.add_argument("--many-scale", type=int, default=300, help="backups per generated account")
    args = ap.parse_args()
    if args.worst_page_only:
        if args.bin == BIN:
            subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        print_worst_pages(measure_worst_pages(args.bin))
        return
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if args.record_only:
        print_record(args.record_rows, measure_record(args.record_rows, args.runs))
        return
    if args.tls_sizes != "0" or args.many_accounts:
        tls = tls_rows([int(x) for x in args.tls_sizes.split(",") if x and x != "0"], args.rtt, args.runs,
                       None if args.no_sdk else sdk_python())
        many = many_accounts(args.many_accounts, args.many_scale, args.rtt, args.runs) if args.many_accounts else None
        print_tls(tls, many, args.rtt)
        if args.only_tls:
            return
    py = None if args.no_sdk else sdk_python()
    rows = []
    for latency in [int(x) for x in args.latencies.split(",")]:
        for n in [int(x) for x in args.sizes.split(",")]:
            with tempfile.TemporaryDirectory() as d:
                cfg = os.path.join(d, "config.toml")
                emu = start_emulator(n, latency, cfg)
                try:
                    acct = tomllib.load(open(cfg, "rb"))["accounts"][ACCOUNT]
                    cmd = [BIN, "list", "--config", cfg, "--account", ACCOUNT, "-o", "ndjson"]
                    # One unmeasured run first: the emulator renders each row's JSON on first use.
                    timed(cmd)
                    best = min((timed(cmd) for _ in range(args.runs)), key=lambda r: r[0])
                    count = best[3].count(b"\n")
                    if count != n:
                        sys.exit(f"backups listed {count} rows, expected {n}")
                    sdk = None
                    if py:
                        scmd = [py, os.path.join(ROOT, "bench", "huawei_sdk.py"), acct["endpoint"],
                                acct["access_key"], acct["secret_key"], acct["project_id"], str(PAGE)]
                        sdk = min((timed(scmd) for _ in range(max(1, args.runs - 1))), key=lambda r: r[0])
                        if int(sdk[3].strip()) != n:
                            sys.exit(f"the SDK listed {sdk[3].strip()} rows, expected {n}")
                finally:
                    emu.kill()
                    emu.wait()
            requests = math.ceil(n / PAGE) + 1  # every page, then the empty page that ends it
            seq_floor = requests * latency / 1000
            par_floor = (1 + math.ceil((requests - 1) / PARALLEL)) * latency / 1000
            rows.append((n, latency, best, seq_floor, par_floor, sdk))
    largest = max(int(x) for x in args.sizes.split(","))
    points = [(fmt, largest) for fmt in args.formats.split(",") if fmt]
    if "table" in args.formats.split(","):
        points = [("table", int(n)) for n in args.table_sizes.split(",") if n and int(n) != largest] + points
    formats = measure_formats(points, args.runs)
    version = min(timed([BIN, "--version"])[0] for _ in range(20))
    accounts = measure_accounts(args.accounts_scale, 50, args.runs) if args.accounts_scale else None
    print(f"| backups | latency | wall | CPU | peak RSS | floor seq / par({PARALLEL}) | wall / par floor | SDK wall | SDK RSS | SDK / backups |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, latency, (wall, cpu, rss, _), seq, par, sdk in rows:
        ratio = f"{wall / par:.2f}x" if par > 0 else "-"
        s_wall = f"{sdk[0]:.3f} s" if sdk else "-"
        s_rss = f"{sdk[2]:.0f} MiB" if sdk else "-"
        speed = f"{sdk[0] / wall:.1f}x" if sdk else "-"
        print(f"| {n:,} | {latency} ms | {wall:.3f} s | {cpu:.3f} s | {rss:.1f} MiB | {seq:.2f} / {par:.2f} s | {ratio} | {s_wall} | {s_rss} | {speed} |")

    print()
    print(f"`backups --version`: {version * 1000:.1f} ms (best of 20, process start included)")
    if formats:
        print()
        print("| output | rows | wall | CPU | peak RSS |")
        print("|---|---:|---:|---:|---:|")
        for fmt, n, (wall, cpu, rss, _) in formats:
            print(f"| `-o {fmt}` | {n:,} | {wall:.3f} s | {cpu:.3f} s | {rss:.1f} MiB |")
    if accounts:
        (wall, cpu, rss, rows), single = accounts
        print()
        print(f"Every demo account (all five providers), {args.accounts_scale:,} backups each, 50 ms:")
        print()
        print("| account | rows | wall | CPU | peak RSS |")
        print("|---|---:|---:|---:|---:|")
        for name, (s_wall, s_cpu, s_rss, s_rows) in single:
            print(f"| {name} | {s_rows:,} | {s_wall:.3f} s | {s_cpu:.3f} s | {s_rss:.1f} MiB |")
        total = sum(r[0] for _, r in single)
        print(f"| **all {len(single)} at once** | {rows:,} | {wall:.3f} s | {cpu:.3f} s | {rss:.1f} MiB |")
        print()
        print(f"All at once take {wall:.3f} s: the slowest account alone takes "
              f"{max(r[0] for _, r in single):.3f} s, one after another {total:.3f} s.")
    print_worst_pages(measure_worst_pages(args.bin))
    if args.record_rows:
        print()
        print_record(args.record_rows, measure_record(args.record_rows, args.runs))


WORST_PROJECT = "0123456789abcdef0123456789abcdef"


def tiny_rows_page(body_bytes, prefix=""):
    """A Huawei ListBackups page of rows with nothing but an id, about body_bytes long."""
    rows, size, i = [], 40, 0
    while size < body_bytes:
        row = '{"id":"%s%d"}' % (prefix, i)
        rows.append(row)
        size += len(row) + 1
        i += 1
    return ('{"backups":[' + ",".join(rows) + '],"count":%d}' % len(rows)).encode(), len(rows)


def serve_pages(pages):
    """Serves ListBackups pages on 127.0.0.1: `pages(offset)` gives each body. Returns the
    server (stop it with shutdown())."""
    import http.server
    import threading
    import urllib.parse

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            body = pages(int(query.get("offset", ["0"])[0]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on a page it refused

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def measure_worst_pages(binary):
    """Peak RSS of the worst pages a hostile server can send under the 64 MiB body cap: one
    page of ~60 MB of tiny rows, and a fair first page whose count asks for 16 more pages of
    ~6 MB of tiny rows each, fetched in parallel. Each fails its account (exit 3) once a page
    is over the row cap; what matters is the memory on the way."""
    big, n = tiny_rows_page(60_000_000)
    small, m = tiny_rows_page(6_000_000)
    fair = ('{"backups":[' + ",".join('{"id":"f%d"}' % i for i in range(1000)) + '],"count":17000}').encode()
    # Each offset's rows have ids of their own, so no page is refused as a repeat.
    smalls = {o: tiny_rows_page(6_000_000, "o%d-" % o)[0] for o in range(1000, 17001, 1000)}
    cases = [
        ("one page of tiny rows", big, n, lambda offset: big if offset == 0 else b'{"backups":[],"count":0}'),
        ("16 pages of tiny rows in parallel", small, m,
         lambda offset: fair if offset == 0 else smalls.get(offset, b'{"backups":[],"count":0}')),
    ]
    out = []
    for label, page, rows, pages in cases:
        server = serve_pages(pages)
        try:
            with tempfile.TemporaryDirectory() as d:
                cfg = os.path.join(d, "config.toml")
                with open(cfg, "w") as f:
                    f.write(f"""[accounts.hostile]
provider = "huawei"
endpoint = "http://127.0.0.1:{server.server_address[1]}"
project_id = "{WORST_PROJECT}"
token = "t"
""")
                os.chmod(cfg, 0o600)
                cmd = [binary, "list", "--config", cfg, "-o", "ndjson", "--parallel", "8"]
                fmt = "%e %M %x"
                with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
                    proc = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", fmt] + cmd,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
                    wall, rss_kib, code = tf.read().strip().splitlines()[-1].split()
                err = proc.stderr.decode(errors="replace").strip().splitlines()
                out.append((label, len(page), rows, int(code), float(wall), int(rss_kib) / 1024,
                            err[-1][:160] if err else ""))
        finally:
            server.shutdown()
    return out


def print_worst_pages(rows):
    print()
    print("Worst-case pages (a local server, Huawei shape, -o ndjson, --parallel 8):")
    print()
    print("| case | each page's body | rows in it | exit | wall | peak RSS | stderr |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for label, body, n, code, wall, rss, err in rows:
        print(f"| {label} | {body / 1e6:.0f} MB | {n:,} | {code} | {wall:.2f} s | {rss:.0f} MiB | {err} |")


def measure_accounts(scale, latency, runs):
    """Lists every demo account at once, then each alone: accounts run in parallel, so the
    whole takes about as long as the slowest one."""
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "config.toml")
        emu = start_emulator(scale, latency, cfg)
        try:
            names = list(tomllib.load(open(cfg, "rb"))["accounts"])

            def best(cmd):
                timed(cmd)
                wall, cpu, rss, out = min((timed(cmd) for _ in range(runs)), key=lambda r: r[0])
                return wall, cpu, rss, out.count(b"\n")

            base = [BIN, "list", "--config", cfg, "-o", "ndjson"]
            single = [(name, best(base + ["--account", name])) for name in names]
            return best(base), single
        finally:
            emu.kill()
            emu.wait()


RECORDINGS = 10
# An account that lists exactly --scale rows (the Huawei demo accounts drop their expired
# backups, about half of a large scale).
RECORD_ACCOUNT = "zcom-demo-tyo"


def measure_record(n, runs):
    """`list -o ndjson` of one account of n rows at 0 ms without and with `--record`: into a
    new inventory (every row written), then into one that already holds the same listing
    (one snapshot row). Then the inventory's size after each of RECORDINGS recordings of the
    unchanged listing into a fresh file, all through the binary."""
    def size(path):
        return sum(os.path.getsize(p) for p in (path, path + "-wal", path + "-shm") if os.path.exists(p))

    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "config.toml")
        emu = start_emulator(n, 0, cfg)
        try:
            base = [BIN, "list", "--config", cfg, "--account", RECORD_ACCOUNT, "-o", "ndjson"]

            def recording(inv):
                return base + ["--record", "--inventory", inv]

            timed(base)
            plain = min((timed(base) for _ in range(runs)), key=lambda r: r[0])
            fresh = []
            for i in range(runs):
                fresh.append(timed(recording(os.path.join(d, f"fresh-{i}.db"))))
            fresh = min(fresh, key=lambda r: r[0])
            inv = os.path.join(d, "growth.db")
            sizes = []
            walls = []
            for _ in range(RECORDINGS):
                walls.append(timed(recording(inv)))
                sizes.append(size(inv))
            unchanged = min(walls[1:], key=lambda r: r[0])
            for r in (plain, fresh, unchanged):
                count = r[3].count(b"\n")
                if count != n:
                    sys.exit(f"backups listed {count} rows, expected {n}")
            return plain, fresh, unchanged, sizes
        finally:
            emu.kill()
            emu.wait()


def print_record(n, measured):
    plain, fresh, unchanged, sizes = measured
    print(f"`list --record`, one account ({RECORD_ACCOUNT}) of {n:,} rows, `-o ndjson`, 0 ms:")
    print()
    print("| run | wall | CPU | peak RSS | added wall |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, cpu, rss, _) in [("without `--record`", plain),
                                      ("`--record`, new inventory", fresh),
                                      ("`--record`, unchanged inventory", unchanged)]:
        added = f"{wall - plain[0]:+.3f} s" if name != "without `--record`" else "-"
        print(f"| {name} | {wall:.3f} s | {cpu:.3f} s | {rss:.1f} MiB | {added} |")
    mib = 1024 * 1024
    growth = (sizes[-1] - sizes[0]) / (len(sizes) - 1)
    print()
    print(f"Inventory file after 1 recording: {sizes[0]:,} bytes ({sizes[0] / mib:.1f} MiB); after "
          f"{len(sizes)}: {sizes[-1]:,} bytes ({sizes[-1] / mib:.1f} MiB), "
          f"{growth:,.0f} bytes per unchanged recording.")


def measure_formats(points, runs):
    """Peak RSS and time of each (output format, rows) point at 0 ms: all but streaming ndjson
    hold every row to sort it."""
    out = []
    for n in sorted({n for _, n in points}):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "config.toml")
            emu = start_emulator(n, 0, cfg)
            try:
                for fmt in [f for f, m in points if m == n]:
                    cmd = [BIN, "list", "--config", cfg, "--account", ACCOUNT, "-o", fmt]
                    timed(cmd)
                    out.append((fmt, n, min((timed(cmd) for _ in range(runs)), key=lambda r: r[0])))
            finally:
                emu.kill()
                emu.wait()
    return out


# ---- Over TLS, with a round trip on the wire ------------------------------------------------
#
# The emulator serves HTTPS (`--tls`, HTTP/2 and HTTP/1.1 by ALPN) and delays every chunk of
# bytes by RTT/2 each way (`--rtt-ms`), the first bytes of a connection by one RTT more (the
# TCP handshake the kernel answered at once). So a connect costs one round trip, a TLS 1.3
# handshake one, and each request one, as they do against a real endpoint.
#
# The floor for one AK/SK Huawei account, N backups, pages of 1000, round trip r:
#     TCP connect (r) + TLS 1.3 handshake (r) + the first page (r)
#     + the remaining pages, all in parallel over the one HTTP/2 connection (r)  = 4 r
# (the first page states the total; N <= 1000 needs the empty page after it instead: 4 r too).
# Transfer and CPU come on top; wall / floor says how close a listing comes.


def start_tls_emulator(cfg, rtt, scale, accounts=None, http1=False):
    cmd = [BIN, "emulator", "--port", "0", "--tls", "--rtt-ms", str(rtt), "--scale", str(scale),
           "--write-config", cfg]
    if accounts:
        cmd += ["--accounts", str(accounts)]
    if http1:
        cmd.append("--http1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proc.stdout.readline()  # the base URL: the listeners are up
    return proc


def connections(cfg, account):
    """Connections the listing opened, from its -vv line."""
    out = subprocess.run([BIN, "list", "--config", cfg, "--account", account, "-o", "ndjson", "-vv"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
    for line in out.stderr.splitlines():
        if line.endswith(" opened") and f"{account}: " in line:
            return int(line.split(f"{account}: ")[1].split()[0])
    return None


def tls_rows(sizes, rtt, runs, py):
    """For each N: backups over HTTP/2 and over HTTP/1.1 (`emulator --http1`), the official
    SDK over the same TLS path (trusting the emulator's CA, verification on)."""
    rows = []
    for n in sizes:
        for http1 in (False, True):
            with tempfile.TemporaryDirectory() as d:
                cfg = os.path.join(d, "config.toml")
                emu = start_tls_emulator(cfg, rtt, n, http1=http1)
                try:
                    acct = tomllib.load(open(cfg, "rb"))["accounts"][ACCOUNT]
                    cmd = [BIN, "list", "--config", cfg, "--account", ACCOUNT, "-o", "ndjson"]
                    timed(cmd)  # the emulator renders each row's JSON on first use
                    best = min((timed(cmd) for _ in range(runs)), key=lambda r: r[0])
                    if best[3].count(b"\n") != n:
                        sys.exit(f"backups listed {best[3].count(chr(10).encode())} rows over TLS, expected {n}")
                    conns = connections(cfg, ACCOUNT)
                    sdk = None
                    if py and not http1:
                        scmd = [py, os.path.join(ROOT, "bench", "huawei_sdk.py"), acct["endpoint"],
                                acct["access_key"], acct["secret_key"], acct["project_id"], str(PAGE),
                                acct["ca_file"]]
                        sdk = min((timed(scmd) for _ in range(max(1, runs - 2))), key=lambda r: r[0])
                        if int(sdk[3].strip()) != n:
                            sys.exit(f"the SDK listed {sdk[3].strip()} rows over TLS, expected {n}")
                finally:
                    emu.kill()
                    emu.wait()
            rows.append((n, "HTTP/1.1" if http1 else "HTTP/2", best, conns, 4 * rtt / 1000, sdk))
    return rows


def many_accounts(count, scale, rtt, runs):
    """`emulator --accounts COUNT --scale SCALE` over TLS: every account at once with `-o json`,
    and one account of each provider alone (the generated accounts of a provider are alike, so
    the slowest of these is the slowest single account)."""
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "config.toml")
        emu = start_tls_emulator(cfg, rtt, scale, accounts=count)
        try:
            names = list(tomllib.load(open(cfg, "rb"))["accounts"])
            firsts = {}
            for name in names:
                firsts.setdefault(name.split("-")[0], name)

            def best(cmd):
                timed(cmd)
                return min((timed(cmd) for _ in range(runs)), key=lambda r: r[0])

            base = [BIN, "list", "--config", cfg, "-o", "json"]
            single = [(name, best(base + ["--account", name])) for name in firsts.values()]
            every = best(base)
            rows = len(json.loads(every[3]))
            return len(names), rows, every, single
        finally:
            emu.kill()
            emu.wait()


def print_tls(tls, many, rtt):
    if tls:
        print(f"Over TLS 1.3 with {rtt} ms on every round trip (connect and handshake included), "
              f"AK/SK account `{ACCOUNT}`, pages of {PAGE}; floor = TCP + TLS + first page + the rest in "
              f"parallel = 4 x {rtt} ms:")
        print()
        print("| backups | protocol | wall | CPU | peak RSS | connections | floor | wall / floor | SDK wall | SDK / backups |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n, proto, (wall, cpu, rss, _), conns, floor, sdk in tls:
            s_wall = f"{sdk[0]:.3f} s" if sdk else "-"
            speed = f"{sdk[0] / wall:.1f}x" if sdk else "-"
            print(f"| {n:,} | {proto} | {wall:.3f} s | {cpu:.3f} s | {rss:.1f} MiB | {conns} | {floor:.3f} s | "
                  f"{wall / floor:.2f}x | {s_wall} | {speed} |")
        print()
    if many:
        count, rows, (wall, cpu, rss, _), single = many
        print(f"{count} generated accounts across the five providers over TLS, {rtt} ms round trip, `-o json`:")
        print()
        print("| accounts | rows | wall | CPU | peak RSS |")
        print("|---|---:|---:|---:|---:|")
        for name, (s_wall, s_cpu, s_rss, out) in single:
            print(f"| {name} alone | {len(json.loads(out)):,} | {s_wall:.3f} s | {s_cpu:.3f} s | {s_rss:.1f} MiB |")
        slowest = max(r[0] for _, r in single)
        print(f"| **all {count} at once** | {rows:,} | {wall:.3f} s | {cpu:.3f} s | {rss:.1f} MiB |")
        print()
        print(f"All {count} at once: {wall:.3f} s, {wall / slowest:.2f}x the slowest single account "
              f"({slowest:.3f} s); peak RSS {rss:.1f} MiB.")
        print()


if __name__ == "__main__":
    main()
