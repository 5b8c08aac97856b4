"""WATCH: newline-delimited JSON events over a chunked HTTP/1.1 response.

Semantics follow kube-apiserver's watch cache:
  - resourceVersion unset or "0": synthetic ADDED events for the current state,
    then changes; sendInitialEvents=true does the same and ends the initial
    batch with a BOOKMARK annotated k8s.io/initial-events-end;
  - resourceVersion N: every change after N, or one ERROR event carrying a
    410 Expired Status when N is older than the retained event window;
  - label/field selectors turn objects entering or leaving the selection into
    ADDED/DELETED, as upstream does;
  - allowWatchBookmarks: BOOKMARK events with the latest resourceVersion every
    --bookmark-interval seconds;
  - timeoutSeconds ends the stream cleanly; a "dropWatches" fault instead cuts
    the connection without the final chunk.
"""
import json
import time

from .selectors import match_fields, match_reqs, parse_fields, parse_labels
from .table import table


class Dropped(Exception):
    pass


def serve(h, api, res, ns, query, faults, bookmark_interval, max_timeout, as_table):
    store = api.store
    lsel = parse_labels(query.get("labelSelector", ""))
    fsel = parse_fields(query.get("fieldSelector", ""))
    rv_param = query.get("resourceVersion", "")
    initial_events = query.get("sendInitialEvents") == "true"
    bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
    timeout = float(query.get("timeoutSeconds") or max_timeout)
    ns = ns if res.namespaced else None
    epoch = faults.snapshot()["watchEpoch"]

    def selected(obj):
        if obj is None:
            return False
        if ns is not None and obj["metadata"].get("namespace", "") != ns:
            return False
        return match_reqs(lsel, obj["metadata"].get("labels")) and match_fields(fsel, obj)

    def shape(obj):
        obj = api._as_version(res, obj)
        return table(res, [obj], obj["metadata"]["resourceVersion"]) if as_table else obj

    expired = None
    with store.lock:
        if rv_param not in ("", "0") and not initial_events:
            try:
                rv = int(rv_param)
            except ValueError:
                rv = store.rv
            if store.too_old(rv):
                expired = f"too old resource version: {rv} ({store.compacted_rv})"
            initial = []
        else:
            items, rv = store.list(res.gr, ns)
            initial = [o for o in items if selected(o)]

    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Transfer-Encoding", "chunked")
    h.send_header("Cache-Control", "no-cache, private")
    h.end_headers()

    def send(etype, obj):
        data = json.dumps({"type": etype, "object": obj}).encode() + b"\n"
        h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        h.wfile.flush()

    def bookmark(rv, initial_end=False):
        meta = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        send("BOOKMARK", {"kind": res.kind, "apiVersion": res.gv, "metadata": meta})

    def finish():
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    if expired:
        send("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": expired, "reason": "Expired", "code": 410})
        finish()
        return
    for obj in initial:
        send("ADDED", shape(obj))
    if initial_events and bookmarks:
        bookmark(rv, True)
    cond = store.cond_for(res.gr)  # woken by commits of this resource only
    deadline = time.monotonic() + timeout
    next_bookmark = time.monotonic() + bookmark_interval
    while True:
        with cond:
            if not store.events_after(rv) and faults.snapshot()["watchEpoch"] == epoch:
                wait = min(deadline, next_bookmark if bookmarks else deadline) - time.monotonic()
                if wait > 0:
                    cond.wait(min(wait, 1.0))
            if store.too_old(rv):
                expired = f"too old resource version: {rv} ({store.compacted_rv})"
                events = []
            else:
                events = list(store.events_after(rv))
            latest = store.rv
        if faults.snapshot()["watchEpoch"] != epoch:
            raise Dropped()
        if expired:
            send("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": expired, "reason": "Expired", "code": 410})
            finish()
            return
        for ev_rv, gr, etype, obj, old in events:
            rv = ev_rv
            if gr != res.gr:
                continue
            now_in, was_in = selected(obj), selected(old)
            if etype == "ADDED" and now_in:
                send("ADDED", shape(obj))
            elif etype == "MODIFIED":
                if now_in and was_in:
                    send("MODIFIED", shape(obj))
                elif now_in:
                    send("ADDED", shape(obj))
                elif was_in:
                    send("DELETED", shape(obj))
            elif etype == "DELETED" and (now_in or was_in):
                send("DELETED", shape(obj))
        rv = latest  # the events taken under the lock cover everything up to latest
        t = time.monotonic()
        if t >= deadline:
            finish()
            return
        if bookmarks and t >= next_bookmark:
            bookmark(rv)
            next_bookmark = t + bookmark_interval
