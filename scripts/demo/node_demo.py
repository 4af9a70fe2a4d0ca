#!/usr/bin/python3
"""Kyborg's node demo: a whole node played on one machine.

Simulated hardware (an umockdev testbed read by the real libudev: two GPUs,
an FPGA and a NIC whose four VFs are veth pairs of the real kernel, cabled to
one bridge as a NIC's embedded switch would be), kyborg-device-plugin
registered with a kubelet stand-in (Debian's python3-grpcio), a pod's
Allocate for a VF and a GPU replica, then the CNI ADD of two such pods with
their allocated VFs and the anti-spoofing program, traffic between them with
the counters read back, then DEL and a check that the node is exactly as
before. Then the same node through DRA: kyborg-dra-driver publishes its
devices as ResourceSlices to a kube-apiserver stand-in (Python, written from
the API's code) and registers with a kubelet stand-in; a claim allocated as
the scheduler would is prepared, its CDI spec shown, unprepared, and the
driver stops. Exits non-zero if any step failed; cleans up even when
interrupted.

Usage (as root, after the build): node_demo.py --build BUILD_DIR
scripts/demo.sh installs what is missing, builds, and runs this."""
import argparse
import glob
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import ssl
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "grpc"))

import grpc  # noqa: E402  (Debian's python3-grpcio)

import dpapi  # noqa: E402

SUBNET = "10.199.0.0/24"
PF_ADDR, VF_ADDRS = "0000:18:00.0", ["0000:18:01.0", "0000:18:01.1", "0000:18:01.2", "0000:18:01.3"]
GPU0 = "0000:3b:00.0"
BPF_DIR = "/sys/fs/bpf/kyborg"
DRA_NODE, DRA_DRIVER = "demo-node", "kyborg.io"
SLICES = "/apis/resource.k8s.io/v1/resourceslices"
SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")


class StepFailed(Exception):
    pass


