# The reference app's per-message statistics, for comparison (BENCHMARKS.md):
# json.loads, then deque(maxlen=100) + numpy mean/std/min/max/sum and a z-score per metric.
# Needs numpy: python3 -m pip install numpy; python3 benches/reference_numpy.py
import json, time, collections
import numpy as np
msg = json.dumps({"sensor_id":"sensor-023","location":"server-room-1","temperature":21.06,"humidity":41.26,"pressure":1009.74,"status":"ok","timestamp":"2026-11-29T01:12:45.862Z","seq":2})
bufs = {k: collections.deque(maxlen=100) for k in ("temperature","humidity","pressure")}
n = 50000
t = time.perf_counter()
for i in range(n):
    d = json.loads(msg)
    for k, b in bufs.items():
        b.append(d[k] + (i % 7) * 0.1)
        a = np.array(b)
        mean, std, mn, mx, s = a.mean(), a.std(), a.min(), a.max(), a.sum()
        z = (d[k] - mean) / std if std > 0 else 0.0
print(f"{(time.perf_counter() - t) / n * 1e6:.1f} us/event")
