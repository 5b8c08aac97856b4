"""meta.k8s.io/v1 Table responses, which `kubectl get` asks for.

CRDs use their additionalPrinterColumns (simple JSONPath: dotted fields,
`[n]` indexes and `[?(@.k=="v")]` filters); built-ins get NAME and AGE
(plus READY/STATUS for pods). Dates are rendered the way upstream's
HumanDuration does, e.g. `5s`, `2m3s`, `3h`.
"""
import datetime
import json
import re


def parse_time(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def human_duration(seconds):
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d" if h % 24 == 0 else f"{h // 24}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        return f"{h // (24 * 365)}y" if (h // 24) % 365 == 0 else f"{h // (24 * 365)}y{(h // 24) % 365}d"
    return f"{h // (24 * 365)}y"


def age(ts):
    if not ts:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - parse_time(ts)).total_seconds())


_TOKEN = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]")


def jsonpath(obj, expr):
    """Values selected by a simple JSONPath such as `.status.conditions[?(@.type=="Ready")].status`."""
    expr = expr.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if expr.startswith("$"):
        expr = expr[1:]
    cur = [obj]
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            return []
        pos = m.end()
        nxt = []
        for c in cur:
            if m.group(1) is not None:
                if isinstance(c, dict) and m.group(1) in c:
                    nxt.append(c[m.group(1)])
                elif isinstance(c, list):
                    nxt += [x[m.group(1)] for x in c if isinstance(x, dict) and m.group(1) in x]
            elif m.group(2) is not None:
                if isinstance(c, list) and int(m.group(2)) < len(c):
                    nxt.append(c[int(m.group(2))])
            else:
                if isinstance(c, list):
                    for x in c:
                        v = x
                        for part in m.group(3).split("."):
                            v = v.get(part) if isinstance(v, dict) else None
                        if v is not None and str(v) == m.group(4):
                            nxt.append(x)
        cur = nxt
    return cur


def _cell(values, ctype):
    if not values:
        return None
    v = values[0]
    if ctype == "date" and isinstance(v, str):
        try:
            return age(v)
        except ValueError:
            return v
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return v


def _col(name, ctype="string", fmt="", desc="", priority=0):
    return {"name": name, "type": ctype, "format": fmt, "description": desc, "priority": priority}


def columns_and_cells(res, items):
    name_col = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
    age_col = _col("Age", ctype="date", desc="CreationTimestamp is a timestamp representing the server time when this object was created.")
    if res.crd is not None:
        pcs = res.columns or []
        cols = [name_col]
        for pc in pcs:
            cols.append(_col(pc.get("name", ""), pc.get("type", "string"), pc.get("format", ""),
                             pc.get("description", ""), pc.get("priority", 0)))
        if not pcs:
            cols.append(age_col)
        rows = []
        for obj in items:
            cells = [obj["metadata"]["name"]]
            cells += [_cell(jsonpath(obj, pc.get("jsonPath", "")), pc.get("type", "string")) for pc in pcs]
            if not pcs:
                cells.append(age(obj["metadata"].get("creationTimestamp")))
            rows.append(cells)
        return cols, rows
    if res.kind == "Pod" and not res.group:
        cols = [name_col, _col("Ready"), _col("Status"), _col("Restarts", "string"), age_col]
        rows = []
        for obj in items:
            statuses = obj.get("status", {}).get("containerStatuses") or []
            total = len(obj.get("spec", {}).get("containers") or [])
            ready = sum(1 for s in statuses if s.get("ready"))
            phase = "Terminating" if obj["metadata"].get("deletionTimestamp") else obj.get("status", {}).get("phase", "Pending")
            rows.append([obj["metadata"]["name"], f"{ready}/{total}", phase, "0",
                         age(obj["metadata"].get("creationTimestamp"))])
        return cols, rows
    return [name_col, age_col], [[o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"))] for o in items]


def table(res, items, rv, include_object="Metadata"):
    cols, rows = columns_and_cells(res, items)
    out_rows = []
    for obj, cells in zip(items, rows):
        row = {"cells": cells}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        out_rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(rv)},
            "columnDefinitions": cols, "rows": out_rows}
