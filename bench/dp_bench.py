#!/usr/bin/python3
"""Benchmark (not a test) of kyborg-device-plugin, driven the way
test/test_deviceplugin.c drives it: the daemon runs against an umockdev
testbed this process owns (UMockdev via gi; the daemon inherits it with the
preload and UMOCKDEV_DIR), Debian's python3-grpcio plays kubelet
(test/grpc/registration_server.py for Registration, this script for the
calls to the plugin's socket).

For each of two node sizes, 10 GPUs x 1 replica (10 devices) and 10 GPUs x
1000 replicas (10,000 devices), it measures:
  - daemon VmRSS / VmHWM idle (registered, nothing asked), and after the run;
  - the first ListAndWatch message: time from the call to its last byte
    received, and its size on the wire (protobuf bytes);
  - N Allocate round trips (one container, one device ID, IDs in turn),
    median and p99 client-side, plus the daemon's CPU time per call
    (/proc/PID/task/*/schedstat over the N calls), and the server-side
    median/p99 from the dur_us each Allocate line of the daemon's log carries;
  - hot-plug: driver unbind (driver link removed, "unbind" uevent) to the
    ListAndWatch update with that GPU's replicas Unhealthy, and a udev
    "remove" (device removed from the testbed) to the update without them.
Then, with the 10,000 GPU replicas and a NIC of four VFs whose PF is a veth
in a network namespace of the benchmark's own: PF carrier down (the veth's
peer set down with SIOCSIFFLAGS) to the VFs' Unhealthy update, and up to
Healthy, and the daemon's RSS with its link watch.
Usage: dp_bench.py --daemon BIN --desc API.DESC [--allocs N] [--hotplug K] [--links L]
Run it with /usr/bin/python3; it re-executes itself under umockdev-wrapper."""
import argparse
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import queue

HERE = os.path.dirname(os.path.abspath(__file__))
GRPC_DIR = os.path.join(HERE, "..", "test", "grpc")
sys.path.insert(0, GRPC_DIR)

PYTHON = "/usr/bin/python3"
DP = "/v1beta1.DevicePlugin/"
RESOURCE = "kyborg.io/gpu"
SOCK = "kyborg-kyborg.io_gpu.sock"
N_GPUS = 10

TARGET_ALLOC_P99_MS = 1.0
TARGET_HOTPLUG_MS = 100.0
TARGET_RSS_KIB = 8 * 1024
TARGET_LINK_MS = 100.0
VF_RESOURCE = "kyborg.io/sriov-vf"
VF_SOCK = "kyborg-kyborg.io_sriov-vf.sock"
PF_NAME, PF_PEER = "kybpf0", "kybpf0p"


def gpu_syspath(i):
    # One root port per GPU, as on a real node: pci0000:XX/0000:XX:00.0/0000:YY:00.0
    bus = 0x10 + 0x10 * i
    return "/sys/devices/pci0000:%02x/0000:%02x:00.0/0000:%02x:00.0" % (bus, bus, bus + 1), "0000:%02x:00.0" % (bus + 1)


