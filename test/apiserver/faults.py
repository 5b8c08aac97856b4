"""Fault injection: what a flaky or restarting kube-apiserver does to clients.

Controlled with POST /_stand-in/faults (JSON) or the --fault-* flags:
  {"dropWatches": true}            close every open watch connection now
  {"conflictNext": N}              the next N writes fail with 409 Conflict
  {"errorNext": N, "errorCode": C} the next N resource requests fail with C (default 503)
  {"delayMs": M}                   every resource request waits M ms first (0 turns it off)
  {"compact": true}                drop the event log: older RVs now get 410 Gone
  {"onlyUser": "name"}             errors, conflicts and delays hit only that user's requests
                                   ("" or null: everyone's); the way to cut one replica off
GET /_stand-in/faults shows the current settings and counters.
"""
import threading
import time

from .errors import ApiError, conflict


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.conflict_next = 0
        self.error_next = 0
        self.error_code = 503
        self.delay_ms = 0
        self.only_user = ""
        self.watch_epoch = 0
        self.injected = 0

    def configure(self, d, store=None):
        with self.lock:
            if d.get("dropWatches"):
                self.watch_epoch += 1
            if "conflictNext" in d:
                self.conflict_next = int(d["conflictNext"])
            if "errorNext" in d:
                self.error_next = int(d["errorNext"])
            if "errorCode" in d:
                self.error_code = int(d["errorCode"])
            if "delayMs" in d:
                self.delay_ms = int(d["delayMs"])
            if "onlyUser" in d:
                self.only_user = d["onlyUser"] or ""
        if d.get("compact") and store is not None:
            store.compact_now()
        if d.get("dropWatches") and store is not None:
            store.notify_all_watchers()
        return self.snapshot()

    def snapshot(self):
        with self.lock:
            return {"conflictNext": self.conflict_next, "errorNext": self.error_next, "errorCode": self.error_code,
                    "delayMs": self.delay_ms, "onlyUser": self.only_user, "watchEpoch": self.watch_epoch,
                    "injected": self.injected}

    def before_request(self, is_write, res=None, name="", user=""):
        """Called for every resource request; raises the injected failure, if any."""
        with self.lock:
            if self.only_user and user != self.only_user:
                return
            delay = self.delay_ms
            err = None
            if self.error_next > 0:
                self.error_next -= 1
                self.injected += 1
                code = self.error_code
                reason = {500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout", 429: "TooManyRequests"}.get(code, "InternalError")
                msg = {503: "the server is currently unable to handle the request", 429: "the server has received too many requests and has asked us to try again later"}.get(code, "an error on the server has prevented the request from succeeding")
                err = ApiError(code, reason, msg, headers=[("Retry-After", "1")] if code in (429, 503) else [])
            elif is_write and self.conflict_next > 0 and res is not None:
                self.conflict_next -= 1
                self.injected += 1
                err = conflict(res, name or "unknown")
        if delay:
            time.sleep(delay / 1000.0)
        if err:
            raise err
