#!/usr/bin/python3
"""Benchmark (not a test) of the real kyborg-dra-driver binary, driven the
way test/test_dra_e2e.c drives it: the driver runs against an umockdev
testbed this process owns (UMockdev via gi; the driver inherits it with the
preload and UMOCKDEV_DIR), the KUBELET STAND-IN test/grpc/dra_kubelet.py
registers it and calls Prepare/Unprepare, and the KUBE-APISERVER STAND-IN
test/standin/kube_apiserver.py holds its ResourceSlices and the claims. The
stand-in is Python (one thread a connection, HTTP/1.1, validating every slice
as validation.go does): its own time is in every wall-clock figure that
waits on it, and is far above kube-apiserver's; the driver's own share is
given apart (its log's timings, its CPU time).

It measures, on the simulated node (2 GPUs shared by 2, an FPGA, 4 VFs):
  - Prepare latency p50/p99 server side: the driver's own time (its log's
    dur_us less the ResourceClaim GET's get_us), and with the GET against the
    stand-in (dur_us); Unprepare's dur_us; and what the kubelet stand-in
    waited (client side, Python gRPC);
  - start to the first slice and to all slices on the server, seen by a
    watch of this script's (the scheduler's view), and the driver's own
    since_start_ms when it is in step;
  - kubelet's wipe (DELETE of the node's slices) to every slice back;
  - VmRSS, RssAnon, RssFile idle and after the claims (less what umockdev's
    preload and GLib add, which a node does not have);
and with 1,000 and 10,000 devices (10 more GPUs, each pre-split into 100 or
1,000 devices: --gpu-sharing split, as dp_bench.py builds 10,000):
  start to first and all slices, the driver's CPU for it, the wipe to all
  back, RSS once in step and idle;
and claims with their own configs (issue 17), Prepare p50/p99 (the driver's
own time) of:
  - a VfConfig on a simulated VF: driver vfio-pci, the rebind's sysfs
    writes going to the testbed's files (this kernel has no VF operations:
    VLAN and rate settings are for the kernel tier, not timed here), with
    the journal's durable write of the VF's previous state before it;
  - an FpgaConfig whose image is in the cache (a file:// URL fetched once):
    the same image each claim (the port holds it: nothing loaded), and two
    images by turns (each Prepare verifies the cached copy and loads it
    through the admin loader, a Python stand-in whose start dominates).
Usage: dra_bench.py --build BUILD [--claims N] [--starts K] [--wipes W] [--sizes 100,1000]
                    [--config-claims N]
Run it with /usr/bin/python3; it re-executes itself under umockdev-wrapper."""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, HERE)
import dp_bench  # noqa: E402  (gpu_record, proc_status, preload_rss_kib, cpu_ns, pct, Children)

PYTHON = "/usr/bin/python3"
DRIVER = "kyborg.io"
NODE = "bench-node"
STANDIN = os.path.join(ROOT, "test", "standin", "kube_apiserver.py")
KUBELET = os.path.join(ROOT, "test", "grpc", "dra_kubelet.py")
SLICES = "/apis/resource.k8s.io/v1/resourceslices"
N_GPUS = dp_bench.N_GPUS
VFS = ["vf-0000-18-01-%d" % i for i in range(4)]

TARGET_PREPARE_P99_MS = 1.0
TARGET_FIRST_SLICE_MS = 200.0
TARGET_REPUBLISH_MS = 1000.0
TARGET_RSS_KIB = 12 * 1024


def note(msg):
    sys.stderr.write("dra_bench: %s\n" % msg)
    sys.stderr.flush()


def no_preload_env():
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


