#!/usr/bin/env python3
"""End to end through a real host: N messages sent to `orders` through the admin API by C
concurrent clients, charged by the orders example's consumer (which publishes each
shipment to `shipments`, shipped by a second consumer), until both queues are drained.

Usage: e2e.py GUST_BIN APP_DIR WORK_DIR BATCH_SIZE SYNC [MESSAGES] [CLIENTS]
Prints one row: sends/s (admin API, committed) and processed/s (send of the first message
to the last shipment acked)."""
import http.client, json, os, shutil, subprocess, sys, threading, time

gust, app_src, work, batch, sync = sys.argv[1:6]
total = int(sys.argv[6]) if len(sys.argv) > 6 else 5000
clients = int(sys.argv[7]) if len(sys.argv) > 7 else 16

app = os.path.join(work, f"orders-b{batch}-{sync}")
shutil.rmtree(app, ignore_errors=True)
shutil.copytree(app_src, app)
manifest = json.load(open(os.path.join(app, "gust.json")))
manifest["functions"]["charge"]["queue"]["batch_size"] = int(batch)
manifest["functions"]["ship"]["queue"] = {"name": "shipments", "batch_size": int(batch)}
json.dump(manifest, open(os.path.join(app, "gust.json"), "w"))
data = os.path.join(work, f"data-b{batch}-{sync}")
host = subprocess.Popen([gust, "serve", app, "--port", "0", "--admin-listen", "127.0.0.1:0", "--data-dir", data,
                         "--queue-synchronous", sync, "--log-level", "warn"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
admin_port = None
for line in host.stdout:
    if line.startswith("admin API on http://"):
        admin_port = int(line.split(":")[2].split()[0])
        break
token = open(os.path.join(data, "admin.token")).read().strip()
auth = {"Authorization": "Bearer " + token}

def stats():
    c = http.client.HTTPConnection("127.0.0.1", admin_port)
    c.request("GET", "/v1/queues", headers=auth)
    return {q["name"]: q for q in json.loads(c.getresponse().read())["queues"]}

next_id = iter(range(total))
lock = threading.Lock()
failed = [0]

def sender():
    c = http.client.HTTPConnection("127.0.0.1", admin_port)
    while True:
        with lock:
            i = next(next_id, None)
        if i is None:
            return
        order = json.dumps({"id": f"o-{i}", "product": "book", "amount": 12})
        c.request("POST", "/v1/queues/orders/messages",
                  body=order, headers={**auth, "Gust-Message-Id": f"o-{i}"})
        r = c.getresponse()
        r.read()
        if r.status not in (200, 201):
            failed[0] += 1

start = time.monotonic()
threads = [threading.Thread(target=sender) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
sent = time.monotonic() - start
while True:
    s = stats()
    busy = sum(q["depth"] + q["in_flight"] + q["delayed"] for q in s.values())
    if busy == 0:
        break
    time.sleep(0.02)
done = time.monotonic() - start
host.terminate()
host.wait()
print(f"  e2e {sync:6s} batch {int(batch):2d}: {total} orders, {total / sent:8.0f} sends/s, "
      f"{total / done:8.0f} orders/s charged and shipped ({done:.2f} s){'' if not failed[0] else f', {failed[0]} sends failed'}")