def gpu_record(i):
    """The umockdev record of GPU i: the PCI function and its two DRM nodes,
    in the shape of test/data/sim-node.umockdev."""
    sysp, addr = gpu_syspath(i)
    p = sysp[len("/sys"):]
    numa = i % 2
    cpus = "0-31,64-95" if numa == 0 else "32-63,96-127"
    return (
        "P: %(p)s\n"
        "E: DRIVER=nvidia\nE: PCI_CLASS=30200\nE: PCI_ID=10DE:2330\nE: PCI_SUBSYS_ID=10DE:16C1\n"
        "E: PCI_SLOT_NAME=%(addr)s\n"
        "E: MODALIAS=pci:v000010DEd00002330sv000010DEsd000016C1bc03sc02i00\nE: SUBSYSTEM=pci\n"
        "A: vendor=0x10de\nA: device=0x2330\nA: subsystem_vendor=0x10de\nA: subsystem_device=0x16c1\n"
        "A: class=0x030200\nA: numa_node=%(numa)d\nA: local_cpulist=%(cpus)s\nA: enable=1\n"
        "A: modalias=pci:v000010DEd00002330sv000010DEsd000016C1bc03sc02i00\n"
        "L: driver=../../../../bus/pci/drivers/nvidia\n"
        "L: iommu_group=../../../../kernel/iommu_groups/%(grp)d\n\n"
        "P: %(p)s/drm/card%(i)d\nN: dri/card%(i)d=00\nE: DEVNAME=/dev/dri/card%(i)d\nE: DEVTYPE=drm_minor\n"
        "E: MAJOR=226\nE: MINOR=%(i)d\nE: SUBSYSTEM=drm\nA: dev=226:%(i)d\nL: device=../../../%(addr)s\n\n"
        "P: %(p)s/drm/renderD%(r)d\nN: dri/renderD%(r)d=00\nE: DEVNAME=/dev/dri/renderD%(r)d\n"
        "E: DEVTYPE=drm_minor\nE: MAJOR=226\nE: MINOR=%(r)d\nE: SUBSYSTEM=drm\nA: dev=226:%(r)d\n"
        "L: device=../../../%(addr)s\n\n"
    ) % {"p": p, "addr": addr, "numa": numa, "cpus": cpus, "grp": 30 + i, "i": i, "r": 128 + i}


def note(msg):
    sys.stderr.write("dp_bench: %s\n" % msg)
    sys.stderr.flush()


def write_config(path, replicas, vfs=False):
    vf = (', { "name": "%s", "kind": "nic-vf", "selector": { "pfNames": ["%s"] } }' % (VF_RESOURCE, PF_NAME)
          if vfs else "")
    with open(path, "w") as f:
        f.write('{ "resources": [ { "name": "%s", "kind": "gpu",'
                ' "selector": { "vendors": ["10de"], "devices": ["2330"], "drivers": ["nvidia"] },'
                ' "sharing": { "replicas": %d } }%s ] }\n' % (RESOURCE, replicas, vf))


def nic_records():
    """The simulated node's PF and its four VFs (test/data/sim-node.umockdev),
    the PF's netdev named PF_NAME (a veth here), the VFs' others."""
    with open(os.path.join(HERE, "..", "test", "data", "sim-node.umockdev")) as f:
        blocks = f.read().split("\n\n")
    keep = [b for b in blocks if "/0000:18:0" in b.split("\n", 1)[0]]
    text = "\n\n".join(keep).replace("@PF@", PF_NAME)
    for i in range(4):
        text = text.replace("@VF%d@" % i, "kybvf%d" % i)
    return text + "\n\n"


def own_netns():
    """A network namespace of our own (root only): the veth standing in for
    the PF lives and dies with the benchmark. False when we may not."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        return False
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "link", "add", PF_NAME, "type", "veth", "peer", "name", PF_PEER], check=True)
    for l in (PF_NAME, PF_PEER):
        subprocess.run(["ip", "link", "set", l, "up"], check=True)
    return True


def set_link(name, up):
    """IFF_UP on or off through SIOCSIFFLAGS: one system call, nothing exec'd."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sk:
        ifr = fcntl.ioctl(sk, SIOCGIFFLAGS, struct.pack("16sH14x", name.encode(), 0))
        flags = struct.unpack("16sH14x", ifr)[1]
        flags = flags | IFF_UP if up else flags & ~IFF_UP
        fcntl.ioctl(sk, SIOCSIFFLAGS, struct.pack("16sH14x", name.encode(), flags))


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    return out


def preload_rss_kib(pid):
    """Rss of the mappings umockdev's preload brings into the daemon (the
    preload library and what it alone links: GLib), not there in production."""
    total = 0
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
                path = parts[5] if len(parts) > 5 else ""
                base = os.path.basename(path)
                cur = any(s in base for s in ("umockdev", "libglib", "libgobject", "libgio", "libgmodule",
                                               "libpcre", "libffi", "libmount", "libblkid", "libselinux"))
            elif parts and parts[0] == "Rss:" and cur:
                total += int(parts[1])
    return total