class Api:
    """The kube-apiserver stand-in, and requests to it with the token."""

    def __init__(self, kids, work):
        self.dir = os.path.join(work, "api")
        os.mkdir(self.dir)
        self.certs = os.path.join(self.dir, "certs")
        subprocess.run([PYTHON, STANDIN, "--gen-certs", self.certs], check=True, stdout=subprocess.DEVNULL,
                       env=no_preload_env())
        self.ca = os.path.join(self.certs, "ca.crt")
        self.token_file = os.path.join(self.dir, "tokens")
        with open(self.token_file, "w") as f:
            f.write("bench-token\n")
        port_file = os.path.join(self.dir, "port")
        self.proc = kids.start([PYTHON, STANDIN, "--cert-dir", self.certs, "--token-file", self.token_file,
                                "--port-file", port_file], stdout=subprocess.DEVNULL, env=no_preload_env())
        dp_bench.wait_for(lambda: os.path.exists(port_file), 20, "the kube-apiserver stand-in")
        with open(port_file) as f:
            self.port = int(f.read())
        self.url = "https://127.0.0.1:%d" % self.port
        self.ctx = ssl.create_default_context(cafile=self.ca)

    def conn(self, timeout=60):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None):
        c = self.conn()
        try:
            headers = {"Authorization": "Bearer bench-token"}
            if body is not None:
                headers["Content-Type"] = "application/json"
                body = json.dumps(body)
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            return r.status, json.loads(data) if data else None
        finally:
            c.close()

    def our_slices(self):
        sel = urllib.parse.quote("spec.driver=%s,spec.nodeName=%s" % (DRIVER, NODE))
        code, body = self.request("GET", SLICES + "?fieldSelector=" + sel)
        assert code == 200, (code, body)
        return body["items"], body["metadata"]["resourceVersion"]

    def wipe(self):
        """What kubelet does at its start: the node's slices deleted."""
        sel = urllib.parse.quote("spec.nodeName=%s" % NODE)
        code, body = self.request("DELETE", SLICES + "?fieldSelector=" + sel)
        assert code == 200, (code, body)
        return len(body["items"])


