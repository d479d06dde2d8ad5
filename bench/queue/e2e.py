#!/usr/bin/env python3
"""End to end through a real host: N orders posted to the orders example's POST /orders by C
concurrent clients. Each order is stored in the app's state and published to the topic
order.placed; payment, inventory and notification take it at once (each recording in state
that it did its work), publish their results to order.progress, and the aggregator records
them in the order (compare-and-set on its version) until it is completed. Measured until
every subscription's queue is drained.

Usage: e2e.py GUST_BIN APP_DIR WORK_DIR BATCH_SIZE SYNC [ORDERS] [CLIENTS]
Prints one row: orders accepted/s (HTTP 202, committed) and orders completed/s (the first
post to the last aggregator commit)."""
import http.client, json, os, shutil, subprocess, sys, threading, time

gust, app_src, work, batch, sync = sys.argv[1:6]
total = int(sys.argv[6]) if len(sys.argv) > 6 else 2000
clients = int(sys.argv[7]) if len(sys.argv) > 7 else 16

app = os.path.join(work, f"orders-b{batch}-{sync}")
shutil.rmtree(app, ignore_errors=True)
shutil.copytree(app_src, app)
manifest = json.load(open(os.path.join(app, "gust.json")))
for name in ("payment", "inventory", "notification", "aggregator"):
    spec = manifest["functions"][name]["topic"]
    if isinstance(spec, str):
        spec = {"name": spec}
    spec["batch_size"] = int(batch)
    manifest["functions"][name]["topic"] = spec
json.dump(manifest, open(os.path.join(app, "gust.json"), "w"))
data = os.path.join(work, f"data-b{batch}-{sync}")
host = subprocess.Popen([gust, "serve", app, "--port", "0", "--admin-listen", "127.0.0.1:0", "--data-dir", data,
                         "--queue-synchronous", sync, "--log-level", "warn"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = admin_port = None
for line in host.stdout:
    if " listening on http://" in line:
        port = int(line.rsplit(":", 1)[1])
    if line.startswith("admin API on http://"):
        admin_port = int(line.split(":")[2].split()[0])
        break
token = open(os.path.join(data, "admin.token")).read().strip()
auth = {"Authorization": "Bearer " + token}

def busy():
    c = http.client.HTTPConnection("127.0.0.1", admin_port)
    c.request("GET", "/v1/queues", headers=auth)
    return sum(q["depth"] + q["in_flight"] + q["delayed"] for q in json.loads(c.getresponse().read())["queues"])

next_id = iter(range(total))
lock = threading.Lock()
failed = [0]

def poster():
    c = http.client.HTTPConnection("127.0.0.1", port)
    while True:
        with lock:
            i = next(next_id, None)
        if i is None:
            return
        c.request("POST", "/orders", body=json.dumps({"id": f"o-{i}", "product": "book", "amount": 12}))
        r = c.getresponse()
        r.read()
        if r.status != 202:
            failed[0] += 1

start = time.monotonic()
threads = [threading.Thread(target=poster) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
posted = time.monotonic() - start
while busy() > 0:
    time.sleep(0.02)
done = time.monotonic() - start
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("GET", f"/orders/o-{total - 1}")
last = json.loads(c.getresponse().read())
host.terminate()
host.wait()
print(f"  e2e {sync:6s} batch {int(batch):2d}: {total} orders, {total / posted:7.0f} accepted/s, "
      f"{total / done:7.0f} completed/s ({done:.2f} s; last order {last.get('status')})"
      f"{'' if not failed[0] else f', {failed[0]} posts failed'}")
