#!/usr/bin/env python3
"""Fake model-serving traffic + NVIDIA DCGM exporter for the mlops test environment.

Stdlib only. One HTTP server on 127.0.0.1 serves:

  GET  /metrics             model-serving metrics (Prometheus text format)
  GET  /metrics/dcgm        DCGM-exporter GPU gauges
  GET  /healthz             "ok" once the history file is written
  GET  /control/state       JSON: topology, rates, active degrade/drift rules
  POST /control/degrade     {"model", "version"?, "track"?, "error_rate"?, "latency_ms"?}
  POST /control/drift       {"model", "feature", "shift" (in std devs), "scale"?, "version"?, "track"?}
  POST /control/traffic     {"model", "version"?, "track"?, "rps_factor"}
  POST /control/gpu         {"pod", "idle": true|false}     (force a pod's GPUs idle/busy)
  POST /control/reset       {}  clear all rules
  POST /v1/models/<model>:predict   play a model server: answers like one, counts the request

Topology (which model versions/tracks run where) comes from the cluster: the pods labelled
mlops.dev/model and the nodes, each listed once and then watched (`$MLOPS_KUBECTL get --raw`),
taken at most every --poll seconds when they changed, or from a static default set (tests/env/mlflow/catalog.json) when no
kubeconfig is given. Counters/histograms evolve by integrating rates per tick with
error-diffusion rounding (integer counts, no drift), noise from a seeded RNG.

At start it simulates --history-hours of the past (same series, same state machine) and writes
them as OpenMetrics (--history-out) for `promtool tsdb create-blocks-from openmetrics`; the live
counters continue from where the history ends.
"""
import argparse
import hashlib
import json
import math
import os
import random
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
CATALOG = os.path.join(HERE, "..", "mlflow", "catalog.json")

LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
FEATURE_BUCKET_SDS = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]
LATENCY_SIGMA = 0.45           # lognormal shape of request latency
BASE_ERROR_RATE = 0.002        # 5xx share when healthy
CLIENT_ERROR_RATE = 0.01       # 4xx share
CANARY_WEIGHT = 0.1            # share of a model's traffic that goes to the canary track
GPU_MEM_MIB = 81559
DRIVER_VERSION = "550.54.15"


def log(msg):
    print(f"{time.strftime('%H:%M:%S')} traffic: {msg}", file=sys.stderr, flush=True)


def hfloat(*parts):
    """Deterministic float in [0, 1) from parts."""
    d = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(d[:8], "big") / 2**64


def hhex(*parts, n=8):
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:n]


def phi(z):
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def nice(x):
    """Round a bucket bound to 3 significant digits for readable `le` labels."""
    if x == 0:
        return 0.0
    return float(f"{x:.3g}")


def fmt(v):
    if v == math.inf:
        return "+Inf"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def esc(v):
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def labelstr(pairs):
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in pairs) + "}"


# ---------------------------------------------------------------------------- catalog

def load_catalog():
    try:
        with open(CATALOG) as f:
            return {m["name"]: m for m in json.load(f)["models"]}
    except OSError:
        return {}


def model_profile(catalog, name):
    m = catalog.get(name)
    if m:
        return m
    return {"name": name, "rps": 20 + int(hfloat("rps", name) * 80), "gpus": 1,
            "latency_ms": 10 + int(hfloat("lat", name) * 60),
            "features": [{"name": f"feature_{i}", "mean": 0.0, "sd": 1.0} for i in range(3)]}


# ---------------------------------------------------------------------------- topology

class Topology:
    def __init__(self, nodes, pods):
        self.nodes = nodes    # name -> {"gpus": n, "product": str, "mem": MiB}
        self.pods = pods      # list of dicts: namespace name node container gpus model version track

    def key(self):
        return (tuple(sorted((n, v["gpus"]) for n, v in self.nodes.items())),
                tuple(sorted((p["namespace"], p["name"], p["node"], p["gpus"], p["model"], p["version"],
                              p["track"]) for p in self.pods)))


def static_topology(catalog, seed):
    nodes = {n: {"gpus": 8, "product": "NVIDIA H100 80GB HBM3", "mem": GPU_MEM_MIB}
             for n in ("gpu-me-central-1a-0", "gpu-me-central-1b-0", "gpu-eu-west-1a-0", "gpu-eu-west-1b-0")}
    names = sorted(nodes)
    pods, i = [], 0
    for mi, m in enumerate(catalog.values()):
        tracks = [("stable", m["champion"], 2 if m["rps"] >= 100 else 1)]
        if mi < 4:
            tracks.append(("canary", m["challenger"], 1))
        for track, version, replicas in tracks:
            rs = hhex(seed, m["name"], track, n=10)
            for r in range(replicas):
                gpus = max(1, m.get("gpus", 1))
                pods.append({"namespace": "ml-serving",
                             "name": f"{m['name']}-{track}-{rs}-{hhex(seed, m['name'], track, r, n=5)}",
                             "node": names[i % len(names)], "container": "server", "gpus": gpus,
                             "model": m["name"], "version": str(version), "track": track})
                i += 1
    return Topology(nodes, pods)


