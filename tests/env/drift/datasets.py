"""Write the drift peer-agreement datasets: reference and current CSVs cut from datasets that ship
inside scikit-learn and statsmodels, with shifts injected (numeric, categorical, binary) and
missing cells, deterministically.

    python datasets.py OUT_DIR      # writes OUT_DIR/<scenario>/{ref,cur}.csv and OUT_DIR/scenarios.json

Each scenario exercises a branch of Evidently's method choice or of SciPy's KS: small and large
references, exact KS with equal and unequal sizes, asymptotic KS (current above 10 000 rows),
numeric columns with few values, integer columns typed categorical, text categories, binary
columns, a category the reference never saw, constant columns and missing cells.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn import datasets as skd

RNG = np.random.RandomState(20261130)


def holes(df, column, share):
    """Set a share of a column's cells missing."""
    df = df.copy()
    idx = RNG.choice(len(df), int(len(df) * share), replace=False)
    df.loc[df.index[idx], column] = np.nan
    return df


def halves(df, n_ref):
    order = RNG.permutation(len(df))
    return df.iloc[order[:n_ref]].reset_index(drop=True), df.iloc[order[n_ref:]].reset_index(drop=True)


def iris():
    b = skd.load_iris(as_frame=True)
    df = b.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    df["species"] = [b.target_names[t] for t in b.target]
    df["is_virginica"] = (b.target == 2).astype(int)
    df = df.drop(columns="target")
    ref, cur = halves(df, 75)
    cur["petal_length"] = cur["petal_length"] + 0.4
    return holes(ref, "sepal_width", 0.06), holes(cur, "sepal_width", 0.04)


def breast_cancer():
    b = skd.load_breast_cancer(as_frame=True)
    df = b.frame.rename(columns=lambda c: c.replace(" ", "_"))
    df["diagnosis"] = np.where(b.target == 1, "benign", "malignant")
    df = df.drop(columns="target")
    ref, cur = halves(df, 300)
    for c in ["mean_radius", "mean_texture", "worst_area"]:
        cur[c] = cur[c] + 0.3 * ref[c].std()
    return holes(ref, "mean_smoothness", 0.05), holes(cur, "worst_symmetry", 0.1)


def diabetes():
    b = skd.load_diabetes(as_frame=True, scaled=True)
    ref, cur = halves(b.frame, 221)
    cur["bmi"] = cur["bmi"] * 1.15 + 0.01
    return ref, cur


def wine():
    b = skd.load_wine(as_frame=True)
    df = b.frame.rename(columns=lambda c: c.replace("/", "_"))
    ref, cur = halves(df, 100)
    cur["alcohol"] = cur["alcohol"] + 0.2
    cur["proline"] = cur["proline"] * 1.1
    return ref, cur


def wine_new_class():
    """Classes 0 and 1 in the reference, and a class 2 the reference never saw in the current."""
    b = skd.load_wine(as_frame=True)
    df = b.frame.rename(columns=lambda c: c.replace("/", "_"))
    ref = df[df.target < 2].sample(n=100, random_state=RNG).reset_index(drop=True)
    cur = df.sample(n=120, random_state=RNG).reset_index(drop=True)
    ref["constant"] = 1.5
    cur["constant"] = 1.5
    ref["batch"] = "A"
    cur["batch"] = "A"
    return ref[["target", "alcohol", "constant", "batch"]], cur[["target", "alcohol", "constant", "batch"]]


def fair():
    df = sm.datasets.fair.load_pandas().data
    df["children_band"] = pd.cut(df["children"], [-1, 0, 2, 100], labels=["none", "few", "many"]).astype(str)
    ref, cur = halves(df, 4000)
    cur["affairs"] = cur["affairs"] * 1.3
    cur.loc[cur.index[: len(cur) // 3], "children_band"] = "many"
    return holes(ref, "yrs_married", 0.02), cur


def randhie_asymptotic():
    """A reference of exactly 1000 rows (tests) against 12 000 (asymptotic KS)."""
    df = sm.datasets.randhie.load_pandas().data
    ref, rest = halves(df, 1000)
    cur = rest.iloc[:12000].copy()
    cur["lncoins"] = cur["lncoins"] + 0.05
    return ref, cur


def randhie_large():
    df = sm.datasets.randhie.load_pandas().data
    ref, rest = halves(df, 5000)
    cur = rest.iloc[:15000].copy()
    cur = cur.sort_values("lpi").iloc[2000:].reset_index(drop=True)
    return ref, cur


def anes96():
    df = sm.datasets.anes96.load_pandas().data
    ref, cur = halves(df, 472)
    cur["age"] = cur["age"] + 3
    return holes(ref, "educ", 0.03), cur


def digits():
    b = skd.load_digits(as_frame=True)
    cols = [c for c in b.frame.columns if c.startswith("pixel_")][:24]
    ref, cur = halves(b.frame[cols + ["target"]], 1200)
    cur["pixel_0_3"] = np.minimum(cur["pixel_0_3"] + 2, 16)
    return ref, cur


SCENARIOS = {
    "iris": iris,
    "breast_cancer": breast_cancer,
    "diabetes": diabetes,
    "wine": wine,
    "wine_new_class": wine_new_class,
    "fair": fair,
    "randhie_asymptotic": randhie_asymptotic,
    "randhie_large": randhie_large,
    "anes96": anes96,
    "digits": digits,
}


def main():
    out = Path(sys.argv[1])
    names = []
    for name, make in SCENARIOS.items():
        ref, cur = make()
        (out / name).mkdir(parents=True, exist_ok=True)
        ref.to_csv(out / name / "ref.csv", index=False)
        cur.to_csv(out / name / "cur.csv", index=False)
        names.append(name)
    (out / "scenarios.json").write_text(json.dumps(names))


if __name__ == "__main__":
    main()