def cpu_ns(pid):
    """The daemon's CPU time so far, every thread, in ns (schedstat's
    sum_exec_runtime: exact, unlike utime/stime's clock ticks)."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
            total += int(f.read().split()[0])
    return total


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def wait_for(cond, timeout, what):
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        if cond():
            return
        time.sleep(0.01)
    raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))


class Children:
    """Every process we start, killed and reaped on the way out."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def stop_all(self):
        for p in reversed(self.procs):
            try:
                self.stop(p)
            except Exception:
                pass
        self.procs = []


class Watch:
    """A ListAndWatch stream read as raw bytes in a thread: each message is
    queued with the monotonic time its last byte arrived, before decoding."""

    def __init__(self, ch, api):
        self.api = api
        law = ch.unary_stream(DP + "ListAndWatch", request_serializer=api.Empty.SerializeToString,
                              response_deserializer=None)
        self.q = queue.Queue()
        self.t_call = time.monotonic()
        self.stream = law(api.Empty(), timeout=600)
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        try:
            for raw in self.stream:
                self.q.put((time.monotonic(), raw))
        except Exception as e:  # cancelled at the end, or a failure
            self.q.put((time.monotonic(), e))

    def next(self, timeout):
        t, raw = self.q.get(timeout=timeout)
        if isinstance(raw, Exception):
            raise RuntimeError("ListAndWatch ended: %r" % raw)
        return t, raw, self.api.ListAndWatchResponse.FromString(raw)

    def close(self):
        self.stream.cancel()
        self.th.join(5)


def health(msg, prefix):
    hs = {d.health for d in msg.devices if d.ID.startswith(prefix)}
    n = sum(1 for d in msg.devices if d.ID.startswith(prefix))
    return n, hs


