"""CPU of one render of a cluster's children, certificates issued vs deferred.

    python3 bench/render_certs.py [N]

The controller renders every cluster on every reconcile. Before certificates
were deferred, each render issued a CA and the server and pgBackRest
certificates (four ECDSA P-256 keys and their signatures) only to throw them
away, since an existing Secret is never overwritten. Runs build/render_cost
(test/tools/render_cost.c) and prints its JSON line.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
tool = os.path.join(HERE, "..", "build", "render_cost")
print(subprocess.run([tool] + sys.argv[1:2], check=True, capture_output=True, text=True).stdout.strip())