class Demo:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.cni = os.path.join(self.build, "cni", "kyborg")
        self.dp = os.path.join(self.build, "deviceplugin", "kyborg-device-plugin")
        self.bpf_objs = os.path.join(self.build, "examples", "bpf")
        self.mounted_bpffs = False
        self.desc = os.path.join(self.build, "deviceplugin", "dpapi", "api.desc")
        self.tag = "kyd%d" % (os.getpid() % 100000)
        # Unique per run, so that two demos (the test in two builds) never
        # share BPF pins (/sys/fs/bpf/kyborg/NETWORK/...).
        self.net = "kyborg-demo-" + self.tag
        self.tmp = tempfile.mkdtemp(prefix="kyborg-demo.")
        self.procs = []
        self.links = []
        self.netns = []
        self.step_no = 0
        self.failed = []

    # ---- printing ----
    def step(self, title):
        self.step_no += 1
        print("\n[%d] %s" % (self.step_no, title), flush=True)

    @staticmethod
    def say(who, text):
        print("    %-18s %s" % (who + ":" if who else "", text), flush=True)

    def check(self, ok, what):
        if not ok:
            self.failed.append(what)
            raise StepFailed(what)
        self.say("ok", what)

    # ---- running things ----
    def run(self, argv, check=True, **kw):
        r = subprocess.run(argv, capture_output=True, text=True, **kw)
        if check and r.returncode != 0:
            raise StepFailed("%s failed (%d): %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
        return r

    def mocked(self, argv):
        """argv under umockdev: /sys and /dev are the simulated node's."""
        return ["umockdev-run", "--device", self.testbed, "--"] + argv

    # What the CNI needs of sysfs is the PCI tree (a VF's netdev, its PF); it
    # also pins BPF objects under /sys/fs/bpf. umockdev's preload reports all
    # of /sys as sysfs to statfs(), bpffs included, so the CNI runs instead in
    # a private mount namespace whose /sys is the simulated node's sysfs tree
    # (umockdev's own, copied once) with the real bpffs bound at /sys/fs/bpf.
    # The namespace dies with the process: nothing is mounted on the host.
    SIM_SYS = 'mount --bind /sys/fs/bpf "$1/fs/bpf" && mount --rbind "$1" /sys && shift && exec "$@"'

    def sim_sys(self, argv):
        return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", self.SIM_SYS, "sh",
                self.sys_tree] + argv

    def make_sys_tree(self):
        self.sys_tree = os.path.join(self.tmp, "sys")
        self.run(self.mocked(["/bin/sh", "-c", 'cp -a "$UMOCKDEV_DIR/sys" "$1"', "sh", self.sys_tree]))
        os.makedirs(os.path.join(self.sys_tree, "fs", "bpf"), exist_ok=True)

    def cni_call(self, command, cid, ns, conf, ifname="eth0"):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_COMMAND": command, "CNI_CONTAINERID": cid,
               "CNI_IFNAME": ifname, "CNI_PATH": "/usr/lib/cni"}
        # A sanitized build (the demo test in build-asan) keeps its options.
        env.update({k: v for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")})
        # The node's word, never the network config's: where BPF objects
        # may be loaded from (the build's, not yet installed).
        env["KYBORG_BPF_OBJECT_DIRS"] = self.bpf_objs
        if ns:
            env["CNI_NETNS"] = "/var/run/netns/" + ns
        r = subprocess.run(self.sim_sys([self.cni]), input=json.dumps(conf), capture_output=True, text=True,
                           env=env)
        self.sanitizer_check("kyborg %s %s" % (command, cid), r.stderr)
        out = json.loads(r.stdout) if r.stdout.strip() else None
        return r.returncode, out, r.stderr

    def sanitizer_check(self, who, text):
        """Under the sanitized build, a report from any binary fails the demo."""
        if SANITIZER.search(text):
            sys.stdout.write(text)
            raise StepFailed("%s: sanitizer report (above)" % who)

    def ip_json(self, *args, ns=None):
        argv = ["ip", "-j"] + (["-n", ns] if ns else []) + list(args)
        out = self.run(argv).stdout
        return json.loads(out) if out.strip() else []

    # ---- the node as it is: what the demo compares at the end ----
    def snapshot(self):
        links = []
        for l in self.ip_json("addr", "show"):
            if not l["ifname"].startswith(self.tag):
                continue
            addrs = sorted("%s/%s" % (a["local"], a["prefixlen"]) for a in l.get("addr_info", [])
                           if a.get("scope") != "link")
            tc = [(f.get("kind"), f.get("options", {}).get("bpf_name", "")) for f in
                  self.tc_json("filter", "show", "dev", l["ifname"], "ingress") +
                  self.tc_json("filter", "show", "dev", l["ifname"], "egress")]
            links.append((l["ifname"], l.get("address", ""), l.get("mtu"), "UP" in l.get("flags", []),
                          l.get("master", ""), tuple(addrs), tuple(tc)))
        pin_dir = os.path.join(BPF_DIR, self.net)
        pins = sorted(os.path.relpath(p, pin_dir) for p in glob.glob(pin_dir + "/**", recursive=True)
                      if p != pin_dir + "/")
        files = sorted(os.path.relpath(os.path.join(d, f), self.tmp)
                       for sub in ("state", "ipam") for d, _, fs in os.walk(os.path.join(self.tmp, sub))
                       for f in fs if f != "lock" and not f.startswith("last_reserved_ip"))
        netns_links = {ns: sorted(l["ifname"] for l in self.ip_json("link", "show", ns=ns)) for ns in self.netns}
        return {"links": sorted(links), "bpf": pins, "records": files, "pods": netns_links}

    def tc_json(self, *args):
        r = self.run(["tc", "-j"] + list(args), check=False)
        try:
            return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []
        except ValueError:
            return []

    # ---- scaffolding ----
    def build_node(self):
        self.step("The simulated node")
        # The NIC: a PF and four VFs. Their netdevs are veth ends of the real
        # kernel; the other ends meet on a bridge, the NIC's embedded switch.
        br = self.tag + "br"
        self.run(["ip", "link", "add", br, "type", "bridge"])
        self.links.append(br)
        self.run(["ip", "link", "set", br, "up"])
        self.pf = self.tag + "pf"
        self.run(["ip", "link", "add", self.pf, "type", "veth", "peer", "name", self.tag + "pfx"])
        self.links.append(self.pf)
        # A PF with its link up, as a cabled port is: the device plugin
        # takes a VF's health from its PF's carrier.
        self.run(["ip", "link", "set", self.tag + "pfx", "up"])
        self.run(["ip", "link", "set", self.pf, "up"])
        self.vfs = []
        for i in range(4):
            vf, wire = "%sv%d" % (self.tag, i), "%sw%d" % (self.tag, i)
            self.run(["ip", "link", "add", vf, "type", "veth", "peer", "name", wire])
            self.links.append(vf)
            self.run(["ip", "link", "set", wire, "master", br, "up"])
            self.vfs.append(vf)
        with open(os.path.join(ROOT, "test", "data", "sim-node.umockdev")) as f:
            text = f.read().replace("@PF@", self.pf)
        for i, vf in enumerate(self.vfs):
            text = text.replace("@VF%d@" % i, vf)
        self.testbed = os.path.join(self.tmp, "node.umockdev")
        with open(self.testbed, "w") as f:
            f.write(text)
        self.make_sys_tree()
        for d in ("plugins", "cdi", "devinfo", "state", "dpstate", "ipam"):
            os.makedirs(os.path.join(self.tmp, d))
        self.say("hardware", "2 GPUs (%s, 0000:86:00.0), an FPGA (0000:af:00.0), a NIC PF %s (%s) with 4 VFs"
                 % (GPU0, PF_ADDR, self.pf))
        self.say("simulated by", "umockdev: /sys and /dev for the real libudev; the VF netdevs %s are real veths"
                 % ", ".join(self.vfs))
        status = self.run(self.mocked([os.path.join(self.build, "kyborgctl", "kyborgctl"), "status"])).stdout
        for line in status.rstrip().splitlines():
            print("      " + line)

    def start_kubelet_and_plugin(self):
        self.step("kyborg-device-plugin registers with kubelet")
        plugins = os.path.join(self.tmp, "plugins")
        kubelet = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "test", "grpc", "registration_server.py"),
                                    plugins, self.desc], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(kubelet)
        self.wait(lambda: os.path.exists(os.path.join(plugins, "kubelet.sock")), 10, "kubelet.sock appears")
        self.say("kubelet", "listens on %s/kubelet.sock (a stand-in: Debian's python3-grpcio)" % plugins)
        config = {"resources": [
            {"name": "kyborg.io/gpu", "kind": "gpu",
             "selector": {"vendors": ["10de"], "devices": ["2330"]}, "sharing": {"replicas": 4}},
            {"name": "kyborg.io/sriov-vf", "kind": "nic-vf", "selector": {"pfNames": [self.pf]}}]}
        cfg = os.path.join(self.tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump(config, f)
        self.dp_log = open(os.path.join(self.tmp, "device-plugin.log"), "w")
        dp = subprocess.Popen(self.mocked([self.dp, "--config", cfg, "--plugin-dir", plugins,
                                           "--cdi-dir", os.path.join(self.tmp, "cdi"),
                                           "--devinfo-dir", os.path.join(self.tmp, "devinfo"),
                                           "--state-dir", os.path.join(self.tmp, "dpstate"),
                                           "--log-level", "warn"]),
                              stdout=subprocess.DEVNULL, stderr=self.dp_log)
        self.procs.append(dp)
        self.dp_proc = dp
        reg = os.path.join(plugins, "registered")
        self.wait(lambda: os.path.exists(reg) and len(open(reg).read().splitlines()) >= 2, 10,
                  "both resources registered")
        for line in open(reg).read().splitlines():
            res, ep = line.split()[:2]
            self.say("kubelet", "accepted %s at %s (after dialing back, as kubelet does)" % (res, ep))
        self.api = dpapi.load(self.desc)
        self.sock = {r["name"]: os.path.join(plugins, "kyborg-%s.sock" % r["name"].replace("/", "_"))
                     for r in config["resources"]}
        for name, sock in self.sock.items():
            devs = self.list_devices(sock)
            self.say("ListAndWatch", "%s: %d devices, %s" % (name, len(devs), ", ".join(
                "%s (NUMA %s, %s)" % (d.ID, ",".join(str(n.ID) for n in d.topology.nodes) or "-", d.health)
                for d in devs[:2]) + (", ..." if len(devs) > 2 else "")))

    def list_devices(self, sock):
        with grpc.insecure_channel("unix:" + sock) as ch:
            law = ch.unary_stream("/v1beta1.DevicePlugin/ListAndWatch",
                                  request_serializer=self.api.Empty.SerializeToString,
                                  response_deserializer=self.api.ListAndWatchResponse.FromString)
            stream = law(self.api.Empty(), timeout=10)
            first = next(stream)
            stream.cancel()
            return list(first.devices)

    def allocate(self, resource, ids):
        with grpc.insecure_channel("unix:" + self.sock[resource]) as ch:
            call = ch.unary_unary("/v1beta1.DevicePlugin/Allocate",
                                  request_serializer=self.api.AllocateRequest.SerializeToString,
                                  response_deserializer=self.api.AllocateResponse.FromString)
            req = self.api.AllocateRequest()
            req.container_requests.add(devices_ids=ids)
            return call(req, timeout=10).container_responses[0]

    @staticmethod
    def wait(cond, seconds, what):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.02)
        raise StepFailed("timed out waiting: " + what)

    # ---- pods ----
    def pod_conf(self, vf_pci, extra=None):
        conf = {"cniVersion": "1.1.0", "name": self.net, "type": "kyborg", "deviceID": vf_pci,
                "stateDir": os.path.join(self.tmp, "state"),
                "ipam": {"type": "host-local", "dataDir": os.path.join(self.tmp, "ipam"),
                         "ranges": [[{"subnet": SUBNET}]]}}
        conf.update(self.bpf_conf())
        conf.update(extra or {})
        return conf

    # ---- eBPF: the anti-spoofing program and the counters (examples/bpf) ----
    def bpf_probe(self):
        """Whether this build's CNI has per-pod BPF programs: their objects are
        built, and the plugin's own parser accepts the `bpf` field."""
        objs = {n: os.path.join(self.bpf_objs, n + ".bpf.o")
                for n in ("kyborg_antispoof", "kyborg_counters")}
        missing = [p for p in objs.values() if not os.path.exists(p)]
        if missing:
            return None, "no BPF objects in this build (%s)" % ", ".join(os.path.relpath(p, self.build)
                                                                       for p in missing)
        bpf = [{"object": objs["kyborg_antispoof"], "program": "kyborg_antispoof", "attach": "tc-egress"},
               {"object": objs["kyborg_counters"], "program": "kyborg_count_ingress", "attach": "tc-ingress"},
               {"object": objs["kyborg_counters"], "program": "kyborg_count_egress", "attach": "tc-egress"}]
        conf = {"cniVersion": "1.1.0", "name": self.net, "type": "kyborg", "bpf": bpf,
                "stateDir": os.path.join(self.tmp, "state")}
        env = {"PATH": "/usr/bin:/bin", "CNI_COMMAND": "STATUS", "CNI_PATH": "/usr/lib/cni"}
        r = subprocess.run([self.cni], input=json.dumps(conf), capture_output=True, text=True, env=env)
        if r.returncode != 0:
            return None, "this build's kyborg refuses the bpf field: " + r.stdout.strip().replace("\n", " ")
        with open("/proc/self/mounts") as f:
            bpffs = any(l.split()[1:3] == ["/sys/fs/bpf", "bpf"] for l in f)
        if not bpffs:
            # systemd mounts it at boot; a machine without it gets it for the
            # demo's length only.
            self.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"])
            self.mounted_bpffs = True
            self.say("bpffs", "mounted at /sys/fs/bpf for the demo (it was not); unmounted at the end")
        return bpf, None

    def bpf_conf(self):
        return {"bpf": self.bpf} if self.bpf else {}

    def pod_pins(self, pod):
        return os.path.join(BPF_DIR, self.net, pod)

    def map_values(self, pod, name):
        """A pinned array map of the pod, read back with bpftool: a list of
        its values, each a dict of fields (BTF) or a list of u64."""
        paths = sorted(p for p in glob.glob(os.path.join(self.pod_pins(pod), "**", name), recursive=True)
                       if not os.path.isdir(p))
        if not paths:
            raise StepFailed("no pinned map %s under %s" % (name, self.pod_pins(pod)))
        entries = json.loads(self.run(["bpftool", "-j", "map", "dump", "pinned", paths[0]]).stdout)
        out = []
        for e in entries:
            if "formatted" in e:
                out.append(e["formatted"]["value"])
            else:
                raw = bytes(int(b, 16) for b in e["value"])
                out.append([int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)])
        return out

    def counters(self, pod):
        vals = self.map_values(pod, "kyborg_counters")
        get = (lambda v, k, i: v[k] if isinstance(v, dict) else v[i])
        return [(get(v, "packets", 0), get(v, "bytes", 1)) for v in vals]

    def drops(self, pod):
        vals = self.map_values(pod, "kyborg_drops")
        return [v if isinstance(v, int) else (v[0] if isinstance(v, list) else int(v)) for v in vals]

    def allocate_pod(self, pod, vf_index, gpu_replica):
        self.step("kubelet admits pod %s: Allocate one VF and one GPU replica" % pod)
        vf = VF_ADDRS[vf_index]
        gpu_id = "%s::%d" % (GPU0, gpu_replica)
        self.say("kubelet asks", "Allocate kyborg.io/sriov-vf [%s] and kyborg.io/gpu [%s]" % (vf, gpu_id))
        t = time.monotonic()
        a = self.allocate("kyborg.io/sriov-vf", [vf])
        g = self.allocate("kyborg.io/gpu", [gpu_id])
        ms = (time.monotonic() - t) * 1e3
        self.say("kyborg answers", "in %.1f ms (two round trips)" % ms)
        for k, v in sorted(list(a.envs.items()) + list(g.envs.items())):
            self.say("env", "%s=%s" % (k, v if len(v) < 90 else v[:87] + "..."))
        for d in g.devices:
            self.say("device", "%s -> %s (%s)" % (d.host_path, d.container_path, d.permissions))
        for c in list(a.cdi_devices) + list(g.cdi_devices):
            self.say("CDI", c.name)
        info = glob.glob(os.path.join(self.tmp, "devinfo", "*%s*" % vf.replace(":", "*")))
        if info:
            self.say("device-info", "%s (what Multus hands to the CNI)" % os.path.basename(info[0]))
        self.check(a.envs.get("PCIDEVICE_KYBORG_IO_SRIOV_VF") == vf, "the pod is given VF %s" % vf)
        return vf

    def add_pod(self, pod, vf, try_vf_settings):
        ns = self.tag + pod
        self.run(["ip", "netns", "add", ns])
        self.netns.append(ns)
        self.step("the runtime runs CNI ADD for pod %s (Multus passes deviceID %s)" % (pod, vf))
        before = self.snapshot()
        conf = self.pod_conf(vf)
        if try_vf_settings:
            want = self.pod_conf(vf, {"vlan": 100, "max_tx_rate": 1000})
            self.say("runtime sends", "the network config with VLAN 100 and a 1000 Mbit/s rate limit")
            rc, out, _ = self.cni_call("ADD", pod, ns, want)
            if rc == 0:
                conf = want
            else:
                self.say("kyborg refused", "%s (CNI error code %s)" % (out.get("msg"), out.get("code")))
                self.say("why", "VLAN and rate are VF settings made on the PF, and this kernel has no SR-IOV")
                self.say("", "driver: the simulated VFs are veths. The kernel tier (scripts/kernel-tier/,")
                self.say("", "netdevsim) proves VLAN and rate on real VF operations.")
                self.check(self.snapshot() == before, "the refused ADD rolled back: the node is as before")
                self.say("so", "the demo goes on without vlan and max_tx_rate")
        rc, out, err = self.cni_call("ADD", pod, ns, conf)
        if rc != 0:
            raise StepFailed("ADD %s: %s %s" % (pod, json.dumps(out), err.strip()))
        self.conf = conf
        ifc = out["interfaces"][0]
        ip = out["ips"][0]["address"]
        self.say("kyborg did", "moved VF %s (host netdev %s) into the pod as %s, address %s from host-local" % (
            vf, self.vfs[VF_ADDRS.index(vf)], ifc["name"], ip))
        self.show_bpf(pod, ns)
        link = self.ip_json("addr", "show", "eth0", ns=ns)
        self.say("kernel shows", "in pod %s: eth0 %s %s mtu %s, %s" % (
            pod, link[0].get("operstate"), link[0].get("address"), link[0].get("mtu"),
            ", ".join("%s/%s" % (a["local"], a["prefixlen"]) for a in link[0].get("addr_info", []))))
        self.check(any(a["local"] == ip.split("/")[0] for a in link[0].get("addr_info", [])),
                   "pod %s has its address on eth0" % pod)
        self.check(not any(l["ifname"] == self.vfs[VF_ADDRS.index(vf)] for l in self.ip_json("link", "show")),
                   "the VF's netdev has left the host")
        return ns, ip.split("/")[0]

    def show_bpf(self, pod, ns):
        if not self.bpf:
            return
        for hook in ("ingress", "egress"):
            # The kernel keeps 15 characters of a program's name, tc adds its id.
            self.say("kernel shows", "tc %s of the pod's eth0: %s" % (
                hook, ", ".join(self.tc_names(ns, hook)) or "nothing"))
        pins = sorted(os.path.relpath(p, BPF_DIR) for p in glob.glob(self.pod_pins(pod) + "/**", recursive=True)
                      if os.path.isfile(p))
        self.say("pinned", "%d objects under %s/%s" % (len(pins), BPF_DIR, os.path.relpath(self.pod_pins(pod),
                                                                                           BPF_DIR)))
        self.check(any(n.startswith("kyborg_antispoo") for n in self.tc_names(ns, "egress")),
                   "the anti-spoofing program guards what pod %s sends" % pod)

    def tc_names(self, ns, hook):
        return [f["options"]["bpf_name"] for f in self.tc_json("-n", ns, "filter", "show", "dev", "eth0", hook)
                if f.get("kind") == "bpf" and "bpf_name" in f.get("options", {})]

    def traffic(self, a, b):
        self.step("traffic between the pods")
        (ns_a, ip_a), (ns_b, ip_b) = a, b
        r = self.run(["ip", "netns", "exec", ns_a, "ping", "-c", "3", "-i", "0.2", "-W", "2", ip_b], check=False)
        self.check(r.returncode == 0, "pod A (%s) reaches pod B (%s): 3 of 3 pings answered" % (ip_a, ip_b))
        r = self.run(["ip", "netns", "exec", ns_b, "ping", "-c", "3", "-i", "0.2", "-W", "2", ip_a], check=False)
        self.check(r.returncode == 0, "pod B reaches pod A")
        if not self.bpf:
            self.say("eBPF", "SKIPPED: no counters to read back, no anti-spoofing to show: " + self.bpf_why)
            return
        for pod in ("a", "b"):
            (rx_p, rx_b), (tx_p, tx_b) = self.counters(pod)[:2]
            self.say("counters", "pod %s: to the pod %d packets / %d bytes, from the pod %d packets / %d bytes"
                     % (pod, rx_p, rx_b, tx_p, tx_b))
            self.check(rx_p >= 6 and tx_p >= 6, "pod %s's counters saw both directions of 6 pings" % pod)
        self.step("pod A forges its source address: the anti-spoofing program drops it")
        forged = SUBNET.split("/")[0].rsplit(".", 1)[0] + ".99"
        before = sum(self.drops("a"))
        self.run(["ip", "-n", ns_a, "addr", "add", forged + "/32", "dev", "eth0"])
        try:
            self.say("pod A", "ping -I %s %s (an address kyborg never gave it)" % (forged, ip_b))
            r = self.run(["ip", "netns", "exec", ns_a, "ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", forged,
                          ip_b], check=False)
        finally:
            self.run(["ip", "-n", ns_a, "addr", "del", forged + "/32", "dev", "eth0"], check=False)
        summary = [l for l in (r.stdout + r.stderr).splitlines() if "transmitted" in l or "sendmsg" in l]
        self.say("ping says", "; ".join(sorted(set(summary))) or r.stdout.strip()[-80:])
        drops = self.drops("a")
        reasons = ["source MAC", "source IPv4", "source IPv6", "ARP", "VLAN"]
        self.say("kyborg_drops", ", ".join("%s %d" % (reasons[i] if i < len(reasons) else i, n)
                                          for i, n in enumerate(drops)))
        self.check(r.returncode != 0 and sum(drops) - before >= 3,
                   "no forged packet left pod A: %d dropped by kyborg_antispoof (the kernel fails each send with "
                   "ENOBUFS, and ping tries again)" % (sum(drops) - before))

    def del_pods(self, pods):
        self.step("the pods go: CNI DEL, then DEL again (a runtime may repeat it)")
        for pod, ns in pods:
            for attempt in (1, 2):
                rc, out, err = self.cni_call("DEL", pod, ns, self.conf)
                if rc != 0:
                    raise StepFailed("DEL %s (call %d): %s %s" % (pod, attempt, json.dumps(out), err.strip()))
            left = [l["ifname"] for l in self.ip_json("link", "show", ns=ns)]
            self.say("kyborg did", "pod %s: VF back on the host under its name, address released, record gone"
                     % pod)
            self.say("kernel shows", "pod %s's netns holds %s" % (pod, ", ".join(left)))
            self.check(left == ["lo"], "pod %s: only lo is left in its netns; both DELs succeeded" % pod)

    # ---- the DRA act ----
    def api_request(self, method, path, body=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.api_port, timeout=10,
                                        context=ssl.create_default_context(cafile=self.api_ca))
        try:
            headers = {"Authorization": "Bearer demo-token"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            c.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            r = c.getresponse()
            data = r.read()
            return r.status, json.loads(data) if data else None
        finally:
            c.close()

    def our_slices(self):
        sel = urllib.parse.quote("spec.driver=%s,spec.nodeName=%s" % (DRA_DRIVER, DRA_NODE))
        code, body = self.api_request("GET", SLICES + "?fieldSelector=" + sel)
        if code != 200:
            raise StepFailed("list ResourceSlices: %s %s" % (code, body))
        return body["items"]

    def kubelet(self, line):
        self.dra_kubelet.stdin.write(line + "\n")
        self.dra_kubelet.stdin.flush()
        out = self.dra_kubelet.stdout.readline()
        if not out:
            raise StepFailed("the kubelet stand-in is gone (%s)" % line)
        r = json.loads(out)
        if not r.get("ok"):
            raise StepFailed("kubelet stand-in: %s: %s" % (line, r.get("error") or r.get("errors")))
        return r

    def start_dra(self):
        self.step("kyborg-dra-driver publishes the node's devices (ResourceSlices) and registers with kubelet")
        py = "/usr/bin/python3"
        standin = os.path.join(ROOT, "test", "standin", "kube_apiserver.py")
        api = os.path.join(self.tmp, "api")
        certs = os.path.join(api, "certs")
        os.makedirs(api)
        self.run([py, standin, "--gen-certs", certs])
        self.api_ca = os.path.join(certs, "ca.crt")
        tokens = os.path.join(api, "tokens")
        with open(tokens, "w") as f:
            f.write("demo-token\n")
        port_file = os.path.join(api, "port")
        self.procs.append(subprocess.Popen([py, standin, "--cert-dir", certs, "--token-file", tokens,
                                            "--port-file", port_file],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.wait(lambda: os.path.exists(port_file), 15, "the kube-apiserver stand-in listens")
        with open(port_file) as f:
            self.api_port = int(f.read())
        url = "https://127.0.0.1:%d" % self.api_port
        self.say("API server", "%s (a stand-in: Python, HTTPS with a CA and a bearer token, ResourceSlice "
                 "validation as kube-apiserver's)" % url)
        self.api_request("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": DRA_NODE}})
        reg = os.path.join(self.tmp, "plugins_registry")
        os.makedirs(reg)
        # Kubelet deletes a plugin's slices 30 s after it went away; 1 s here.
        self.dra_kubelet = subprocess.Popen(
            [py, os.path.join(ROOT, "test", "grpc", "dra_kubelet.py"), "--registration-dir", reg,
             "--desc", os.path.join(self.build, "dra", "proto", "gen", "dra.desc"), "--node-name", DRA_NODE,
             "--api-server", url, "--token-file", tokens, "--ca-file", self.api_ca, "--wipe-delay", "1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(self.dra_kubelet)
        config = {"resources": [
            {"name": "kyborg.io/gpu", "kind": "gpu", "frontend": "dra",
             "selector": {"vendors": ["10de"], "devices": ["2330"]}, "sharing": {"replicas": 4}},
            {"name": "kyborg.io/fpga", "kind": "fpga", "frontend": "dra",
             "selector": {"vendors": ["8086"], "devices": ["0b30"]}},
            {"name": "kyborg.io/sriov-vf", "kind": "nic-vf", "frontend": "dra", "selector": {"pfNames": [self.pf]}}]}
        cfg = os.path.join(self.tmp, "dra-config.json")
        with open(cfg, "w") as f:
            json.dump(config, f)
        self.dra_dirs = {k: os.path.join(self.tmp, "dra-" + k) for k in ("plugin", "cdi", "state")}
        self.dra_log = open(os.path.join(self.tmp, "dra-driver.log"), "w")
        self.dra_proc = subprocess.Popen(self.mocked(
            [os.path.join(self.build, "dra", "kyborg-dra-driver"), "--config", cfg, "--node-name", DRA_NODE,
             "--registration-dir", reg, "--plugin-dir", self.dra_dirs["plugin"], "--cdi-dir", self.dra_dirs["cdi"],
             "--state-dir", self.dra_dirs["state"], "--api-server", url, "--token-file", tokens,
             "--ca-file", self.api_ca, "--log-level", "warn"]), stdout=subprocess.DEVNULL, stderr=self.dra_log)
        self.procs.append(self.dra_proc)
        r = self.kubelet("wait registered driver=%s timeout=20000" % DRA_DRIVER)
        ev = r["event"]
        self.say("kubelet", "registered %s (%s) at %s" % (ev["driver"], ev["service"], ev["endpoint"]))

        def published():
            items = self.our_slices()
            n = sum(len(s["spec"].get("devices") or []) for s in items)
            return items if items and n == 7 and all(
                s["spec"]["pool"]["resourceSliceCount"] == len(items) for s in items) else None
        self.wait(lambda: published() is not None, 15, "the node's 7 devices are published")
        items = published()
        s = items[0]
        owner = (s["metadata"].get("ownerReferences") or [{}])[0]
        self.say("API server", "%d ResourceSlice %s: driver %s, pool %s generation %d, owned by Node %s" % (
            len(items), s["metadata"]["name"], s["spec"]["driver"], s["spec"]["pool"]["name"],
            s["spec"]["pool"]["generation"], owner.get("name", "-")))
        for d in sorted((d for s in items for d in s["spec"]["devices"]), key=lambda d: d["name"]):
            a = {k: list(v.values())[0] for k, v in d["attributes"].items()}
            extra = []
            if "shares" in d.get("capacity", {}):
                extra.append("shared by %s claims (consumable capacity)" % d["capacity"]["shares"]["value"])
            if a.get("pfName"):
                extra.append("PF %s, VF %s, k8s.cni.cncf.io/deviceID %s" % (
                    a["pfName"], a.get("vfIndex"), a.get("k8s.cni.cncf.io/deviceID")))
            if "imageID" in a:
                extra.append("image %s" % a["imageID"][:8])
            self.say("", "%-17s %-4s NUMA %s, pcieRoot %s%s" % (
                d["name"], a["kind"], a.get("resource.kubernetes.io/numaNode", "-"),
                a.get("resource.kubernetes.io/pcieRoot", "-"), "; " + "; ".join(extra) if extra else ""))
        self.dra_pool = s["spec"]["pool"]["name"]

    def dra_claim(self):
        self.step("a ResourceClaim for a GPU share and a VF, allocated, then prepared by kubelet")
        path = "/apis/resource.k8s.io/v1/namespaces/demo/resourceclaims"
        code, c = self.api_request("POST", path, {
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": "accel"},
            "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "kyborg-gpu"}},
                                              {"name": "nic", "exactly": {"deviceClassName": "kyborg-vf"}}]}}})
        self.check(code == 201, "ResourceClaim demo/accel created")
        results = [{"request": "gpu", "driver": DRA_DRIVER, "pool": self.dra_pool, "device": "gpu-0000-3b-00-0",
                    "shareID": "8c1f6f4e-6a4c-4b59-9b7e-3d2f4c1b0a99"},
                   {"request": "nic", "driver": DRA_DRIVER, "pool": self.dra_pool, "device": "vf-0000-18-01-2"}]
        c["status"] = {"allocation": {"devices": {"results": results}}}
        code, c = self.api_request("PUT", path + "/accel/status", c)
        self.check(code == 200, "allocated as the scheduler would (status.allocation): %s" % ", ".join(
            "%s -> %s" % (r["request"], r["device"]) for r in results))
        self.claim_uid = c["metadata"]["uid"]
        r = self.kubelet("prepare-claim demo accel")
        ans = r["drivers"][DRA_DRIVER]["claims"][self.claim_uid]
        for d in ans["devices"]:
            self.say("kubelet got", "%s %s for request %s, CDI %s" % (d["pool"], d["device"], d["request_names"][0],
                                                                     d["cdi"][0]))
        self.check(len(ans["devices"]) == 2 and not ans["error"], "NodePrepareResources prepared both devices")
        self.dra_spec = os.path.join(self.dra_dirs["cdi"], "%s-claim_%s.json" % (DRA_DRIVER, self.claim_uid))
        with open(self.dra_spec) as f:
            spec = json.load(f)
        self.say("CDI spec", "%s (kind %s)" % (self.dra_spec, spec["kind"]))
        for d in spec["devices"]:
            nodes = [n["path"] for n in d.get("containerEdits", {}).get("deviceNodes", [])]
            self.say("", "device %s: nodes %s" % (d["name"], ", ".join(nodes) or "none"))
        self.say("", "env: %s" % ", ".join(spec.get("containerEdits", {}).get("env", [])))

    def dra_unprepare_and_stop(self):
        self.step("unprepared; kyborg-dra-driver stops (SIGTERM), kubelet deletes its slices")
        self.kubelet("unprepare-claim demo accel")
        record = os.path.join(self.dra_dirs["state"], "dra-claims", self.claim_uid + ".json")
        self.check(not os.path.exists(self.dra_spec) and not os.path.exists(record),
                   "the claim's CDI spec and checkpoint record are gone")
        r = self.kubelet("events")
        after = max(e["seq"] for e in r["events"])
        self.dra_proc.send_signal(signal.SIGTERM)
        rc = self.dra_proc.wait(timeout=10)
        self.dra_log.flush()
        with open(self.dra_log.name) as f:
            self.sanitizer_check("kyborg-dra-driver", f.read())
        socks = [os.path.join(self.dra_dirs["plugin"], "dra.sock"),
                 os.path.join(self.tmp, "plugins_registry", DRA_DRIVER + "-reg.sock")]
        self.check(rc == 0 and not any(os.path.exists(s) for s in socks),
                   "it exited 0, its two sockets gone, its slices kept (%d) as the kubeletplugin helper does"
                   % len(self.our_slices()))
        self.kubelet("wait wiped driver=%s after=%d timeout=15000" % (DRA_DRIVER, after))
        self.check(not self.our_slices(), "kubelet (stand-in) deleted them once the plugin was gone a while")
        left = [os.path.join(d, f) for d in self.dra_dirs.values() for _, _, fs in os.walk(d) for f in fs
                if f != "lock" and not f.endswith(".lock")]
        self.check(not left, "the node is as before: no CDI spec, record or socket of the driver left")

    def stop_plugin(self):
        self.step("kyborg-device-plugin stops (SIGTERM)")
        self.dp_proc.send_signal(signal.SIGTERM)
        rc = self.dp_proc.wait(timeout=10)
        self.dp_log.flush()
        with open(self.dp_log.name) as f:
            self.sanitizer_check("kyborg-device-plugin", f.read())
        self.check(rc == 0, "it exited 0")
        left = [s for s in self.sock.values() if os.path.exists(s)]
        self.check(not left, "its sockets are gone")

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for l in self.links:
            subprocess.run(["ip", "link", "del", l], capture_output=True)
        shutil.rmtree(os.path.join(BPF_DIR, self.net), ignore_errors=True)
        if self.mounted_bpffs:
            subprocess.run(["umount", "/sys/fs/bpf"], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def leftovers(self):
        """What the demo might have left on the host: its links, netns, processes, files."""
        links = [l["ifname"] for l in self.ip_json("link", "show") if l["ifname"].startswith(self.tag)]
        ns = [n.split()[0] for n in self.run(["ip", "netns", "list"]).stdout.splitlines()
              if n.startswith(self.tag)]
        procs = [p.pid for p in self.procs if p.poll() is None]
        files = [self.tmp] if os.path.exists(self.tmp) else []
        if os.path.isdir(os.path.join(BPF_DIR, self.net)):
            files.append(os.path.join(BPF_DIR, self.net))
        return links + ns + ["pid %d" % p for p in procs] + files

    def play(self):
        self.build_node()
        self.bpf, self.bpf_why = self.bpf_probe()
        if self.bpf:
            self.say("eBPF", "each pod gets kyborg_antispoof (tc egress) and kyborg_count_* (tc in/egress)")
        else:
            self.say("eBPF", "SKIPPED in this demo: " + self.bpf_why)
        self.start_kubelet_and_plugin()
        node_before = self.snapshot()
        vf_a = self.allocate_pod("a", 0, 0)
        pod_a = self.add_pod("a", vf_a, try_vf_settings=True)
        vf_b = self.allocate_pod("b", 1, 1)
        pod_b = self.add_pod("b", vf_b, try_vf_settings=False)
        self.traffic(pod_a, pod_b)
        self.del_pods([("a", pod_a[0]), ("b", pod_b[0])])
        self.step("is the node exactly as before the pods?")
        after = self.snapshot()
        for ns in self.netns:
            after["pods"].pop(ns, None)
            node_before["pods"].pop(ns, None)
        what = {"links": "host links (name, MAC, MTU, up, bridge, addresses, tc filters)",
                "bpf": "BPF pins", "records": "state records and IPAM reservations"}
        for k in ("links", "bpf", "records"):
            self.check(after[k] == node_before[k], "%s: as before (%d)" % (what[k], len(after[k])))
        self.stop_plugin()
        self.start_dra()
        self.dra_claim()
        self.dra_unprepare_and_stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("node_demo: run as root (it creates network namespaces and links)")

    def interrupted(sig, _frame):
        raise KeyboardInterrupt("signal %d" % sig)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    t0 = time.monotonic()
    demo = Demo(args.build)
    verdict = 1
    try:
        demo.play()
        verdict = 0
    except StepFailed as e:
        print("    FAILED:            %s" % e, flush=True)
        for attr, who in (("dp_log", "device plugin log"), ("dra_log", "DRA driver log")):
            log = getattr(demo, attr, None)
            if log:
                log.flush()
                with open(log.name) as f:
                    tail = f.read().strip().splitlines()[-10:]
                for line in tail:
                    print("    %s: %s" % (who, line), flush=True)
    except KeyboardInterrupt:
        print("\n    interrupted: cleaning up", flush=True)
        demo.failed.append("interrupted")
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        demo.cleanup()
    left = demo.leftovers()
    print("\n[cleanup] %s" % ("nothing of the demo is left on this machine (links, netns, processes, files)"
                              if not left else "LEFT BEHIND: " + ", ".join(left)), flush=True)
    if left:
        verdict = 1
        demo.failed.append("left behind: " + ", ".join(left))
    skipped = "" if getattr(demo, "bpf", None) else " (eBPF steps skipped: %s)" % getattr(
        demo, "bpf_why", "not reached")
    print("\nverdict: %s (%.1f s)" % (
        "PASS: every step worked and the node is exactly as before" + skipped if verdict == 0
        else "FAIL: " + ("; ".join(demo.failed) or "a step failed (see above)"), time.monotonic() - t0))
    return verdict


if __name__ == "__main__":
    sys.exit(main())