def node_info(n):
    """A GPU node's part of the topology, or None for a node without GPUs."""
    st = n.get("status", {})
    g = st.get("capacity", {}).get("nvidia.com/gpu") or st.get("allocatable", {}).get("nvidia.com/gpu")
    if not g or int(g) <= 0:
        return None
    lab = n["metadata"].get("labels", {})
    product = lab.get("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3").replace("-", " ")
    return {"gpus": int(g), "product": product, "mem": int(lab.get("nvidia.com/gpu.memory", GPU_MEM_MIB))}


def pod_info(p):
    """A running model pod's part of the topology, or None for a pod that does not serve."""
    md, spec, st = p["metadata"], p.get("spec", {}), p.get("status", {})
    if st.get("phase") != "Running" or md.get("deletionTimestamp"):
        return None
    lab = md.get("labels", {})
    gpus, container = 0, ""
    for c in spec.get("containers", []):
        res = c.get("resources", {})
        req = res.get("limits", {}).get("nvidia.com/gpu") or res.get("requests", {}).get("nvidia.com/gpu")
        if req and int(req) > 0 and not container:
            gpus, container = int(req), c["name"]
    if not container and spec.get("containers"):
        container = spec["containers"][0]["name"]
    return {"namespace": md["namespace"], "name": md["name"], "node": spec.get("nodeName", ""),
            "container": container, "gpus": gpus, "model": lab.get("mlops.dev/model", ""),
            "version": lab.get("mlops.dev/version", ""),
            "track": lab.get("mlops.dev/track", "stable")}