class SliceWatch:
    """The scheduler's view: a watch on the node's slices from a version,
    each event stamped with the monotonic time its line arrived."""

    def __init__(self, api, rv):
        self.events = []
        self.cond = threading.Condition()
        sel = urllib.parse.quote("spec.driver=%s,spec.nodeName=%s" % (DRIVER, NODE))
        self.c = api.conn(timeout=600)
        self.c.request("GET", "%s?watch=1&resourceVersion=%s&fieldSelector=%s" % (SLICES, rv, sel),
                       headers={"Authorization": "Bearer bench-token"})
        self.r = self.c.getresponse()
        assert self.r.status == 200, self.r.status
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        try:
            while True:
                line = self.r.readline()
                if not line:
                    break
                t = time.monotonic()
                ev = json.loads(line)
                with self.cond:
                    self.events.append((t, ev["type"], ev["object"]))
                    self.cond.notify_all()
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by close(): http.client trips over its own closed socket

    def wait(self, cond, timeout, what):
        """Waits until cond(live slices by name, events) holds; the time of the
        event that made it hold."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                live = {}
                for t, typ, obj in self.events:
                    name = obj["metadata"]["name"]
                    if typ == "DELETED":
                        live.pop(name, None)
                    elif typ in ("ADDED", "MODIFIED"):
                        live[name] = obj
                if cond(live, self.events):
                    return self.events[-1][0] if self.events else time.monotonic()
                left = end - time.monotonic()
                if left <= 0:
                    raise RuntimeError("timed out waiting for %s" % what)
                self.cond.wait(left)

    def close(self):
        try:
            self.c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.c.close()


def pool_complete(n_devices):
    def cond(live, _events):
        if not live:
            return False
        gens = {o["spec"]["pool"]["generation"] for o in live.values()}
        counts = {o["spec"]["pool"]["resourceSliceCount"] for o in live.values()}
        devs = sum(len(o["spec"].get("devices") or []) for o in live.values())
        return len(gens) == 1 and counts == {len(live)} and devs == n_devices
    return cond


def first_added(_live, events):
    return any(typ == "ADDED" for _t, typ, _o in events)


class Kubelet:
    """The kubelet stand-in, one command a line."""

    def __init__(self, kids, work, build, api):
        self.reg_dir = os.path.join(work, "plugins_registry")
        os.makedirs(self.reg_dir, exist_ok=True)
        desc = os.path.join(build, "dra", "proto", "gen", "dra.desc")
        self.p = kids.start([PYTHON, KUBELET, "--registration-dir", self.reg_dir, "--desc", desc,
                             "--node-name", NODE, "--api-server", api.url, "--token-file", api.token_file,
                             "--ca-file", api.ca],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=no_preload_env(), text=True)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise RuntimeError("the kubelet stand-in is gone (%s)" % line)
        return json.loads(out)

    def ok(self, line):
        r = self.cmd(line)
        if not r.get("ok"):
            raise RuntimeError("%s: %s" % (line, r.get("error")))
        return r


def sim_node_record(pf):
    with open(os.path.join(ROOT, "test", "data", "sim-node.umockdev")) as f:
        text = f.read().replace("@PF@", pf)
    for i in range(4):
        text = text.replace("@VF%d@" % i, "%sv%d" % (pf, i))
    return text


def bench_gpu_record(i):
    """dp_bench's GPU i, its DRM nodes numbered after the simulated node's
    (card0, card1, renderD128, renderD129 are taken)."""
    rec = dp_bench.gpu_record(i)
    rec = re.sub(r"card(\d+)", lambda m: "card%d" % (int(m.group(1)) + 10), rec)
    return re.sub(r"renderD(\d+)", lambda m: "renderD%d" % (int(m.group(1)) + 10), rec)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def sim_config(path, pf):
    write_json(path, {"resources": [
        {"name": "kyborg.io/gpu", "kind": "gpu", "frontend": "dra",
         "selector": {"vendors": ["10de"], "devices": ["2330"], "pciAddresses": ["0000:3b:00.0", "0000:86:00.0"]},
         "sharing": {"replicas": 2}},
        {"name": "kyborg.io/fpga", "kind": "fpga", "frontend": "dra", "selector": {"vendors": ["8086"],
                                                                                    "devices": ["0b30"]}},
        {"name": "kyborg.io/sriov-vf", "kind": "nic-vf", "frontend": "dra",
         "selector": {"pfNames": [pf], "drivers": ["iavf"]}}]})


def size_config(path, replicas):
    addrs = [dp_bench.gpu_syspath(i)[1] for i in range(N_GPUS)]
    write_json(path, {"resources": [
        {"name": "kyborg.io/gpu", "kind": "gpu", "frontend": "dra",
         "selector": {"vendors": ["10de"], "devices": ["2330"], "pciAddresses": addrs},
         "sharing": {"replicas": replicas}}]})


class Driver:
    def __init__(self, kids, build, run, api, reg_dir, config, extra=(), state_dir=None):
        self.log_path = os.path.join(run, "driver.log")
        self.log = open(self.log_path, "a")
        self.mark = os.path.getsize(self.log_path)
        self.t0 = time.monotonic()
        self.p = kids.start([os.path.join(build, "dra", "kyborg-dra-driver"), "--config", config,
                             "--node-name", NODE, "--registration-dir", reg_dir,
                             "--plugin-dir", os.path.join(run, "plugin"), "--cdi-dir", os.path.join(run, "cdi"),
                             "--state-dir", state_dir or os.path.join(run, "state"), "--api-server", api.url,
                             "--token-file", api.token_file, "--ca-file", api.ca,
                             "--log-level", "info"] + list(extra),
                            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def lines(self, event):
        with open(self.log_path) as f:
            f.seek(self.mark)
            return [l for l in f.read().splitlines() if " event=%s " % event in l + " "]

    def wait_log(self, event, n=1, timeout=120):
        dp_bench.wait_for(lambda: self.p.poll() is None and len(self.lines(event)) >= n or self.p.poll() is not None,
                          timeout, "the driver's %s" % event)
        if self.p.poll() is not None:
            raise RuntimeError("the driver exited %s:\n%s" % (self.p.returncode, open(self.log_path).read()[-3000:]))
        return self.lines(event)

    def stop(self, kids):
        kids.stop(self.p)
        self.log.close()


def field(line, key):
    m = re.search(r"\b%s=(\S+)" % key, line)
    return m.group(1) if m else None


def rss_by_file(pid, top=6):
    """Rss of the file-backed mappings by file (kB), largest first."""
    by = {}
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and not parts[0].endswith(":"):
                cur = os.path.basename(parts[5]) if len(parts) > 5 and parts[5].startswith("/") else None
            elif parts and parts[0] == "Rss:" and cur:
                by[cur] = by.get(cur, 0) + int(parts[1])
    return sorted(by.items(), key=lambda kv: -kv[1])[:top]


def rss(pid):
    st = dp_bench.proc_status(pid)
    st["preload"] = dp_bench.preload_rss_kib(pid)
    st["files"] = rss_by_file(pid)
    return st


def measure_start(args, kids, work, api, config, n_devices, label, res, extra=()):
    """Starts from no slices, args.starts times: the first slice and all of them
    as a watch sees them, the driver's own figure, its CPU until in step."""
    first, all_, own, cpu = [], [], [], []
    run = tempfile.mkdtemp(prefix="start-", dir=work)
    d = None
    for i in range(args.starts):
        api.wipe()
        _items, rv = api.our_slices()
        w = SliceWatch(api, rv)
        d = Driver(kids, args.build, run, api, os.path.join(run, "reg"), config, extra)
        try:
            t_first = w.wait(first_added, 120, "the first slice")
            t_all = w.wait(pool_complete(n_devices), 300, "all slices")
            line = d.wait_log("slices-published")[0]
            first.append((t_first - d.t0) * 1000)
            all_.append((t_all - d.t0) * 1000)
            own.append(float(field(line, "since_start_ms")))
            cpu.append(dp_bench.cpu_ns(d.p.pid) / 1e6)
        finally:
            w.close()
        if i + 1 < args.starts:
            d.stop(kids)
    res["first_ms"], res["all_ms"], res["own_ms"], res["cpu_ms"] = first, all_, own, cpu
    note("%s: first slice %.0f ms, all %.0f ms after exec (driver: in step %.0f ms after its start)" % (
        label, min(first), min(all_), min(own)))
    return d, run


