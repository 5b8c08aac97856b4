"""Server-side apply, simplified but with the semantics controllers rely on.

Ownership is tracked per object (by uid) and per manager in a side table of
field paths, never in the object itself (managedFields are not served). A path
is a tuple of map keys down to a leaf; lists are atomic leaves, as with
`x-kubernetes-list-type: atomic` (upstream merges some built-in lists by key).

Apply by manager M with config C:
  - no object: create it from C; M owns the fields of C;
  - otherwise every field in C that another manager owns with a different
    value is a conflict: 409 unless force=true, which moves ownership to M;
  - C is merged into the object (maps recursively, everything else replaced);
  - fields M owned before, no longer in C and owned by nobody else are removed.
Non-apply writes (PUT, PATCH) give their manager the fields they changed and
take those fields from everyone else, without conflicts, as upstream does.
"""

from .errors import ApiError
from .jcopy import jcopy

META_TRACKED = ("labels", "annotations", "finalizers", "ownerReferences")


def leaf_paths(obj, prefix=()):
    out = set()
    for k, v in obj.items():
        if not prefix and k in ("apiVersion", "kind"):
            continue
        if prefix == () and k == "metadata":
            for mk in META_TRACKED:
                mv = (v or {}).get(mk)
                if isinstance(mv, dict) and mv:
                    out |= leaf_paths(mv, ("metadata", mk))
                elif mv is not None:
                    out.add(("metadata", mk))
            continue
        if isinstance(v, dict) and v:
            out |= leaf_paths(v, prefix + (k,))
        else:
            out.add(prefix + (k,))
    return out


def scoped(paths, subresource, has_status):
    """Only status paths count on /status; only non-status ones on the main resource."""
    if subresource == "status":
        return {p for p in paths if p[0] == "status"}
    if has_status:
        return {p for p in paths if p[0] != "status"}
    return set(paths)


def get_path(obj, path):
    cur = obj
    for k in path:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def remove_path(obj, path):
    """Delete a leaf and any map above it that the removal leaves empty."""
    stack, cur = [], obj
    for k in path[:-1]:
        if not isinstance(cur, dict) or k not in cur:
            return
        stack.append((cur, k))
        cur = cur[k]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    while stack and cur == {}:
        parent, k = stack.pop()
        if len(stack) == 0 and k in ("metadata", "spec"):
            break
        parent.pop(k, None)
        cur = parent


def merge_apply(target, applied):
    out = jcopy(target) if isinstance(target, dict) else {}
    for k, v in applied.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and v:
            out[k] = merge_apply(out[k], v)
        else:
            out[k] = jcopy(v)
    return out


def _overlap(a, b):
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _fmt(path):
    return "".join("." + k for k in path)


def conflicts(table, manager, paths, current, applied):
    """[(other manager, apiVersion, path)] for fields owned elsewhere with another value."""
    out = []
    for other, entry in sorted(table.items()):
        if other == manager:
            continue
        for op in entry["fields"]:
            op = tuple(op)
            for p in paths:
                if _overlap(p, op):
                    short = p if len(p) <= len(op) else op
                    if get_path(current, short) != get_path(applied, short):
                        out.append((other, entry.get("apiVersion", ""), _fmt(short)))
                        break
    return out


def conflict_error(res, name, found):
    """409 worded like upstream (structured-merge-diff's Conflicts.Error, wrapped by the apiserver)."""
    if len(found) == 1:
        mgr, av, field = found[0]
        text = f'conflict with "{mgr}" using {av}: {field}'
    else:
        by_mgr = {}
        for mgr, av, field in found:
            by_mgr.setdefault((mgr, av), []).append(field)
        lines = []
        for (mgr, av), fields in sorted(by_mgr.items()):
            lines.append(f'conflicts with "{mgr}" using {av}:')
            lines += [f"- {f}" for f in fields]
        text = "\n".join(lines)
    word = "conflict" if len(found) == 1 else "conflicts"
    causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}" using {av}', "field": f}
              for m, av, f in found]
    details = {"name": name, "kind": res.plural, "causes": causes}
    if res.group:
        details["group"] = res.group
    return ApiError(409, "Conflict", f"Apply failed with {len(found)} {word}: {text}", details)


def plan_apply(table, manager, api_version, current, applied, subresource, has_status, force, res, name):
    """Compute the object after applying; returns (new_object, new_table). Raises 409 on conflicts."""
    paths = scoped(leaf_paths(applied), subresource, has_status)
    found = conflicts(table, manager, paths, current, applied)
    if found and not force:
        raise conflict_error(res, name, found)
    table = jcopy(table)
    if force:
        for other, entry in table.items():
            if other != manager:
                entry["fields"] = [f for f in entry["fields"] if not any(_overlap(tuple(f), p) for p in paths)]
    previous = {tuple(f) for f in table.get(manager, {}).get("fields", [])}
    others = {tuple(f) for m, e in table.items() if m != manager for f in e["fields"]}
    body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
    if subresource == "status":
        body = {"status": body.get("status", {})}
    elif has_status:
        body.pop("status", None)
    meta = body.pop("metadata", {}) or {}
    new = merge_apply(current, body)
    for mk in META_TRACKED:
        if mk in meta:
            new.setdefault("metadata", {})
            if isinstance(meta[mk], dict) and isinstance(new["metadata"].get(mk), dict):
                new["metadata"][mk] = merge_apply(new["metadata"][mk], meta[mk])
            else:
                new["metadata"][mk] = jcopy(meta[mk])
    for p in sorted(previous - paths, key=len, reverse=True):
        if not any(_overlap(p, o) for o in others):
            remove_path(new, p)
    table[manager] = {"operation": "Apply", "apiVersion": api_version, "fields": sorted(list(p) for p in paths)}
    table = {m: e for m, e in table.items() if e["fields"]}
    return new, table


def record_update(table, manager, api_version, old, new, subresource, has_status):
    """Ownership after a non-apply write: the changed leaves go to `manager`."""
    changed = set()
    before, after = leaf_paths(old or {}), leaf_paths(new)
    for p in after:
        if p not in before or get_path(old, p) != get_path(new, p):
            changed.add(p)
    changed = scoped(changed, subresource, has_status)
    if not changed:
        return table
    table = jcopy(table)
    for other, entry in table.items():
        if other != manager:
            entry["fields"] = [f for f in entry["fields"] if tuple(f) not in changed]
    mine = {tuple(f) for f in table.get(manager, {}).get("fields", [])} | changed
    mine = {p for p in mine if p in after}
    table[manager] = {"operation": table.get(manager, {}).get("operation", "Update"),
                          "apiVersion": api_version, "fields": sorted(list(p) for p in mine)}
    return {m: e for m, e in table.items() if e["fields"]}