def run_size(args, tb, UMockdev, work, kids, replicas, results):
    import grpc
    import dpapi
    api = dpapi.load(args.desc)
    n_dev = N_GPUS * replicas
    label = "%d devices" % n_dev
    r = results.setdefault(label, {})
    run = tempfile.mkdtemp(prefix="run-", dir=work)
    plugin_dir = os.path.join(run, "plugins")
    os.mkdir(plugin_dir)
    config = os.path.join(run, "config.json")
    write_config(config, replicas)

    note("%s: starting the kubelet stand-in and the daemon" % label)
    kube = kids.start([PYTHON, os.path.join(GRPC_DIR, "registration_server.py"), plugin_dir, args.desc],
                      stdin=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(os.path.join(plugin_dir, "kubelet.sock")), 30, "kubelet.sock")
    log = open(os.path.join(run, "daemon.log"), "w")
    t_start = time.monotonic()
    d = kids.start([args.daemon, "--config", config, "--plugin-dir", plugin_dir,
                    "--state-dir", os.path.join(run, "state"), "--cdi-dir", os.path.join(run, "cdi"),
                    "--devinfo-dir", os.path.join(run, "devinfo"), "--log-level", "info"],
                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    registered = os.path.join(plugin_dir, "registered")
    try:
        def up():
            if d.poll() is not None:
                raise RuntimeError("the daemon exited %s" % d.returncode)
            return os.path.exists(registered) and open(registered).read().count("\n") >= 1
        wait_for(up, 60, "the daemon to register")
    except RuntimeError:
        raise RuntimeError("%s; daemon exit=%s; log:\n%s" % (
            sys.exc_info()[1], d.poll(), open(os.path.join(run, "daemon.log")).read()[-3000:]))
    r["register_ms"] = (time.monotonic() - t_start) * 1000
    note("%s: registered after %.0f ms" % (label, r["register_ms"]))
    time.sleep(1.0)  # idle: registered, nothing asked yet
    r["idle"] = proc_status(d.pid)
    r["preload_kib"] = preload_rss_kib(d.pid)

    ch = grpc.insecure_channel("unix:" + os.path.join(plugin_dir, SOCK),
                               options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    grpc.channel_ready_future(ch).result(timeout=10)
    w = None
    try:
        # First ListAndWatch message: a fresh stream, from call to last byte.
        w = Watch(ch, api)
        t1, raw, first = w.next(60)
        r["law_ms"] = (t1 - w.t_call) * 1000
        r["law_bytes"] = len(raw)
        if len(first.devices) != n_dev:
            raise RuntimeError("first ListAndWatch message lists %d devices, not %d" % (len(first.devices), n_dev))
        ids = [dev.ID for dev in first.devices]

        note("%s: first ListAndWatch message, %d bytes" % (label, len(raw)))
        # Allocate round trips.
        allocate = ch.unary_unary(DP + "Allocate", request_serializer=api.AllocateRequest.SerializeToString,
                                  response_deserializer=api.AllocateResponse.FromString)
        reqs = []
        for k in range(args.allocs):
            q = api.AllocateRequest()
            q.container_requests.add(devices_ids=[ids[(k * 7919) % len(ids)]])
            reqs.append(q)
        for q in reqs[:50]:  # warm-up: connection, allocator, caches
            allocate(q, timeout=10)
        lat = []
        c0 = cpu_ns(d.pid)
        t0 = time.monotonic()
        for q in reqs:
            a = time.perf_counter()
            resp = allocate(q, timeout=10)
            lat.append((time.perf_counter() - a) * 1000)
            if not resp.container_responses[0].envs:
                raise RuntimeError("Allocate answered no envs")
        wall = time.monotonic() - t0
        c1 = cpu_ns(d.pid)
        r["alloc_med"] = statistics.median(lat)
        r["alloc_p99"] = pct(lat, 99)
        r["alloc_max"] = max(lat)
        r["alloc_srv_cpu_ms"] = (c1 - c0) / 1e6 / len(reqs)
        # The daemon logs each Allocate's server-side duration (dur_us=).
        log.flush()
        with open(os.path.join(run, "daemon.log")) as f:
            durs = [int(x.split("dur_us=")[1].split()[0]) / 1000.0 for x in f
                    if "event=allocate " in x and "dur_us=" in x]
        durs = durs[-len(reqs):]
        if len(durs) == len(reqs):
            r["srv_med"] = statistics.median(durs)
            r["srv_p99"] = pct(durs, 99)
            r["srv_max"] = max(durs)
        r["alloc_rate"] = len(reqs) / wall

        note("%s: %d Allocate calls done" % (label, len(reqs)))
        # Hot-plug, on the stream opened above. GPU 1 (its replicas GPUADDR::k).
        root = tb.get_root_dir()
        sysp, addr = gpu_syspath(1)
        unb, rem = [], []
        for _ in range(args.hotplug):
            link = root + sysp + "/driver"
            os.unlink(link)
            t0 = time.monotonic()
            tb.uevent(sysp, "unbind")
            while True:
                t, _, m = w.next(5)
                n, hs = health(m, addr)
                if hs == {"Unhealthy"}:
                    break
            unb.append((t - t0) * 1000)
            if n != replicas or len(m.devices) != n_dev:
                raise RuntimeError("unbind: %d of %d replicas listed, %d devices" % (n, replicas, len(m.devices)))
            os.symlink("../../../../bus/pci/drivers/nvidia", link)
            tb.uevent(sysp, "bind")
            while health(w.next(5)[2], addr)[1] != {"Healthy"}:
                pass

            # Remove, as test_deviceplugin.c does: the event, then the device
            # gone from the testbed, then a later event so the daemon looks
            # again whichever it saw first. Timed from the first event.
            t0 = time.monotonic()
            tb.uevent(sysp, "remove")
            tb.remove_device(sysp + "/drm/card1")
            tb.remove_device(sysp + "/drm/renderD129")
            tb.remove_device(sysp)
            tb.uevent(gpu_syspath(0)[0], "change")
            while True:
                t, _, m = w.next(5)
                if health(m, addr)[0] == 0:
                    break
            rem.append((t - t0) * 1000)
            if len(m.devices) != n_dev - replicas:
                raise RuntimeError("remove: %d devices listed" % len(m.devices))
            if not tb.add_from_string(gpu_record(1)):
                raise RuntimeError("cannot add GPU 1 back")
            tb.uevent(sysp, "add")
            while len(w.next(5)[2].devices) != n_dev:
                pass
        r["unbind_med"] = statistics.median(unb)
        r["unbind_max"] = max(unb)
        r["remove_med"] = statistics.median(rem)
        r["remove_max"] = max(rem)
        r["after"] = proc_status(d.pid)
    finally:
        if w:
            w.close()
        ch.close()
        rc = kids.stop(d)
        kids.stop(kube)
        log.close()
    if rc != 0:
        raise RuntimeError("the daemon exited %s on SIGTERM" % rc)


def run_link(args, tb, work, kids, replicas, results):
    """PF carrier to the VFs' health on ListAndWatch, with the GPU replicas
    served beside them (every carrier change takes every list's health again)."""
    import grpc
    import dpapi
    api = dpapi.load(args.desc)
    r = results.setdefault("link", {})
    run = tempfile.mkdtemp(prefix="link-", dir=work)
    plugin_dir = os.path.join(run, "plugins")
    os.mkdir(plugin_dir)
    config = os.path.join(run, "config.json")
    write_config(config, replicas, vfs=True)
    kube = kids.start([PYTHON, os.path.join(GRPC_DIR, "registration_server.py"), plugin_dir, args.desc],
                      stdin=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(os.path.join(plugin_dir, "kubelet.sock")), 30, "kubelet.sock")
    log = open(os.path.join(run, "daemon.log"), "w")
    d = kids.start([args.daemon, "--config", config, "--plugin-dir", plugin_dir,
                    "--state-dir", os.path.join(run, "state"), "--cdi-dir", os.path.join(run, "cdi"),
                    "--devinfo-dir", os.path.join(run, "devinfo"), "--log-level", "info"],
                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: os.path.exists(os.path.join(plugin_dir, VF_SOCK)), 60, "the VF resource's socket")
    ch = grpc.insecure_channel("unix:" + os.path.join(plugin_dir, VF_SOCK))
    grpc.channel_ready_future(ch).result(timeout=10)
    w = None
    try:
        w = Watch(ch, api)
        first = w.next(60)[2]
        if len(first.devices) != 4 or {x.health for x in first.devices} != {"Healthy"}:
            raise RuntimeError("the VFs are not four and Healthy: %s" % first)
        down, up = [], []
        for _ in range(args.links):
            t0 = time.monotonic()
            set_link(PF_PEER, False)
            while True:
                t, _, m = w.next(5)
                if {x.health for x in m.devices} == {"Unhealthy"}:
                    break
            down.append((t - t0) * 1000)
            t0 = time.monotonic()
            set_link(PF_PEER, True)
            while True:
                t, _, m = w.next(5)
                if {x.health for x in m.devices} == {"Healthy"}:
                    break
            up.append((t - t0) * 1000)
        r["down_med"], r["down_max"] = statistics.median(down), max(down)
        r["up_med"], r["up_max"] = statistics.median(up), max(up)
        r["after"] = proc_status(d.pid)
        r["devices"] = N_GPUS * replicas + 4
    finally:
        if w:
            w.close()
        ch.close()
        rc = kids.stop(d)
        kids.stop(kube)
        log.close()
    if rc != 0:
        raise RuntimeError("the daemon exited %s on SIGTERM" % rc)


def fmt_table(results, args):
    rows = []
    small, big = results.get("10 devices", {}), results.get("10000 devices", {})

    def g(res, k, f="%.3f"):
        return f % res[k] if k in res else "n/a"

    def kib(res, when, k):
        return "%.2f MiB" % (res[when][k] / 1024.0) if when in res else "-"

    def ok(v, target):
        return "-" if v is None else ("yes" if v < target else "NO")

    rows.append(("Allocate round trip, median (client)", g(small, "alloc_med") + " ms", g(big, "alloc_med") + " ms", "", ""))
    rows.append(("Allocate round trip, p99 (client)", g(small, "alloc_p99") + " ms", g(big, "alloc_p99") + " ms",
                 "< 1 ms server", ok(big.get("alloc_p99"), TARGET_ALLOC_P99_MS)))
    rows.append(("Allocate round trip, max (client)", g(small, "alloc_max") + " ms", g(big, "alloc_max") + " ms", "", ""))
    rows.append(("Allocate server side, median (daemon log)", g(small, "srv_med") + " ms", g(big, "srv_med") + " ms", "", ""))
    rows.append(("Allocate server side, p99 (daemon log)", g(small, "srv_p99") + " ms", g(big, "srv_p99") + " ms",
                 "< 1 ms", ok(big.get("srv_p99"), TARGET_ALLOC_P99_MS)))
    rows.append(("Allocate server side, max (daemon log)", g(small, "srv_max") + " ms", g(big, "srv_max") + " ms", "", ""))
    rows.append(("Allocate daemon CPU per call (mean)", g(small, "alloc_srv_cpu_ms") + " ms",
                 g(big, "alloc_srv_cpu_ms") + " ms", "< 1 ms server", ok(big.get("alloc_srv_cpu_ms"), TARGET_ALLOC_P99_MS)))
    rows.append(("Allocate calls per second (serial)", g(small, "alloc_rate", "%.0f"), g(big, "alloc_rate", "%.0f"), "", ""))
    rows.append(("First ListAndWatch message, size", g(small, "law_bytes", "%d") + " B", g(big, "law_bytes", "%d") + " B", "", ""))
    rows.append(("First ListAndWatch message, time", g(small, "law_ms", "%.1f") + " ms", g(big, "law_ms", "%.1f") + " ms", "", ""))
    rows.append(("Daemon start to registered", g(small, "register_ms", "%.1f") + " ms", g(big, "register_ms", "%.1f") + " ms", "", ""))
    rows.append(("Unbind uevent -> Unhealthy update, median", g(small, "unbind_med", "%.1f") + " ms",
                 g(big, "unbind_med", "%.1f") + " ms", "< 100 ms", ok(big.get("unbind_med"), TARGET_HOTPLUG_MS)))
    rows.append(("Unbind uevent -> Unhealthy update, max", g(small, "unbind_max", "%.1f") + " ms",
                 g(big, "unbind_max", "%.1f") + " ms", "< 100 ms", ok(big.get("unbind_max"), TARGET_HOTPLUG_MS)))
    rows.append(("Remove uevent -> update w/o device, median", g(small, "remove_med", "%.1f") + " ms",
                 g(big, "remove_med", "%.1f") + " ms", "< 100 ms", ok(big.get("remove_med"), TARGET_HOTPLUG_MS)))
    rows.append(("Remove uevent -> update w/o device, max", g(small, "remove_max", "%.1f") + " ms",
                 g(big, "remove_max", "%.1f") + " ms", "< 100 ms", ok(big.get("remove_max"), TARGET_HOTPLUG_MS)))
    link = results.get("link", {})
    if link:
        rows.append(("PF carrier down -> VFs Unhealthy, median", "", g(link, "down_med", "%.1f") + " ms",
                     "< 100 ms", ok(link.get("down_med"), TARGET_LINK_MS)))
        rows.append(("PF carrier down -> VFs Unhealthy, max", "", g(link, "down_max", "%.1f") + " ms",
                     "< 100 ms", ok(link.get("down_max"), TARGET_LINK_MS)))
        rows.append(("PF carrier up -> VFs Healthy, median", "", g(link, "up_med", "%.1f") + " ms", "", ""))
        rows.append(("PF carrier up -> VFs Healthy, max", "", g(link, "up_max", "%.1f") + " ms", "", ""))
        rows.append(("Daemon VmRSS after the link run (+4 VFs)", "", kib(link, "after", "VmRSS"),
                     "< 8 MiB @10k", ok(link["after"]["VmRSS"] if "after" in link else None, TARGET_RSS_KIB)))
    rows.append(("Daemon VmRSS idle (registered)", kib(small, "idle", "VmRSS"), kib(big, "idle", "VmRSS"), "", ""))
    rows.append(("Daemon VmRSS after the run", kib(small, "after", "VmRSS"), kib(big, "after", "VmRSS"),
                 "< 8 MiB @10k", ok(big["after"]["VmRSS"] if "after" in big else None, TARGET_RSS_KIB)))
    rows.append(("Daemon VmHWM (peak) after the run", kib(small, "after", "VmHWM"), kib(big, "after", "VmHWM"),
                 "< 8 MiB @10k", ok(big["after"]["VmHWM"] if "after" in big else None, TARGET_RSS_KIB)))
    rows.append(("  of which RssAnon (heap, stacks)", kib(small, "after", "RssAnon"), kib(big, "after", "RssAnon"), "", ""))
    rows.append(("  umockdev preload + GLib Rss (test only)",
                 "%.2f MiB" % (small["preload_kib"] / 1024.0) if "preload_kib" in small else "-",
                 "%.2f MiB" % (big["preload_kib"] / 1024.0) if "preload_kib" in big else "-", "", ""))
    hdr = ("kyborg-device-plugin", "10 devices", "10,000 devices", "target", "met")
    wid = [max(len(str(x[i])) for x in rows + [hdr]) for i in range(5)]
    line = "  ".join("-" * w for w in wid)
    out = ["  ".join(str(c).ljust(wid[i]) for i, c in enumerate(hdr)), line]
    out += ["  ".join(str(c).ljust(wid[i]) for i, c in enumerate(r)) for r in rows]
    out.append(line)
    out.append("10 GPUs x 1 / x 1000 replicas; %d Allocate calls (1 ID each) after 50 warm-up; %d hot-plug rounds each."
               % (args.allocs, args.hotplug))
    out.append("Client-side times include python3-grpcio's own cost: an upper bound on the server's. 'Server side'")
    out.append("is each call's dur_us in the daemon's log (decoded request to packed answer); the checkpoint record")
    out.append("is written on the loop's next round, after the answer: it counts in the client round trip and in")
    out.append("'daemon CPU per call', its CPU time (schedstat) over the calls / calls, logging included.")
    if link:
        out.append("PF carrier: %d rounds; the veth's peer set down/up with SIOCSIFFLAGS, timed to the last byte of"
                   % args.links)
        out.append("the VF resource's ListAndWatch message with the VFs' new health; %d GPU replicas served beside."
                   % (link.get("devices", 4) - 4))
    out.append("The 10,000-device figures judge the targets. RSS is measured under the umockdev preload; what its")
    out.append("library (and GLib) adds is the last row.")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--desc", required=True)
    ap.add_argument("--allocs", type=int, default=2000)
    ap.add_argument("--hotplug", type=int, default=5)
    ap.add_argument("--sizes", default="1,1000", help="replicas per GPU, comma-separated (10 GPUs)")
    ap.add_argument("--links", type=int, default=20, help="PF carrier down/up rounds (0: none)")
    args = ap.parse_args()
    args.daemon = os.path.abspath(args.daemon)
    args.desc = os.path.abspath(args.desc)

    import gi
    gi.require_version("UMockdev", "1.0")
    from gi.repository import UMockdev
    # The daemon must start with umockdev's preload (it inherits our
    # environment): run ourselves under umockdev-wrapper once.
    # (UMockdev.in_mock_environment() says False in Python even then.)
    if "libumockdev-preload" not in os.environ.get("LD_PRELOAD", ""):
        if os.environ.get("KYDP_BENCH_WRAPPED"):
            raise RuntimeError("umockdev-wrapper did not set LD_PRELOAD")
        os.environ["KYDP_BENCH_WRAPPED"] = "1"
        os.execv("/usr/bin/umockdev-wrapper", ["umockdev-wrapper", PYTHON] + sys.argv)

    kids = Children()
    work = tempfile.mkdtemp(prefix="kydp-bench-")
    tb = None
    results = {}
    # SIGTERM / SIGINT: unwind through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    try:
        note("building the testbed")
        tb = UMockdev.Testbed.new()
        for i in range(N_GPUS):
            if not tb.add_from_string(gpu_record(i)):
                raise RuntimeError("cannot add GPU %d to the testbed" % i)
        sizes = [int(x) for x in args.sizes.split(",")]
        for rep in sizes:
            run_size(args, tb, UMockdev, work, kids, rep, results)
        if args.links > 0:
            if own_netns():
                if not tb.add_from_string(nic_records()):
                    raise RuntimeError("cannot add the NIC to the testbed")
                note("PF carrier: %d rounds" % args.links)
                run_link(args, tb, work, kids, max(sizes), results)
            else:
                note("PF carrier: skipped (no network namespace of our own: not root?)")
        print(fmt_table(results, args))
        return 0
    finally:
        kids.stop_all()
        if tb is not None:
            tb.clear()  # the testbed's root dir goes when the object is finalized
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