def measure_wipes(args, api, n_devices, d, res, label):
    """Kubelet's wipe to every slice back, args.wipes times."""
    back, back_ev = [], []
    for _ in range(args.wipes):
        _items, rv = api.our_slices()
        w = SliceWatch(api, rv)
        try:
            t0 = time.monotonic()
            n = api.wipe()
            assert n > 0
            t = w.wait(lambda live, ev: any(e[1] == "DELETED" for e in ev) and pool_complete(n_devices)(live, ev),
                       300, "the slices back")
            back.append((t - t0) * 1000)
            # From the first deletion a watch saw: the stand-in's own time
            # to delete (and list in its answer) every slice left out.
            t_del = next(e[0] for e in w.events if e[1] == "DELETED")
            back_ev.append((t - t_del) * 1000)
        finally:
            w.close()
        time.sleep(0.2)
    res["wipe_ms"] = back
    res["wipe_ev_ms"] = back_ev
    note("%s: wiped -> all back: %s ms" % (label, ", ".join("%.0f" % x for x in back)))


def durable_floor(directory, n=200):
    """What one durable replace costs on the file system under directory:
    the driver's syscalls for a record (write a temp file, fsync, rename,
    fsync the directory), ms each."""
    times = []
    data = b"{" + b"x" * 600 + b"}"
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(n):
            t0 = time.monotonic()
            fd = os.open(os.path.join(directory, ".floor.tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            os.rename(os.path.join(directory, ".floor.tmp"), os.path.join(directory, "floor.json"))
            os.fsync(dfd)
            times.append((time.monotonic() - t0) * 1000)
    finally:
        os.close(dfd)
    return times


def measure_claims(args, kids, work, api, pf, res, state_root):
    run = tempfile.mkdtemp(prefix="claims-", dir=work)
    state_dir = tempfile.mkdtemp(prefix="kydra-state-", dir=state_root)
    res["floor_ms"] = durable_floor(state_dir)
    config = os.path.join(run, "config.json")
    sim_config(config, pf)
    kube = Kubelet(kids, run, args.build, api)
    d = Driver(kids, args.build, run, api, kube.reg_dir, config, state_dir=state_dir)
    kube.ok("wait registered driver=%s timeout=20000" % DRIVER)
    d.wait_log("slices-published")
    time.sleep(2.0)  # idle: registered, published, the health stream open
    res["idle"] = rss(d.p.pid)
    note("claims: idle RSS %s" % res["idle"])
    items, _rv = api.our_slices()
    pool = items[0]["spec"]["pool"]["name"]
    ns = os.path.basename(state_dir).lower().replace("_", "-")
    claims = []
    for i in range(args.claims):
        name = "c%d" % i
        code, c = api.request("POST", "/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims" % ns, {
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": name},
            "spec": {"devices": {"requests": [{"name": "nic", "exactly": {"deviceClassName": "kyborg-vf"}}]}}})
        assert code == 201, (code, c)
        c["status"] = {"allocation": {"devices": {"results": [
            {"request": "nic", "driver": DRIVER, "pool": pool, "device": VFS[i % len(VFS)]}]}}}
        code, c = api.request("PUT", "/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s/status" % (ns, name), c)
        assert code == 200, (code, c)
        claims.append((name, c["metadata"]["uid"]))
    note("sim node: %d claims allocated; Prepare and Unprepare each in turn" % len(claims))
    client_p, client_u = [], []
    for name, uid in claims:
        r = kube.ok("prepare %s %s/%s/%s" % (DRIVER, ns, name, uid))
        client_p.append(r["seconds"] * 1000)
        r = kube.ok("unprepare %s %s/%s/%s" % (DRIVER, ns, name, uid))
        client_u.append(r["seconds"] * 1000)
    prep = d.lines("prepare")
    unprep = d.lines("unprepare")
    assert len(prep) == len(claims) and len(unprep) == len(claims), (len(prep), len(unprep))
    res["prepare_with_get_ms"] = [int(field(l, "dur_us")) / 1000 for l in prep]
    res["prepare_own_ms"] = [(int(field(l, "dur_us")) - int(field(l, "get_us"))) / 1000 for l in prep]
    res["get_ms"] = [int(field(l, "get_us")) / 1000 for l in prep]
    res["unprepare_ms"] = [int(field(l, "dur_us")) / 1000 for l in unprep]
    res["prepare_client_ms"] = client_p
    res["unprepare_client_ms"] = client_u
    res["after_claims"] = rss(d.p.pid)
    d.stop(kids)
    kids.stop(kube.p)
    shutil.rmtree(state_dir, ignore_errors=True)


AFU_A = "d8424dc4a4a3c413f89e433683f9040b"
AFU_B = "0123456789abcdef0123456789abcdef"
FPGA = "fpga-0000-af-00-0"
LOADER = os.path.join(ROOT, "test", "lib", "fake_fpga_loader.py")


def opaque(kind, **fields):
    params = {"apiVersion": "kyborg.io/v1alpha1", "kind": kind}
    params.update(fields)
    return {"source": "FromClaim", "opaque": {"driver": DRIVER, "parameters": params}}


def measure_config_claims(args, kids, work, api, pf, tb, results):
    """Prepare and Unprepare of claims that carry their own configs, each
    case args.config_claims times, every claim prepared then unprepared."""
    run = tempfile.mkdtemp(prefix="cfg-", dir=work)
    bits = os.path.join(run, "bits")
    os.mkdir(bits)
    images = {}
    for afu, body in ((AFU_A, b"image a " * 4096), (AFU_B, b"image b " * 4096)):
        path = os.path.join(bits, afu + ".gbs")
        with open(path, "wb") as f:
            f.write(body)
        images[afu] = {"id": afu, "url": "file://" + path, "sha256": __import__("hashlib").sha256(body).hexdigest()}
    # The VFs' driver files a rebind writes (the kernel's, here the testbed's).
    sysdir = tb.get_sys_dir()
    for rel in ("bus/pci/drivers/iavf/bind", "bus/pci/drivers/iavf/unbind", "bus/pci/drivers/vfio-pci/bind",
                "bus/pci/drivers/vfio-pci/unbind", "bus/pci/drivers_probe"):
        os.makedirs(os.path.dirname(os.path.join(sysdir, rel)), exist_ok=True)
        open(os.path.join(sysdir, rel), "w").close()
    for i in range(4):
        tb.set_attribute("/sys/devices/pci0000:17/0000:17:00.0/0000:18:01.%d" % i, "driver_override", "(null)\n")
    config = os.path.join(run, "config.json")
    write_json(config, {"resources": [
        {"name": "kyborg.io/fpga", "kind": "fpga", "frontend": "dra", "selector": {"vendors": ["8086"],
                                                                                    "devices": ["0b30"]},
         "program": [PYTHON, LOADER, os.path.join(run, "loads.log"), "{sysfs}", "{id}", "{image}"]},
        {"name": "kyborg.io/sriov-vf", "kind": "nic-vf", "frontend": "dra", "selector": {"pfNames": [pf]}}]})
    state_dir = tempfile.mkdtemp(prefix="kydra-state-", dir="/var/tmp")
    kube = Kubelet(kids, run, args.build, api)
    d = Driver(kids, args.build, run, api, kube.reg_dir, config, state_dir=state_dir,
               extra=("--bitstream-dir", bits, "--fetch-helper", os.path.join(args.build, "fetch", "kyborg-fetch")))
    kube.ok("wait registered driver=%s timeout=20000" % DRIVER)
    d.wait_log("slices-published")
    pool = NODE  # the pool is named after the node
    ns = "cfg-bench"
    cases = [
        ("VfConfig driver vfio-pci (simulated VF, sysfs writes to the testbed)",
         lambda i: ("nic", VFS[i % len(VFS)], [opaque("VfConfig", driver="vfio-pci")])),
        ("FpgaConfig, image cached, the same each claim (already loaded)",
         lambda i: ("fpga", FPGA, [opaque("FpgaConfig", bitstream=images[AFU_A])])),
        ("FpgaConfig, image cached, two by turns (verified and loaded by the Python loader)",
         lambda i: ("fpga", FPGA, [opaque("FpgaConfig", bitstream=images[(AFU_A, AFU_B)[i % 2]])])),
    ]
    n = 0
    for label, make in cases:
        res = results.setdefault("config: " + label, {})
        mark_p, mark_u = len(d.lines("prepare")), len(d.lines("unprepare"))
        claims = []
        for i in range(args.config_claims + 1):
            request, device, cfg = make(i)
            name = "k%d" % n
            n += 1
            code, c = api.request("POST", "/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims" % ns, {
                "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": name},
                "spec": {"devices": {"requests": [{"name": request, "exactly": {"deviceClassName": "kyborg"}}]}}})
            assert code == 201, (code, c)
            c["status"] = {"allocation": {"devices": {
                "results": [{"request": request, "driver": DRIVER, "pool": pool, "device": device}], "config": cfg}}}
            code, c = api.request("PUT", "/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s/status" % (ns, name),
                                  c)
            assert code == 200, (code, c)
            claims.append((name, c["metadata"]["uid"]))
        for name, uid in claims:
            kube.ok("prepare %s %s/%s/%s" % (DRIVER, ns, name, uid))
            kube.ok("unprepare %s %s/%s/%s" % (DRIVER, ns, name, uid))
        # The first claim of a case fetches (or loads) what the others find.
        prep = d.lines("prepare")[mark_p + 1:]
        unprep = d.lines("unprepare")[mark_u + 1:]
        res["prepare_own_ms"] = [(int(field(l, "dur_us")) - int(field(l, "get_us"))) / 1000 for l in prep]
        res["unprepare_ms"] = [int(field(l, "dur_us")) / 1000 for l in unprep]
        note("%s: Prepare p50 %.3f ms" % (label, dp_bench.pct(res["prepare_own_ms"], 50)))
    with open(os.path.join(run, "loads.log")) as f:
        results["config loads"] = len(f.read().splitlines())
    d.stop(kids)
    kids.stop(kube.p)
    shutil.rmtree(state_dir, ignore_errors=True)


def measure_size(args, kids, work, api, replicas, results):
    n = N_GPUS * replicas
    label = "%d devices" % n
    res = results.setdefault(label, {})
    config = os.path.join(work, "size-%d.json" % replicas)
    size_config(config, replicas)
    d, run = measure_start(args, kids, work, api, config, n, label, res, ("--gpu-sharing", "split"))
    res["published"] = rss(d.p.pid)
    measure_wipes(args, api, n, d, res, label)
    time.sleep(2.0)
    res["idle"] = rss(d.p.pid)
    note("%s: idle RSS %s" % (label, res["idle"]))
    d.stop(kids)


def claim_rows(c, row):
    for key, what, target in (("prepare_own_ms", "Prepare, the driver's own time (no GET)", TARGET_PREPARE_P99_MS),
                              ("floor_ms", "  a durable record write alone here (2 fsyncs)", None),
                              ("prepare_with_get_ms", "Prepare with the claim's GET (stand-in)", None),
                              ("get_ms", "  of which the GET", None),
                              ("unprepare_ms", "Unprepare (server side)", None),
                              ("prepare_client_ms", "Prepare as the kubelet stand-in waited (Python gRPC)", None),
                              ("unprepare_client_ms", "Unprepare as the kubelet stand-in waited", None)):
        p50, p99, _mx = stats(c[key])
        row(what + " p50", p50)
        row(what + " p99", p99, target)


def stats(xs):
    return dp_bench.pct(xs, 50), dp_bench.pct(xs, 99), max(xs)


def fmt(results, args):
    out = []

    def row(what, v, target=None, unit="ms"):
        mark = "" if target is None else ("  (target < %g %s: %s)" % (target, unit, "met" if v < target else "MISSED"))
        out.append("  %-58s %10.3f %s%s" % (what, v, unit, mark))

    for label in [l for l in results if l.startswith("claims")]:
        out.append("Simulated node (2 GPUs shared by 2, FPGA, 4 VFs: 7 devices), %d claims, each prepared then "
                   "unprepared, %s:" % (args.claims, label[len("claims "):]))
        claim_rows(results[label], row)
    config_labels = [l for l in results if l.startswith("config: ")]
    if config_labels:
        out.append("Claims with their own configs (issue 17), %d each, each prepared then unprepared, state dir on "
                   "/var/tmp (the first of each case, which fetches or loads, left out; loads by the loader "
                   "stand-in: %d):" % (args.config_claims, results.get("config loads", -1)))
        for label in config_labels:
            out.append("  " + label[len("config: "):])
            for key, what in (("prepare_own_ms", "Prepare, the driver's own time (no GET)"),
                              ("unprepare_ms", "Unprepare (server side)")):
                p50, p99, _mx = stats(results[label][key])
                row("  " + what + " p50", p50)
                row("  " + what + " p99", p99)
    for label in [l for l in results if l not in ("sim node",) and not l.startswith("claims")
                  and not l.startswith("config")] + ["sim node"]:
        r = results[label]
        if not isinstance(r, dict) or "first_ms" not in r:
            continue
        out.append("%s, %d starts from no slices, %d wipes:" % (label, len(r["first_ms"]), len(r.get("wipe_ms", []))))
        row("start (exec) -> first slice on the server (median)", dp_bench.pct(r["first_ms"], 50),
            TARGET_FIRST_SLICE_MS)
        row("start (exec) -> all slices on the server (median)", dp_bench.pct(r["all_ms"], 50))
        row("driver's own: its start -> in step (median)", dp_bench.pct(r["own_ms"], 50))
        row("driver's CPU, exec -> all published (median)", dp_bench.pct(r["cpu_ms"], 50))
        if r.get("wipe_ms"):
            row("kubelet's wipe -> all slices back (median)", dp_bench.pct(r["wipe_ms"], 50), TARGET_REPUBLISH_MS)
            row("kubelet's wipe -> all slices back (max)", max(r["wipe_ms"]), TARGET_REPUBLISH_MS)
            row("first deletion a watch saw -> all slices back (median)", dp_bench.pct(r["wipe_ev_ms"], 50))
    out.append("RSS (kB; 'net' is VmRSS less umockdev's preload and GLib, which a node does not map; 'claims'")
    out.append("rows: registered with the kubelet stand-in, its health stream open):")
    for label in ["sim node"] + [l for l in results if l != "sim node" and isinstance(results[l], dict)]:
        for when in ("idle", "published", "after_claims"):
            st = results[label].get(when)
            if not st:
                continue
            net = st["VmRSS"] - st["preload"]
            mark = ""
            if label.startswith("10000"):
                mark = "  (target < %d kB: %s)" % (TARGET_RSS_KIB, "met" if net < TARGET_RSS_KIB else "MISSED")
            out.append("  %-24.24s %-13s VmRSS %6d  net %6d  RssAnon %6d  RssFile %6d  preload %5d%s" % (
                label, when, st["VmRSS"], net, st["RssAnon"], st["RssFile"], st["preload"], mark))
    idle = results["sim node"].get("idle") or next(r["idle"] for r in results.values()
                                                   if isinstance(r, dict) and r.get("idle"))
    out.append("  file-backed Rss by file, idle (kB): " + ", ".join("%s %d" % kv for kv in idle["files"]))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--claims", type=int, default=200)
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--wipes", type=int, default=5)
    ap.add_argument("--sizes", default="100,1000", help="replicas per GPU, comma-separated (10 GPUs, pre-split)")
    ap.add_argument("--config-claims", type=int, default=200, help="claims per config case (0: none)")
    ap.add_argument("--state-dirs", default="/var/tmp,/dev/shm",
                    help="where the driver's state dir goes for the claims, one run each (a disk, a tmpfs)")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)

    import gi
    gi.require_version("UMockdev", "1.0")
    from gi.repository import UMockdev
    if "libumockdev-preload" not in os.environ.get("LD_PRELOAD", ""):
        if os.environ.get("KYDRA_BENCH_WRAPPED"):
            raise RuntimeError("umockdev-wrapper did not set LD_PRELOAD")
        os.environ["KYDRA_BENCH_WRAPPED"] = "1"
        os.execv("/usr/bin/umockdev-wrapper", ["umockdev-wrapper", PYTHON] + sys.argv)

    kids = dp_bench.Children()
    work = tempfile.mkdtemp(prefix="kydra-bench-")
    tb = None
    results = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    try:
        note("building the testbed and starting the kube-apiserver stand-in")
        tb = UMockdev.Testbed.new()
        pf = "kbpf%d" % (os.getpid() % 10000)
        if not tb.add_from_string(sim_node_record(pf)):
            raise RuntimeError("cannot add the simulated node")
        for i in range(N_GPUS):
            if not tb.add_from_string(bench_gpu_record(i)):
                raise RuntimeError("cannot add GPU %d" % i)
        api = Api(kids, work)
        sim = results.setdefault("sim node", {})
        config = os.path.join(work, "sim.json")
        sim_config(config, pf)
        d, _run = measure_start(args, kids, work, api, config, 7, "sim node", sim)
        measure_wipes(args, api, 7, d, sim, "sim node")
        d.stop(kids)
        for where in [w for w in args.state_dirs.split(",") if w]:
            fs = subprocess.run(["stat", "-f", "-c", "%T", where], capture_output=True, text=True).stdout.strip()
            measure_claims(args, kids, work, api, pf, results.setdefault("claims state dir on %s (%s)" % (where, fs),
                                                                          {}), where)
        if args.config_claims:
            measure_config_claims(args, kids, work, api, pf, tb, results)
        for rep in (int(x) for x in args.sizes.split(",") if x):
            measure_size(args, kids, work, api, rep, results)
        print(fmt(results, args))
        return 0
    finally:
        kids.stop_all()
        if tb is not None:
            tb.clear()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
