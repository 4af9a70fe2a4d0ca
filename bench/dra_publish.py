#!/usr/bin/python3
"""Benchmark (not a test) of the DRA driver's ResourceSlice publisher
(dra/dra_publish.c). It starts the suite's kube-apiserver STAND-IN
(test/standin/kube_apiserver.py; not the real server: Python, one thread a
connection, validating every slice as validation.go does, so server-side
time is its own and slower than kube-apiserver's), then runs
bench/dra_publish.c's kyborg-bench-dra once per device count on a fresh
stand-in:
  time from start (loop, client, publisher, first set) to the node's slices
  published; from kubelet's DELETE of the node's slices to all published
  again; from one device turning unhealthy to its taint published; and
  VmRSS/VmHWM/RssAnon/RssFile after each step.
Usage: dra_publish.py --build BUILD_DIR [--devices 1000,10000] [--inflight 1,2,4,8]
Run it with /usr/bin/python3."""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "..", "test", "standin", "kube_apiserver.py")
PYTHON = "/usr/bin/python3"
NODE = "bench-node"


def run_one(build, devices, inflight):
    tmp = tempfile.mkdtemp(prefix="kydrabench")
    proc = None
    try:
        certs = os.path.join(tmp, "certs")
        subprocess.run([PYTHON, STANDIN, "--gen-certs", certs], check=True, stdout=subprocess.DEVNULL)
        token = os.path.join(tmp, "token")
        with open(token, "w") as f:
            f.write("bench-token\n")
        port_file = os.path.join(tmp, "port")
        proc = subprocess.Popen([PYTHON, STANDIN, "--cert-dir", certs, "--token-file", token,
                                 "--port-file", port_file], stdout=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while not os.path.exists(port_file):
            if time.monotonic() > end or proc.poll() is not None:
                sys.exit("the stand-in did not start")
            time.sleep(0.05)
        with open(port_file) as f:
            url = "https://127.0.0.1:%d" % int(f.read())
        print("%d devices (VFs, 64 a PF), %s writes in flight:" % (devices, inflight or "default (4)"))
        sys.stdout.flush()
        subprocess.run([os.path.join(build, "bench", "kyborg-bench-dra"), url, token, os.path.join(certs, "ca.crt"),
                        NODE, str(devices)] + ([str(inflight)] if inflight else []), check=True)
        sys.stdout.flush()
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--devices", default="1000,10000")
    ap.add_argument("--inflight", default="", help="writes in flight to try, e.g. 1,2,4,8 (default: the publisher's)")
    a = ap.parse_args()
    for n in a.devices.split(","):
        for w in (a.inflight.split(",") if a.inflight else [0]):
            run_one(a.build, int(n), int(w))


if __name__ == "__main__":
    main()