class Watch:
    """One resource kept current the way an informer does: a list, then a watch from the list's
    resourceVersion (bookmarks on), a list again when the watch ends or expires (410). Each
    object is kept as its projection (`project(obj)`; None drops it). Through `kubectl get
    --raw`, so the API server serves one list per (re)connect instead of one per poll: with
    thousands of model pods a poll every few seconds was a load on the API server the tests
    measure (the controller's scale benchmark)."""

    def __init__(self, kubectl, kubeconfig, path, project, on_change, timeout=15):
        self.kubectl, self.path, self.project, self.on_change = kubectl, path, project, on_change
        self.env = dict(os.environ, KUBECONFIG=kubeconfig)
        self.timeout = timeout
        self.lock = threading.Lock()
        self.items = {}           # namespace/name -> projection
        self.synced = False       # a list has been read
        self.error = ""           # the last failure, "" while watching

    def _list(self):
        sep = "&" if "?" in self.path else "?"
        out = subprocess.run([self.kubectl, "get", "--raw", f"{self.path}{sep}resourceVersion=0"],
                             env=self.env, capture_output=True, timeout=self.timeout, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"kubectl get --raw {self.path}: {out.stderr.strip()[:300]}")
        body = json.loads(out.stdout)
        items = {}
        for obj in body.get("items", []):
            self._put(items, obj)
        with self.lock:
            self.items = items
            self.synced = True
            self.error = ""
        self.on_change()
        return body.get("metadata", {}).get("resourceVersion", "")

    def _put(self, items, obj):
        md = obj.get("metadata", {})
        key = f"{md.get('namespace', '')}/{md.get('name', '')}"
        v = self.project(obj)
        if v is None:
            return items.pop(key, None) is not None
        changed = items.get(key) != v
        items[key] = v
        return changed

    def _watch(self, rv):
        """Follow the watch from `rv` until it ends; the resourceVersion to go on from, or ""
        to list again (410 Gone: the history is compacted)."""
        sep = "&" if "?" in self.path else "?"
        url = f"{self.path}{sep}watch=1&allowWatchBookmarks=true&timeoutSeconds=600&resourceVersion={rv}"
        proc = subprocess.Popen([self.kubectl, "get", "--raw", url], env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for line in proc.stdout:
                if not line.strip():
                    continue
                ev = json.loads(line)
                kind, obj = ev.get("type"), ev.get("object", {})
                if kind == "ERROR":
                    log(f"watch {self.path}: {obj.get('message', obj)}")
                    return ""
                rv = obj.get("metadata", {}).get("resourceVersion", rv)
                if kind == "BOOKMARK":
                    continue
                with self.lock:
                    if kind == "DELETED":
                        md = obj.get("metadata", {})
                        changed = self.items.pop(f"{md.get('namespace', '')}/{md.get('name', '')}",
                                                 None) is not None
                    else:
                        changed = self._put(self.items, obj)
                if changed:
                    self.on_change()
        finally:
            proc.wait()
            err = proc.stderr.read().strip()
            if proc.returncode != 0 and err:
                raise RuntimeError(f"watch {self.path}: {err[:300]}")
        return rv

    def run(self):
        backoff, rv = 1.0, ""
        while True:
            try:
                if not rv:
                    rv = self._list()
                rv = self._watch(rv)
                backoff = 1.0
            except Exception as e:  # keep the last state; list again after a pause
                with self.lock:
                    self.error = str(e)
                log(f"{self.path}: {e}; listing again in {backoff:.0f}s")
                time.sleep(backoff)
                backoff, rv = min(backoff * 2, 30.0), ""

    def start(self):
        threading.Thread(target=self.run, daemon=True).start()
        return self

    def snapshot(self):
        with self.lock:
            return dict(self.items), self.synced, self.error


class KubeTopology:
    """The topology from watches of the GPU nodes and the model pods."""

    def __init__(self, kubectl, kubeconfig):
        self.dirty = threading.Event()
        self.nodes = Watch(kubectl, kubeconfig, "/api/v1/nodes", node_info, self.dirty.set).start()
        self.pods = Watch(kubectl, kubeconfig, "/api/v1/pods?labelSelector=mlops.dev%2Fmodel",
                          pod_info, self.dirty.set).start()

    def read(self):
        """(topology, error): the topology once both lists are read, else None."""
        self.dirty.clear()
        nodes, nodes_synced, nodes_err = self.nodes.snapshot()
        pods, pods_synced, pods_err = self.pods.snapshot()
        if not (nodes_synced and pods_synced):
            return None, nodes_err or pods_err or "waiting for the first lists"
        by_name = {k.split("/", 1)[1]: v for k, v in nodes.items()}
        return Topology(by_name, list(pods.values())), nodes_err or pods_err


# ---------------------------------------------------------------------------- simulation

class Carry:
    """Error-diffusion rounding: integer increments whose sum tracks the float sum."""
    __slots__ = ("acc",)

    def __init__(self):
        self.acc = 0.0

    def take(self, x):
        self.acc += x
        n = math.floor(self.acc)
        self.acc -= n
        return n


class Hist:
    def __init__(self, bounds):
        self.bounds = bounds                         # finite upper bounds, ascending
        self.counts = [0] * (len(bounds) + 1)        # per bucket (non-cumulative), last = +Inf
        self.carry = [Carry() for _ in self.counts]
        self.sum = 0.0

    def observe_dist(self, n, cdf, mean):
        """Add n observations distributed by cdf (error diffusion per bucket)."""
        if n <= 0:
            return
        prev = 0.0
        for i, b in enumerate(self.bounds + [math.inf]):
            c = 1.0 if b == math.inf else cdf(b)
            self.counts[i] += self.carry[i].take(n * max(0.0, c - prev))
            prev = c
        self.sum += n * mean

    def cumulative(self):
        out, acc = [], 0
        for i, b in enumerate(self.bounds + [math.inf]):
            acc += self.counts[i]
            out.append((b, acc))
        return out


class Group:
    """One (namespace, model, version, track): the series of a model server Deployment."""
    CODES = ("200", "400", "500", "503")

    def __init__(self, ns, model, version, track, prof):
        self.ns, self.model, self.version, self.track, self.prof = ns, model, version, track, prof
        self.replicas = 0
        self.codes = {c: 0 for c in self.CODES}
        self.code_carry = {c: Carry() for c in self.CODES}
        self.latency = Hist(LATENCY_BUCKETS)
        self.features = {}
        for f in prof["features"]:
            bounds = sorted({nice(f["mean"] + k * f["sd"]) for k in FEATURE_BUCKET_SDS})
            self.features[f["name"]] = (f, Hist(bounds))
        self.last_rps = 0.0

    @property
    def key(self):
        return (self.ns, self.model, self.version, self.track)


class Sim:
    def __init__(self, seed, catalog):
        self.seed = seed
        self.catalog = catalog
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.groups = {}            # key -> Group (kept when pods go away, re-used if they return)
        self.active = set()         # keys currently backed by running pods
        self.topology = Topology({}, [])
        self.gpus = []              # list of dicts (one per GPU per GPU node)
        self.rules = {"degrade": [], "drift": [], "traffic": [], "gpu": {}}
        self.topology_source = "none"
        self.last_poll_error = ""

    # --- rules
    @staticmethod
    def _match(rule, g):
        return (rule.get("model") == g.model
                and rule.get("version") in (None, "", g.version)
                and rule.get("track") in (None, "", g.track))

    def _degrade(self, g):
        err, lat = None, None
        for r in self.rules["degrade"]:
            if self._match(r, g):
                if r.get("error_rate") is not None:
                    err = float(r["error_rate"])
                if r.get("latency_ms") is not None:
                    lat = float(r["latency_ms"])
        return err, lat

    def _drift(self, g, feature):
        shift, scale = 0.0, 1.0
        for r in self.rules["drift"]:
            if self._match(r, g) and r.get("feature") in (None, "", feature):
                shift += float(r.get("shift", 0.0))
                scale *= float(r.get("scale", 1.0))
        return shift, scale

    def _rps_factor(self, g):
        f = 1.0
        for r in self.rules["traffic"]:
            if self._match(r, g):
                f *= float(r.get("rps_factor", 1.0))
        return f

    # --- topology
    def set_topology(self, topo, source):
        with self.lock:
            self.topology_source = source
            if topo.key() == self.topology.key():
                return False
            self.topology = topo
            reps = {}
            for p in topo.pods:
                if not p["model"]:
                    continue
                k = (p["namespace"], p["model"], p["version"], p["track"])
                reps[k] = reps.get(k, 0) + 1
            for k, n in reps.items():
                if k not in self.groups:
                    self.groups[k] = Group(*k, model_profile(self.catalog, k[1]))
                self.groups[k].replicas = n
            self.active = set(reps)
            self._allocate_gpus()
            return True

    def _allocate_gpus(self):
        topo = self.topology
        by_node = {}
        for p in sorted(topo.pods, key=lambda p: (p["namespace"], p["name"])):
            if p["gpus"] > 0 and p["node"] in topo.nodes:
                by_node.setdefault(p["node"], []).append(p)
        # deterministic idle choice: ~25% of the GPU pods, ordinal within their group
        ordinal, idle_pods = {}, set()
        gpu_pods = sorted((p for ps in by_node.values() for p in ps),
                          key=lambda p: (p["model"], p["version"], p["track"], p["name"]))
        for p in gpu_pods:
            gk = (p["model"], p["version"], p["track"])
            ordinal[gk] = ordinal.get(gk, -1) + 1
            if hfloat(self.seed, "idle", *gk, ordinal[gk]) < 0.25:
                idle_pods.add(p["name"])
        if not idle_pods and len(gpu_pods) >= 2:
            idle_pods.add(gpu_pods[-1]["name"])
        gpus = []
        for node in sorted(topo.nodes):
            info = topo.nodes[node]
            slots = [None] * info["gpus"]
            i = 0
            for p in by_node.get(node, []):
                for _ in range(p["gpus"]):
                    if i < len(slots):
                        slots[i] = p
                        i += 1
            for idx, p in enumerate(slots):
                u = hhex("uuid", node, idx, n=32)
                gpus.append({
                    "node": node, "gpu": idx, "product": info["product"], "mem": info["mem"],
                    "uuid": f"GPU-{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:32]}",
                    "pod": p["name"] if p else "", "namespace": p["namespace"] if p else "",
                    "container": p["container"] if p else "",
                    "group": (p["namespace"], p["model"], p["version"], p["track"]) if p else None,
                    "idle_default": bool(p) and p["name"] in idle_pods,
                    "base_util": 35 + 50 * hfloat(self.seed, "util", p["model"]) if p else 0.0,
                    "mem_used": int(info["mem"] * (0.25 + 0.6 * hfloat(self.seed, "mem", p["model"]))) if p else 0,
                })
        self.gpus = gpus

    # --- time evolution
    def diurnal(self, t):
        return 1.0 + 0.25 * math.sin(2 * math.pi * (t % 86400) / 86400.0 - 1.2)

    def tick(self, t, dt):
        with self.lock:
            rng = self.rng
            models_with_canary = {(g.ns, g.model) for k, g in self.groups.items()
                                  if k in self.active and g.track == "canary"}
            for k in sorted(self.active):
                g = self.groups[k]
                prof = g.prof
                share = 1.0
                if (g.ns, g.model) in models_with_canary:
                    share = CANARY_WEIGHT if g.track == "canary" else 1.0 - CANARY_WEIGHT
                rps = prof["rps"] * share * self.diurnal(t) * self._rps_factor(g) * rng.uniform(0.9, 1.1)
                g.last_rps = rps
                lam = rps * dt
                err, lat_ms = self._degrade(g)
                e5 = BASE_ERROR_RATE if err is None else max(0.0, min(1.0, err))
                e4 = CLIENT_ERROR_RATE * (1.0 - e5)
                probs = {"200": max(0.0, 1.0 - e5 - e4), "400": e4, "500": e5 * 0.7, "503": e5 * 0.3}
                n = 0
                for c in Group.CODES:
                    inc = g.code_carry[c].take(lam * probs[c])
                    g.codes[c] += inc
                    n += inc
                median = (lat_ms if lat_ms is not None else prof["latency_ms"] * (1.1 if g.track == "canary" else 1.0)) / 1000.0
                median *= rng.uniform(0.95, 1.05)
                mu = math.log(median)
                g.latency.observe_dist(
                    n, lambda x: phi((math.log(x) - mu) / LATENCY_SIGMA),
                    median * math.exp(LATENCY_SIGMA ** 2 / 2))
                for fname, (f, hist) in g.features.items():
                    shift, scale = self._drift(g, fname)
                    m = f["mean"] + shift * f["sd"] + rng.gauss(0, 0.02) * f["sd"]
                    sd = f["sd"] * scale
                    hist.observe_dist(n, lambda x, m=m, sd=sd: phi((x - m) / sd), m)

    def gpu_values(self, t):
        """Current gauge values per GPU (uses the RNG: call once per sample time)."""
        rng = self.rng
        out = []
        for gp in self.gpus:
            forced = self.rules["gpu"].get(gp["pod"]) if gp["pod"] else None
            idle = gp["idle_default"] if forced is None else forced
            if not gp["pod"]:
                util, used = 0.0, 0
            elif idle:
                util, used = (1.0 if rng.random() < 0.1 else 0.0), gp["mem_used"]
            else:
                g = self.groups.get(gp["group"])
                load = 1.0
                if g and g.prof["rps"] > 0:
                    load = g.last_rps / (g.prof["rps"] * (CANARY_WEIGHT if g.track == "canary" else 1.0))
                util = max(1.0, min(100.0, gp["base_util"] * (0.6 + 0.4 * load) + rng.gauss(0, 3)))
                used = gp["mem_used"] + int(rng.uniform(-200, 200))
            used = max(0, min(gp["mem"], used))
            power = 68.0 + 6.2 * util + rng.uniform(-4, 4)
            temp = 31.0 + 0.45 * util + rng.uniform(-1, 1)
            out.append((gp, {"DCGM_FI_DEV_GPU_UTIL": round(util),
                             "DCGM_FI_DEV_FB_USED": used,
                             "DCGM_FI_DEV_FB_FREE": gp["mem"] - used,
                             "DCGM_FI_DEV_POWER_USAGE": round(power, 3),
                             "DCGM_FI_DEV_GPU_TEMP": round(temp)}))
        return out

    # --- exposition
    def model_samples(self, extra=()):
        """[(family, type, help, [(name, labels, value)])] for the active groups."""
        req, dur, feat = [], [], []
        for k in sorted(self.active):
            g = self.groups[k]
            base = [("namespace", g.ns), ("model", g.model), ("version", g.version), ("track", g.track)]
            for c in Group.CODES:
                req.append(("model_requests_total", labelstr(list(extra) + base + [("code", c)]), g.codes[c]))
            for b, cum in g.latency.cumulative():
                dur.append(("model_request_duration_seconds_bucket",
                            labelstr(list(extra) + base + [("le", fmt(b))]), cum))
            lb = labelstr(list(extra) + base)
            dur.append(("model_request_duration_seconds_sum", lb, round(g.latency.sum, 6)))
            dur.append(("model_request_duration_seconds_count", lb, sum(g.latency.counts)))
            for fname, (f, hist) in g.features.items():
                fb = list(extra) + base + [("feature", fname)]
                for b, cum in hist.cumulative():
                    feat.append(("model_feature_value_bucket", labelstr(fb + [("le", fmt(b))]), cum))
                feat.append(("model_feature_value_sum", labelstr(fb), round(hist.sum, 6)))
                feat.append(("model_feature_value_count", labelstr(fb), sum(hist.counts)))
        return [
            ("model_requests", "counter", "Requests served by the model server, by HTTP status code.", req),
            ("model_request_duration_seconds", "histogram", "Model server request latency.", dur),
            ("model_feature_value", "histogram", "Observed values of model input features.", feat),
        ]

    def dcgm_samples(self, t, extra=()):
        fams = {n: [] for n in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE",
                                "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_TEMP")}
        for gp, vals in self.gpu_values(t):
            lb = labelstr(list(extra) + [
                ("gpu", str(gp["gpu"])), ("UUID", gp["uuid"]), ("device", f"nvidia{gp['gpu']}"),
                ("modelName", gp["product"]), ("Hostname", gp["node"]),
                ("DCGM_FI_DRIVER_VERSION", DRIVER_VERSION),
                ("container", gp["container"]), ("namespace", gp["namespace"]), ("pod", gp["pod"])])
            for n, v in vals.items():
                fams[n].append((n, lb, v))
        helps = {"DCGM_FI_DEV_GPU_UTIL": "GPU utilization (in %).",
                 "DCGM_FI_DEV_FB_USED": "Framebuffer memory used (in MiB).",
                 "DCGM_FI_DEV_FB_FREE": "Framebuffer memory free (in MiB).",
                 "DCGM_FI_DEV_POWER_USAGE": "Power draw (in W).",
                 "DCGM_FI_DEV_GPU_TEMP": "GPU temperature (in C)."}
        return [(n, "gauge", helps[n], s) for n, s in fams.items()]


