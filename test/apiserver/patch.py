"""The three classic patch formats: JSON merge (RFC 7386), JSON patch (RFC 6902)
and a subset of Kubernetes strategic merge patch.

Strategic merge patch here is merge patch plus: lists of objects with a known
merge key (containers by name, ports by containerPort/port, ...) merged by key,
`metadata.finalizers` merged as a set, and the `$patch`, `$retainKeys`,
`$setElementOrder/...` and `$deleteFromPrimitiveList/...` directives kubectl
sends. Other lists are replaced, as their patchStrategy says upstream.
"""

from .errors import ApiError
from .jcopy import jcopy

MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "ownerReferences": "uid", "conditions": "type", "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "ports": None,  # containerPort for container ports, port for service ports
}
SET_LISTS = {"finalizers"}


class PatchError(Exception):
    pass


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return jcopy(patch)
    out = jcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# --- RFC 6902 ---------------------------------------------------------------

def _tokens(pointer):
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer must start with '/': {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(doc, pointer):
    toks = _tokens(pointer)
    if not toks:
        raise PatchError("cannot operate on the document root")
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError(f"doc is missing path: {pointer}")
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError):
                raise PatchError(f"doc is missing path: {pointer}")
        else:
            raise PatchError(f"doc is missing path: {pointer}")
    return cur, toks[-1]


def _get(doc, pointer):
    cur = doc
    for t in _tokens(pointer):
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list) and t.isdigit() and int(t) < len(cur):
            cur = cur[int(t)]
        else:
            raise PatchError(f"doc is missing path: {pointer}")
    return cur


def _index(lst, tok, for_add):
    if tok == "-" and for_add:
        return len(lst)
    if not tok.isdigit() or (tok != "0" and tok.startswith("0")):
        raise PatchError(f"invalid array index: {tok}")
    i = int(tok)
    if i > len(lst) or (not for_add and i == len(lst)):
        raise PatchError(f"array index out of bounds: {i}")
    return i


def _add(doc, path, value):
    if path == "":
        return value
    parent, tok = _parent(doc, path)
    if isinstance(parent, dict):
        parent[tok] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, tok, True), value)
    else:
        raise PatchError(f"doc is missing path: {path}")
    return doc


def _remove(doc, path):
    parent, tok = _parent(doc, path)
    if isinstance(parent, dict):
        if tok not in parent:
            raise PatchError(f"unable to remove nonexistent key: {tok}: missing value")
        return parent.pop(tok)
    if isinstance(parent, list):
        return parent.pop(_index(parent, tok, False))
    raise PatchError(f"doc is missing path: {path}")


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = jcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError("an operation must be an object with an \"op\"")
        kind, path = op["op"], op.get("path")
        if path is None:
            raise PatchError(f"operation {kind!r} is missing \"path\"")
        if kind == "add":
            if "value" not in op:
                raise PatchError("add operation does not apply: missing value")
            doc = _add(doc, path, jcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            if "value" not in op:
                raise PatchError("replace operation does not apply: missing value")
            if path == "":
                doc = jcopy(op["value"])
                continue
            parent, tok = _parent(doc, path)
            if isinstance(parent, dict):
                if tok not in parent:
                    raise PatchError(f"replace operation does not apply: doc is missing key: {path}: missing value")
                parent[tok] = jcopy(op["value"])
            elif isinstance(parent, list):
                parent[_index(parent, tok, False)] = jcopy(op["value"])
            else:
                raise PatchError(f"doc is missing path: {path}")
        elif kind in ("move", "copy"):
            src = op.get("from")
            if src is None:
                raise PatchError(f"{kind} operation is missing \"from\"")
            value = jcopy(_get(doc, src))
            if kind == "move":
                _remove(doc, src)
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


# --- strategic merge patch (subset) ------------------------------------------

def _merge_key(field, items):
    key = MERGE_KEYS.get(field, "")
    if key is None:
        sample = next((i for i in items if isinstance(i, dict)), {})
        key = "containerPort" if "containerPort" in sample else "port"
    return key


def strategic_merge(target, patch, field=None):
    if not isinstance(patch, dict):
        return jcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: jcopy(v) for k, v in patch.items() if k != "$patch"}
    out = jcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys") or k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(out.get(name), list):
                out[name] = [x for x in out[name] if x not in (v or [])]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and v.get("$patch") == "delete":
            out.pop(k, None)
        elif isinstance(v, list) and k in SET_LISTS and isinstance(out.get(k), list):
            out[k] = out[k] + [x for x in v if x not in out[k]]
        elif isinstance(v, list) and k in MERGE_KEYS and isinstance(out.get(k), list) \
                and all(isinstance(x, dict) for x in v):
            out[k] = _merge_list(out[k], v, _merge_key(k, v + out[k]))
        else:
            out[k] = strategic_merge(out.get(k), v, k)
    return out


def _merge_list(cur, patch, key):
    result = jcopy(cur)
    for item in patch:
        if item.get("$patch") == "replace":
            return [jcopy({k: v for k, v in i.items() if k != "$patch"}) for i in patch]
        idx = next((i for i, x in enumerate(result) if isinstance(x, dict) and key in item
                    and x.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if idx is None:
            result.append(strategic_merge({}, item))
        else:
            result[idx] = strategic_merge(result[idx], item)
    return result


def apply_patch(ctype, target, body):
    """Dispatch on the Content-Type of a PATCH; raises ApiError 422 on a bad patch."""
    try:
        if ctype == "application/merge-patch+json":
            if not isinstance(body, dict):
                raise PatchError("a merge patch must be a JSON object")
            return merge_patch(target, body)
        if ctype == "application/json-patch+json":
            return json_patch(target, body)
        if ctype == "application/strategic-merge-patch+json":
            if not isinstance(body, dict):
                raise PatchError("a strategic merge patch must be a JSON object")
            return strategic_merge(target, body)
    except PatchError as e:
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {e}")
    raise AssertionError(ctype)
