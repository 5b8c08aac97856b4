"""Label and field selectors: the query-string syntax and the LabelSelector object.

Query syntax (labels): `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
`a`, `!a`, comma-separated (AND). Field selectors accept `=`, `==` and `!=`
on any dotted path; kube-apiserver only allows a per-kind list of fields
(metadata.name and metadata.namespace everywhere), a superset is harmless.
"""
import re

from .errors import bad_request

_REQ = re.compile(r"""\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$""")


def _split(s):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def parse_labels(s):
    """-> list of (key, op, values); raises 400 on bad syntax."""
    reqs = []
    for part in _split(s or ""):
        m = _REQ.match(part)
        if not m:
            raise bad_request(f'unable to parse requirement: found \'{part.strip()}\', expected: \'=\', \'!=\', \'==\', \'in\', notin\'')
        neg, key, op, val, setop, setvals = m.groups()
        if neg:
            if op or setop:
                raise bad_request(f"unable to parse requirement: {part.strip()}")
            reqs.append((key, "DoesNotExist", []))
        elif op:
            reqs.append((key, "In" if op in ("=", "==") else "NotIn", [val]))
        elif setop:
            reqs.append((key, "In" if setop == "in" else "NotIn", [v.strip() for v in setvals.split(",") if v.strip()]))
        else:
            reqs.append((key, "Exists", []))
    return reqs


def match_reqs(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and key in labels and labels[key] in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_reqs(sel):
    """metav1.LabelSelector -> requirements. None or {} selects everything."""
    reqs = [(k, "In", [v]) for k, v in ((sel or {}).get("matchLabels") or {}).items()]
    for e in (sel or {}).get("matchExpressions") or []:
        reqs.append((e.get("key", ""), e.get("operator", ""), e.get("values") or []))
    return reqs


def match_selector(sel, labels):
    return match_reqs(selector_reqs(sel), labels)


def parse_fields(s):
    out = []
    for part in _split(s or ""):
        m = re.match(r"\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise bad_request(f'invalid field selector: "{part}"')
        out.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return out


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def match_fields(reqs, obj):
    return all((field_value(obj, path) == val) == eq for path, eq, val in reqs)