def render_text(families):
    lines = []
    for fam, typ, hlp, samples in families:
        lines.append(f"# HELP {fam} {hlp}")
        lines.append(f"# TYPE {fam} {typ}")
        for name, lb, v in samples:
            lines.append(f"{name}{lb} {fmt(v)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- history

def write_history(sim, path, start, hours, step, job_model, job_dcgm, instance):
    """Simulate [start - hours, start] and write OpenMetrics grouped by family and series."""
    t0 = int(start - hours * 3600)
    t0 = t0 - (t0 % step)
    steps = int((start - t0) // step)
    series = {}    # (family, type, help) -> {(name, labels): [(ts, v)]}
    order = []
    xm = [("instance", instance), ("job", job_model)]
    xd = [("instance", instance), ("job", job_dcgm)]
    began = time.time()
    for i in range(1, steps + 1):
        ts = t0 + i * step
        sim.tick(ts, step)
        fams = sim.model_samples(xm) + sim.dcgm_samples(ts, xd)
        for fam, typ, hlp, samples in fams:
            fk = (fam, typ, hlp)
            if fk not in series:
                series[fk] = {}
                order.append(fk)
            d = series[fk]
            for name, lb, v in samples:
                d.setdefault((name, lb), []).append((ts, v))
    tmp = path + ".tmp"
    n = 0
    with open(tmp, "w") as f:
        for fk in order:
            fam, typ, hlp = fk
            f.write(f"# HELP {fam} {hlp}\n# TYPE {fam} {typ}\n")
            for (name, lb), pts in series[fk].items():
                f.write("".join(f"{name}{lb} {fmt(v)} {ts}\n" for ts, v in pts))
                n += len(pts)
        f.write("# EOF\n")
    os.replace(tmp, path)
    log(f"history: {steps} steps x {sum(len(v) for v in series.values())} series = {n} samples "
        f"[{t0}, {start}] written to {path} in {time.time() - began:.1f}s")
    return {"start": t0, "end": start, "step": step, "samples": n}


# ---------------------------------------------------------------------------- http

class Handler(BaseHTTPRequestHandler):
    server_version = "mlops-traffic/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt_, *args):
        if self.server.app.verbose:
            log(fmt_ % args)

    def _send(self, code, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, code, obj):
        self._send(code, json.dumps(obj, indent=1, sort_keys=True) + "\n")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n == 0:
            return {}
        return json.loads(self.rfile.read(n) or b"{}")

    def do_GET(self):
        app = self.server.app
        path = self.path.split("?")[0]
        if path == "/metrics":
            with app.sim.lock:
                txt = render_text(app.sim.model_samples())
            self._send(200, txt, "text/plain; version=0.0.4; charset=utf-8")
        elif path == "/metrics/dcgm":
            with app.sim.lock:
                txt = render_text(app.sim.dcgm_samples(time.time()))
            self._send(200, txt, "text/plain; version=0.0.4; charset=utf-8")
        elif path == "/healthz":
            if app.ready:
                self._send(200, "ok\n", "text/plain")
            else:
                self._send(503, "starting\n", "text/plain")
        elif path == "/control/state":
            self._json(200, app.state())
        else:
            self._json(404, {"error": f"no route {path}"})

    def do_POST(self):
        app = self.server.app
        path = self.path.split("?")[0]
        try:
            body = self._body()
        except (ValueError, json.JSONDecodeError) as e:
            return self._json(400, {"error": f"bad JSON: {e}"})
        sim = app.sim
        m = re.fullmatch(r"/v1/models/([^/:]+)(?:/versions/([^/:]+))?:predict", path)
        if m:
            return self._predict(m.group(1), m.group(2), body)
        if path not in ("/control/degrade", "/control/drift", "/control/traffic", "/control/gpu",
                        "/control/reset"):
            return self._json(404, {"error": f"no route {path}"})
        with sim.lock:
            if path == "/control/reset":
                sim.rules = {"degrade": [], "drift": [], "traffic": [], "gpu": {}}
                log("control: reset")
                return self._json(200, {"ok": True, "rules": sim.rules})
            if path == "/control/gpu":
                pod = body.get("pod")
                if not pod:
                    return self._json(400, {"error": "need pod"})
                hits = [gp["pod"] for gp in sim.gpus if gp["pod"] == pod or gp["pod"].startswith(pod)]
                if not hits:
                    return self._json(404, {"error": f"no GPU allocated to pod {pod!r}"})
                for p in set(hits):
                    sim.rules["gpu"][p] = bool(body.get("idle", True))
                log(f"control: gpu {body}")
                return self._json(200, {"ok": True, "pods": sorted(set(hits)), "rules": sim.rules})
            if not body.get("model"):
                return self._json(400, {"error": "need model"})
            for k in ("version", "track"):
                if body.get(k) is not None:
                    body[k] = str(body[k])
            kind = path.rsplit("/", 1)[1]
            if kind == "degrade":
                allowed = {"model", "version", "track", "error_rate", "latency_ms"}
                if body.get("error_rate") is None and body.get("latency_ms") is None:
                    return self._json(400, {"error": "need error_rate and/or latency_ms"})
            elif kind == "drift":
                allowed = {"model", "version", "track", "feature", "shift", "scale"}
                if body.get("shift") is None and body.get("scale") is None:
                    return self._json(400, {"error": "need shift and/or scale"})
            else:
                allowed = {"model", "version", "track", "rps_factor"}
                if body.get("rps_factor") is None:
                    return self._json(400, {"error": "need rps_factor"})
            extra = set(body) - allowed
            if extra:
                return self._json(400, {"error": f"unknown fields {sorted(extra)}"})
            rule = {k: body.get(k) for k in sorted(allowed) if body.get(k) is not None}
            # replace a rule for the same target
            tgt = lambda r: (r.get("model"), r.get("version"), r.get("track"), r.get("feature"))
            sim.rules[kind] = [r for r in sim.rules[kind] if tgt(r) != tgt(rule)] + [rule]
            matched = [f"{g.model}/{g.version}/{g.track}" for k, g in sorted(sim.groups.items())
                       if k in sim.active and sim._match(rule, g)]
            if kind == "drift" and rule.get("feature"):
                known = {f for k, g in sim.groups.items() if sim._match(rule, g) for f in g.features}
                if rule["feature"] not in known:
                    sim.rules[kind].remove(rule)
                    return self._json(404, {"error": f"unknown feature {rule['feature']!r}",
                                            "features": sorted(known)})
            log(f"control: {kind} {rule} -> {matched}")
            return self._json(200, {"ok": True, "matched": matched, "rules": sim.rules})

    def _predict(self, model, version, body):
        sim = self.server.app.sim
        with sim.lock:
            cands = [g for k, g in sorted(sim.groups.items())
                     if k in sim.active and g.model == model and version in (None, g.version)]
            if not cands:
                return self._json(404, {"error": f"model {model!r} not served"})
            canary = [g for g in cands if g.track == "canary"]
            stable = [g for g in cands if g.track != "canary"] or cands
            g = canary[0] if canary and random.random() < CANARY_WEIGHT else stable[0]
            err, lat = sim._degrade(g)
            e5 = BASE_ERROR_RATE if err is None else err
            code = "500" if random.random() < e5 else "200"
            g.codes[code] += 1
            secs = (lat if lat is not None else g.prof["latency_ms"]) / 1000.0
            g.latency.counts[next((i for i, b in enumerate(g.latency.bounds) if secs <= b),
                                  len(g.latency.bounds))] += 1
            g.latency.sum += secs
        if code != "200":
            return self._json(int(code), {"error": "model server error", "model": model,
                                          "version": g.version, "track": g.track})
        return self._json(200, {"model": model, "version": g.version, "track": g.track,
                                "predictions": [round(random.random(), 4)]})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # client went away: not worth a traceback
        super().handle_error(request, client_address)


def tick_every(groups, longest):
    """Seconds between ticks: each second for a test environment's few dozen series groups,
    up to `longest` (the topology's poll, as long as a scrape) when there are thousands."""
    return max(1.0, min(float(longest), groups / 400.0))


class App:
    def __init__(self, args):
        self.args = args
        self.verbose = args.verbose
        self.sim = Sim(args.seed, load_catalog())
        self.ready = False
        self.started = time.time()
        self.history = None
        self.kube = None

    def poll_once(self):
        a = self.args
        if not a.kubeconfig:
            return self.sim.set_topology(static_topology(self.sim.catalog, a.seed), "static")
        if self.kube is None:
            self.kube = KubeTopology(a.kubectl, a.kubeconfig)
        topo, error = self.kube.read()
        self.sim.last_poll_error = error
        if topo is None:  # keep the last topology until the lists are read
            return False
        changed = self.sim.set_topology(topo, "kubernetes")
        if changed:
            log(f"topology: {len(topo.nodes)} GPU nodes, {len(topo.pods)} model pods, "
                f"groups {sorted('/'.join(k[1:]) for k in self.sim.active)}")
        return changed

    def state(self):
        s = self.sim
        with s.lock:
            return {
                "seed": s.seed, "started": self.started, "ready": self.ready,
                "topology_source": s.topology_source, "last_poll_error": s.last_poll_error,
                "history": self.history,
                "groups": [{"namespace": g.ns, "model": g.model, "version": g.version, "track": g.track,
                            "replicas": g.replicas, "rps": round(g.last_rps, 3),
                            "requests": dict(g.codes), "degrade": dict(zip(("error_rate", "latency_ms"),
                                                                           s._degrade(g))),
                            "features": sorted(g.features)}
                           for k, g in sorted(s.groups.items()) if k in s.active],
                "gpus": [{"node": g["node"], "gpu": g["gpu"], "uuid": g["uuid"], "pod": g["pod"],
                          "namespace": g["namespace"],
                          "idle": (g["idle_default"] if s.rules["gpu"].get(g["pod"]) is None
                                   else s.rules["gpu"][g["pod"]]) if g["pod"] else None}
                         for g in s.gpus],
                "rules": s.rules,
            }

    def run(self):
        a = self.args
        srv = Server((a.host, a.port), Handler)
        srv.app = self
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        log(f"listening on http://{a.host}:{a.port}")

        # initial topology; with a cluster wait (bounded) for scheduled, running model pods
        deadline = time.time() + a.wait_pods
        while True:
            self.poll_once()
            if self.sim.active or time.time() >= deadline:
                break
            time.sleep(1)
        if not self.sim.active:
            log("warning: no model pods found; serving without model series")

        now = time.time()
        if a.history_out and a.history_hours > 0:
            self.history = write_history(self.sim, a.history_out, int(now), a.history_hours,
                                         a.history_step, a.job_model, a.job_dcgm, a.instance)
        self.ready = True
        last = time.time()
        next_poll = last + a.poll
        while True:
            time.sleep(1.0)
            t = time.time()
            # Counters integrate rates over the time since the last tick, so a longer tick
            # serves the same series: with thousands of model pods (the controller benchmark's
            # 4,000) a tick each second took half a core of the machine the benchmark measures.
            if t - last >= tick_every(len(self.sim.active), a.poll):
                self.sim.tick(t, t - last)
                last = t
            # Watched: the topology is taken when it changed, at most every --poll seconds.
            if t >= next_poll and (self.kube is None or self.kube.dirty.is_set()):
                next_poll = t + a.poll
                self.poll_once()


def main():
    ap = argparse.ArgumentParser(description="fake model-server traffic and DCGM metrics")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9400)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("MLOPS_TRAFFIC_SEED", "42")))
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    ap.add_argument("--kubectl", default=os.environ.get("MLOPS_KUBECTL", "kubectl"))
    ap.add_argument("--poll", type=float, default=5.0, help="at most this often (s) the watched topology is taken")
    ap.add_argument("--wait-pods", type=float, default=60.0,
                    help="max seconds to wait for running model pods at start")
    ap.add_argument("--history-out", default="")
    ap.add_argument("--history-hours", type=float, default=6.0)
    ap.add_argument("--history-step", type=int, default=30)
    ap.add_argument("--job-model", default="model-serving")
    ap.add_argument("--job-dcgm", default="dcgm-exporter")
    ap.add_argument("--instance", default="mlops-traffic")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    try:
        App(a).run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
