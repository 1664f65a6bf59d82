# River's adaptive random forest on the same sensor topic streamwatch reads, for comparison
# (BENCHMARKS.md): kafka-python reads the topic from the beginning, each reading is
# predicted, scored against its label, then learnt from (10 trees, River's defaults).
# Features are what the message carries: temperature, humidity, pressure, status.
#
#   python3 -m pip install river 'kafka-python>=2.2,<3'
#   python3 benches/reference_river.py BOOTSTRAP TOPIC COUNT
import json, sys, time
from kafka import KafkaConsumer
from river import forest

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = forest.ARFClassifier(n_models=10, seed=42)
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                         enable_auto_commit=False, group_id=None, consumer_timeout_ms=10000)
statuses = {}
tp = fp = fn = n = 0
start = None
for msg in consumer:
    start = start or time.perf_counter()
    d = json.loads(msg.value)
    label = d.get("label")
    if label is None:
        continue
    x = {k: float(d[k]) for k in ("temperature", "humidity", "pressure") if d.get(k) is not None}
    x["status"] = statuses.setdefault(d.get("status"), len(statuses))
    y = label != "normal"
    p = bool(model.predict_one(x))
    tp += p and y
    fp += p and not y
    fn += y and not p
    model.learn_one(x, y)
    n += 1
    if n >= count:
        break
secs = time.perf_counter() - start
precision = tp / (tp + fp) if tp + fp else 0.0
recall = tp / (tp + fn) if tp + fn else 0.0
f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
print(json.dumps({"events": n, "seconds": round(secs, 2), "events_per_s": round(n / secs),
                  "precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}))
