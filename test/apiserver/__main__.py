"""Entry point: `python3 -m apiserver --port P --tls-dir D --state FILE`."""
import os
import sys

from .server import main

if os.environ.get("PGW_STANDIN_PROFILE"):
    import cProfile, pstats, threading
    from .handlers import Handler
    from . import controllers
    stats = [None]
    lock = threading.Lock()
    def wrap(fn):
        def inner(*a, **kw):
            p = cProfile.Profile(__import__("time").thread_time)
            p.enable()
            try:
                return fn(*a, **kw)
            finally:
                p.disable()
                with lock:
                    if stats[0] is None:
                        stats[0] = pstats.Stats(p)
                    else:
                        stats[0].add(p)
        return inner
    Handler.handle_one_request = wrap(Handler.handle_one_request)
    for n in ("statefulsets", "kubelet", "jobs"):
        setattr(controllers.Controllers, n, wrap(getattr(controllers.Controllers, n)))
    rc = main(sys.argv[1:])
    stats[0].dump_stats(os.environ["PGW_STANDIN_PROFILE"])
    sys.exit(rc)
sys.exit(main(sys.argv[1:]))
