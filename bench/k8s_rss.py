#!/usr/bin/python3
"""Benchmark (not a test) of what the Kubernetes API client (common/src/k8s)
costs a daemon's memory. It starts the suite's kube-apiserver STAND-IN
(test/standin/kube_apiserver.py; not the real server), fills it with one
node's ResourceSlices (--devices devices, 128 a slice, each with the
attributes the DRA driver publishes) and a few of another node's, then runs
bench/k8s_rss.c's two builds:
  kyborg-bench-k8s-floor   the event loop only; libcurl not linked at all
  kyborg-bench-k8s         loop (libcurl mapped, not initialised), the
                           client, one GET, a reflector listing the node's
                           slices (--page-size a page), PATCHes seen back
                           through its watch, the client freed; run twice:
                           whole objects, then metadata only (Accept
                           as=PartialObjectMetadataList, which the DRA driver
                           needs for its own slices)
each printing VmRSS/VmHWM/RssAnon/RssFile after each step.
Usage: k8s_rss.py --build BUILD_DIR [--devices 10000] [--page-size 10] [--updates 20]
Run it with /usr/bin/python3."""
import argparse
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "..", "test", "standin", "kube_apiserver.py")
PYTHON = "/usr/bin/python3"
NODE = "bench-node"


def device(i):
    bus = 0x3b + i // 256
    return {"name": "vf-%d" % i, "attributes": {
        "resource.kubernetes.io/pcieRoot": {"string": "pci0000:%02x" % (bus - 1)},
        "kyborg.io/pciAddress": {"string": "0000:%02x:%02x.%d" % (bus % 256, (i // 8) % 32, i % 8)},
        "kyborg.io/kind": {"string": "vf"},
        "kyborg.io/vendorID": {"string": "8086"},
        "kyborg.io/deviceID": {"string": "154c"},
        "kyborg.io/vendor": {"string": "Intel Corporation"},
        "kyborg.io/device": {"string": "Ethernet Virtual Function 700 Series"},
        "kyborg.io/numaNode": {"int": i % 2},
        "kyborg.io/driver": {"string": "iavf"},
        "kyborg.io/pfName": {"string": "ens%df0" % (i // 64)},
        "kyborg.io/vfIndex": {"int": i % 64},
        "k8s.cni.cncf.io/deviceID": {"string": "0000:%02x:%02x.%d" % (bus % 256, (i // 8) % 32, i % 8)},
        "k8s.cni.cncf.io/resourceName": {"string": "kyborg.io/vf"},
    }}


def slices(node, devices):
    n = (devices + 127) // 128
    for s in range(n):
        devs = [device(i) for i in range(s * 128, min(devices, (s + 1) * 128))]
        yield {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
               "metadata": {"name": "%s-kyborg.io-%d" % (node, s)},
               "spec": {"driver": "kyborg.io", "nodeName": node,
                        "pool": {"name": node, "generation": 1, "resourceSliceCount": n}, "devices": devs}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--page-size", type=int, default=10)
    ap.add_argument("--updates", type=int, default=20)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kyk8sbench")
    proc = None
    try:
        certs = os.path.join(tmp, "certs")
        subprocess.run([PYTHON, STANDIN, "--gen-certs", certs], check=True)
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
        ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.crt"))
        size = 0
        for node, n in ((NODE, a.devices), ("other-node", 256)):
            for s in slices(node, n):
                body = json.dumps(s).encode()
                size += len(body) if node == NODE else 0
                req = urllib.request.Request(url + "/apis/resource.k8s.io/v1/resourceslices", data=body, method="POST",
                                             headers={"Authorization": "Bearer bench-token",
                                                      "Content-Type": "application/json"})
                urllib.request.urlopen(req, context=ctx).read()
        print("stand-in: %d devices of %s in %d slices, %.1f MiB of JSON; page size %d"
              % (a.devices, NODE, (a.devices + 127) // 128, size / 1048576, a.page_size))
        floor = os.path.join(a.build, "bench", "kyborg-bench-k8s-floor")
        full = os.path.join(a.build, "bench", "kyborg-bench-k8s")
        sys.stdout.flush()
        subprocess.run([floor], check=True)
        argv = [full, url, token, os.path.join(certs, "ca.crt"), NODE, str(a.page_size), str(a.updates)]
        subprocess.run(argv, check=True)
        sys.stdout.flush()
        subprocess.run(argv + ["metadata"], check=True)
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
