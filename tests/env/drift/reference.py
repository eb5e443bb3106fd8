"""What Evidently 0.7 and SciPy say about the drift of CURRENT against REFERENCE, as JSON on stdout.

    python reference.py --reference R.csv --current C.csv --numerical a,b --categorical c \
        [--method auto|ks|...] [--threshold X] [--share S]
    python reference.py --batch < jobs.json     # [{"reference": …, "current": …, "numerical": "a,b",
                                                #   "categorical": "c", "method": "auto", …}, …]
                                                # → one JSON list (Evidently is imported once)

The CSVs are read with pandas' defaults (the same missing-value markers as the Rust engine), with
exact float parsing. The
column kinds are given (the engine's), so the comparison is about the statistics and decisions;
Evidently's own inference of each column (`evidently.core.datasets.infer_column_type` on the
reference) is reported beside them as `inferred`.

Evidently runs through its legacy metrics (`DataDriftTable`, `DatasetDriftMetric`), which the
0.7 presets (`DataDriftPreset`, `DriftedColumnsCount`) delegate to. Per column it gives the
method (by display name, mapped back to the registry name below), threshold, score and decision;
the statistic behind a p-value is recomputed with SciPy the way each Evidently test calls it.
"""

import argparse
import json
import math
import sys
import warnings

import numpy as np
import pandas as pd
from scipy import stats

warnings.filterwarnings("ignore")

from evidently.core.datasets import infer_column_type  # noqa: E402
from evidently.legacy.calculations.stattests.utils import (  # noqa: E402
    get_unique_not_nan_values_list_from_series,
)
from evidently.legacy.calculations.stattests.z_stattest import (  # noqa: E402
    proportions_diff_z_stat_ind,
)
from evidently.legacy.metrics import DataDriftTable, DatasetDriftMetric  # noqa: E402
from evidently.legacy.pipeline.column_mapping import ColumnMapping  # noqa: E402
from evidently.legacy.report import Report  # noqa: E402

# Evidently's display names (StatTest.display_name) → registry names.
NAMES = {
    "K-S p_value": "ks",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "PSI": "psi",
}


def split(text):
    return [c for c in (text or "").split(",") if c]


def clean(series):
    return series.replace([-np.inf, np.inf], np.nan).dropna()


def statistic(method, ref, cur):
    """The statistic behind the score, as each Evidently test computes it."""
    ref, cur = clean(ref), clean(cur)
    if method == "ks":
        return float(stats.ks_2samp(ref, cur).statistic)
    if method == "chisquare":
        keys = get_unique_not_nan_values_list_from_series(current_data=cur, reference_data=ref)
        rc = {**dict.fromkeys(keys, 0), **dict(ref.value_counts())}
        cc = {**dict.fromkeys(keys, 0), **dict(cur.value_counts())}
        k = cur.shape[0] / ref.shape[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(stats.chisquare([cc[x] for x in keys], [rc[x] * k for x in keys]).statistic)
    if method == "z":
        if ref.nunique() == 1 and cur.nunique() == 1 and ref.unique()[0] == cur.unique()[0]:
            return 0.0
        keys = sorted(get_unique_not_nan_values_list_from_series(current_data=cur, reference_data=ref))
        first = keys[0]
        return float(
            proportions_diff_z_stat_ind(
                ref.apply(lambda x: 0 if x == first else 1), cur.apply(lambda x: 0 if x == first else 1)
            )
        )
    return None  # distances: the score is the statistic


def number(x):
    """JSON has no NaN or infinity: NaN is null, ±∞ the strings "inf" and "-inf"."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def run(a):
    # round_trip: pandas' default float parser can land one ulp from the correctly rounded double
    # ("13.399999999999999"), which moves ties between the samples; Rust's parser is exact.
    ref = pd.read_csv(a["reference"], float_precision="round_trip")
    cur = pd.read_csv(a["current"], float_precision="round_trip")
    numerical, categorical = split(a.get("numerical")), split(a.get("categorical"))
    mapping = ColumnMapping(
        target=None,
        prediction=None,
        datetime=None,
        id=None,
        numerical_features=numerical,
        categorical_features=categorical,
    )
    method = a.get("method") or "auto"
    method = None if method == "auto" else method
    threshold = a.get("threshold")
    share = a.get("share") or 0.5
    table_metric = DataDriftTable(stattest=method, stattest_threshold=threshold)
    dataset_metric = DatasetDriftMetric(drift_share=share, stattest=method, stattest_threshold=threshold)
    report = Report(metrics=[table_metric, dataset_metric])
    report.run(reference_data=ref, current_data=cur, column_mapping=mapping)
    table, dataset = table_metric.get_result(), dataset_metric.get_result()
    columns = []
    for name, r in table.drift_by_columns.items():
        m = NAMES[r.stattest_name]
        columns.append(
            {
                "column": name,
                "kind": "numeric" if name in numerical else "categorical",
                "inferred": str(infer_column_type(ref[name]).value),
                "method": m,
                "statistic": number(statistic(m, ref[name], cur[name])),
                "score": number(r.drift_score),
                "threshold": number(r.stattest_threshold),
                "drifted": bool(r.drift_detected),
                "reference_rows": int(clean(ref[name]).shape[0]),
                "current_rows": int(clean(cur[name]).shape[0]),
            }
        )
    return {
        "columns": columns,
        "drifted_columns": int(dataset.number_of_drifted_columns),
        "share": float(dataset.share_of_drifted_columns),
        "dataset_drift": bool(dataset.dataset_drift),
        "versions": {"evidently": __import__("evidently").__version__, "scipy": __import__("scipy").__version__},
    }


def main():
    if sys.argv[1:] == ["--batch"]:
        json.dump([run(job) for job in json.load(sys.stdin)], sys.stdout)
        return
    p = argparse.ArgumentParser()
    p.add_argument("--reference", required=True)
    p.add_argument("--current", required=True)
    p.add_argument("--numerical", default="")
    p.add_argument("--categorical", default="")
    p.add_argument("--method", default="auto")
    p.add_argument("--threshold", type=float)
    p.add_argument("--share", type=float, default=0.5)
    a = p.parse_args()
    json.dump(run(vars(a)), sys.stdout)

if __name__ == "__main__":
    main()
