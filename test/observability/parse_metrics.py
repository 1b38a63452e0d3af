"""Parses Prometheus text exposition from stdin with prometheus_client's parser (the reference
Python implementation) and prints the families as JSON: [{name, type, samples: [{name, labels, value}]}].
A malformed exposition raises, so the test fails."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    out.append({
        "name": family.name,
        "type": family.type,
        "samples": [
            {"name": s.name, "labels": s.labels, "value": None if math.isnan(s.value) else (str(s.value) if math.isinf(s.value) else s.value)}
            for s in family.samples
        ],
    })
json.dump(out, sys.stdout)
