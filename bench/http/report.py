#!/usr/bin/env python3
"""report.py SUMMARY_TSV - the table of bench/http/run.sh: medians over rounds per server and
connection count, with each server's ratio to Gust at the same connection count."""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
servers = list(dict.fromkeys(r["server"] for r in rows))
conns = sorted({r["conns"] for r in rows}, key=int, reverse=True)


def med(server, c, key):
    xs = [float(r[key]) for r in rows if r["server"] == server and r["conns"] == c]
    return statistics.median(xs) if xs else None


def total(server, c, key):
    return sum(int(r[key]) for r in rows if r["server"] == server and r["conns"] == c)


head = ["server", "conns", "req/s", "p50 µs", "p99 µs", "CPU µs/req", "RSS MiB",
        "req/s ÷ Gust", "CPU/req ÷ Gust", "errors", "non-2xx"]
table = []
for c in conns:
    g_rps, g_cpu = med("gust", c, "rps"), med("gust", c, "cpu_us_req")
    for s in servers:
        rps = med(s, c, "rps")
        if rps is None:
            continue
        cpu = med(s, c, "cpu_us_req")
        table.append([s, c, f"{rps:,.0f}", f"{med(s, c, 'p50_us'):,.0f}", f"{med(s, c, 'p99_us'):,.0f}",
                      f"{cpu:.1f}", f"{med(s, c, 'rss_kib') / 1024:.1f}",
                      f"{rps / g_rps:.2f}" if g_rps else "-", f"{cpu / g_cpu:.2f}" if g_cpu else "-",
                      str(total(s, c, "sock_errors")), str(total(s, c, "non2xx"))])
widths = [max(len(x) for x in col) for col in zip(head, *table)]
for line in [head, ["-" * w for w in widths]] + table:
    print("  ".join(x.rjust(w) if i > 1 else x.ljust(w) for i, (x, w) in enumerate(zip(line, widths))))

n_rounds = len({r["round"] for r in rows})
print(f"\nmedians over {n_rounds} round(s); CPU = utime+stime of the server's process tree "
      "(Gust: host + workers); RSS = tree RSS after each run")
loads = [float(r["loadavg1"]) for r in rows if r.get("loadavg1")]
if loads:
    print(f"load average (1 min) after the runs: {min(loads):.2f}-{max(loads):.2f} (2 cores; server + wrk alone give ~2)")
if "gust" in servers:
    print("Gust CPU split (median µs/req):  " + ";  ".join(
        f"c{c}: host {med('gust', c, 'root_us_req'):.1f} + workers {med('gust', c, 'children_us_req'):.1f}"
        for c in conns))
print("\ntargets: Gust <= 10 µs CPU per request (host + worker); Gust p50 at 1 connection within 40 µs of nginx's")
print("reference (measured here before): CPU/req nginx ~4.3 µs, Node http 10.5, workerd 45, "
      "Functions Framework 166; 1-connection p50 floor ~75 µs")
if "gust" in servers:
    cpu = [med("gust", c, "cpu_us_req") for c in conns]
    print(f"  Gust CPU/req: {', '.join(f'c{c} {x:.1f} µs' for c, x in zip(conns, cpu))} -> "
          f"{'MET' if max(cpu) <= 10 else 'NOT MET'}")
    if "nginx" in servers and "1" in conns:
        gap = med("gust", "1", "p50_us") - med("nginx", "1", "p50_us")
        print(f"  Gust p50 at c1 - nginx p50 at c1: {gap:+.0f} µs -> {'MET' if gap <= 40 else 'NOT MET'}")
