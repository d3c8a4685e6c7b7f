"""Reads the rounds file the scripts in bench/compare/ write: one line per measurement,
"round<TAB>row<TAB>req/s<TAB>p50 ms<TAB>p99 ms[<TAB>CPU us per request]". Imported by their
summary steps."""
import collections
import statistics


def load(path):
    """Returns (rows, medians): rows[name][k] lists every round's value of k ("rps", "p50",
    "p99", and "cpu" where the rounds measured it) in file order; medians[name][k] is their
    median."""
    rows = collections.defaultdict(lambda: {"rps": [], "p50": [], "p99": []})
    with open(path) as f:
        for line in f:
            _, name, *values = line.split()
            for k, v in zip(("rps", "p50", "p99", "cpu"), values):
                rows[name].setdefault(k, []).append(float(v))
    medians = {n: {k: statistics.median(v) for k, v in d.items() if v} for n, d in rows.items()}
    return rows, medians
