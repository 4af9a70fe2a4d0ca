#!/usr/bin/python3
"""Writes the seed corpora of test/fuzz (corpus/<target>/) and the
dictionaries (dict/<target>.dict) from what the tree already holds: the
network configs of examples/ and manifests/, the device plugin's and
kyborgctl's configs, the image specs inside them; plus hand-made seeds for
the fields those leave out, the binary protocols (gRPC framing, HTTP/2
frames, the device-plugin protobuf messages, encoded by hand from
deviceplugin/api.proto) and one regression input per finding (issue 14).

Deterministic: run it again after changing the sources and commit what
changes. Inputs the fuzzers found (minimised, for a fixed crash) live beside
the seeds as corpus/<target>/found-*; this script keeps them. Seeds stay small (each under 16 KiB, tens per target). Inputs that
crash the harnesses of code the fuzzing work may not change do NOT belong
here: they go to crashes/<target>/ (see crashes/README.md).

Usage: /usr/bin/python3 test/fuzz/make-corpus.py [--check]
  --check: fail (exit 1) if the tree's corpus differs from what it writes.
"""
import copy
import json
import os
import re
import struct
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MAX_SEED = 16 * 1024

out = {}  # target -> {name: bytes}
dicts = {}


def seed(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, bytes):
        data = json.dumps(data, indent=None, separators=(",", ":")).encode()
    assert len(data) < MAX_SEED, (target, name, len(data))
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    out.setdefault(target, {})[name] = data


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


SHA = "9f3c1b2a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"

# ---- CNI network configs ----

VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
BPF = [
    {"object": "/usr/share/kyborg/bpf/kyborg_antispoof.bpf.o", "program": "kyborg_antispoof", "attach": "tc-egress"},
    {"object": "/usr/share/kyborg/bpf/kyborg_counters.bpf.o", "program": "kyborg_count_ingress",
     "attach": "tc-ingress", "hw": "preferred"},
    {"object": "/usr/share/kyborg/bpf/kyborg_counters.bpf.o", "program": "kyborg_xdp", "attach": "xdp",
     "xdpMode": "offload"},
]
OFFLOAD = [
    {"direction": "ingress", "match": {"proto": "ip", "src": "10.0.0.0/8", "ipProto": "tcp", "dstPort": 22},
     "action": "drop", "hw": "required"},
    {"direction": "egress", "match": {"proto": "ipv6", "dst": "fd00::/64"}, "action": {"police": {"rate": 1000000}}},
]
RESULT_11 = {
    "cniVersion": "1.1.0",
    "interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01", "mtu": 1500, "sandbox": "/var/run/netns/p",
                    "pciID": "0000:3b:02.1", "socketPath": "/x"}],
    "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 0},
            {"address": "fd00::5/64", "gateway": "fd00::1", "interface": 0}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1", "mtu": 1400, "advmss": 1360, "priority": 5, "table": 100,
                "scope": 0},
               {"dst": "::/0"}],
    "dns": {"nameservers": ["10.1.0.1"], "domain": "cluster.local", "search": ["a", "b"], "options": ["ndots:5"]},
}
RESULT_04 = {
    "cniVersion": "0.4.0",
    "interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01", "sandbox": "/var/run/netns/p"}],
    "ips": [{"version": "4", "address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 0}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {},
}


def cni_base(version="1.1.0", name="kynet"):
    return {"cniVersion": version, "name": name, "type": "kyborg"}


def cni_seeds():
    t = "cni_config"
    # examples/chained: each plugin of the list as a runtime hands it over
    # (cniVersion and name of the list; prevResult for the ones after the
    # first).
    for fn in sorted(os.listdir(os.path.join(ROOT, "examples/chained"))):
        if not fn.endswith((".conflist", ".conf", ".json")):
            continue
        lst = json.loads(read("examples/chained/" + fn))
        for i, p in enumerate(lst.get("plugins", [])):
            c = {"cniVersion": lst["cniVersion"], "name": lst["name"], **p}
            if i > 0:
                c["prevResult"] = copy.deepcopy(RESULT_11) | {"cniVersion": lst["cniVersion"]}
            seed(t, "examples-chained-%s-%d-%s" % (fn, i, p.get("type")), c)
    # manifests/multus: the NetworkAttachmentDefinitions' configs, and as
    # Multus hands them over (runtimeConfig.deviceID from the allocation).
    for fn in sorted(os.listdir(os.path.join(ROOT, "manifests/multus"))):
        if not fn.endswith(".yaml"):
            continue
        for doc in yaml.safe_load_all(read("manifests/multus/" + fn)):
            if doc and doc.get("kind") == "NetworkAttachmentDefinition":
                text = doc["spec"]["config"]
                seed(t, "manifests-multus-%s" % doc["metadata"]["name"], text)
                c = json.loads(text)
                c["runtimeConfig"] = {"deviceID": "0000:3b:02.1", "mac": "02:00:00:00:00:09"}
                seed(t, "manifests-multus-%s-runtime" % doc["metadata"]["name"], c)
    # examples/standalone: the heredoc the script writes.
    sh = read("examples/standalone/run-by-hand.sh").decode()
    m = re.search(r"<<CONF\n(.*?)\nCONF", sh, re.S)
    if m:
        seed(t, "examples-standalone", m.group(1).replace("$dev", "kyva0").replace("$work", "/tmp/w"))

    # Every version and way of naming the device.
    for v in VERSIONS:
        seed(t, "device-name-%s" % v, cni_base(v) | {"device": "ens1f0v3"})
    seed(t, "deviceID", cni_base() | {"deviceID": "0000:3b:02.1"})
    seed(t, "pciBusID", cni_base("1.0.0") | {"pciBusID": "3b:02.1"})
    seed(t, "runtimeConfig-deviceID", cni_base() | {"runtimeConfig": {"deviceID": "0000:3B:02.1"}})
    seed(t, "deviceID-twice-same", cni_base() | {"deviceID": "0000:3b:02.1",
                                                  "runtimeConfig": {"deviceID": "3b:02.1"}})
    seed(t, "vf-all", cni_base() | {"deviceID": "0000:3b:02.1", "vlan": 100, "vlanQoS": 3, "vlanProto": "802.1ad",
                                     "spoofchk": "on", "trust": "off", "link_state": "auto", "min_tx_rate": 10,
                                     "max_tx_rate": 1000, "mac": "02:00:00:00:00:01", "mtu": 9000,
                                     "logLevel": "debug", "logFile": "/var/log/kyborg.log",
                                     "stateDir": "/var/lib/cni/kyborg", "capabilities": {"mac": True},
                                     "args": {"cni": {"ips": ["10.1.0.5/24"]}}, "dns": {},
                                     "disableCheck": False, "disableGC": False})
    seed(t, "ipam-host-local", cni_base() | {"device": "e0", "ipam": {
        "type": "host-local", "ranges": [[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10", "gateway": "10.1.0.1"}],
                                         [{"subnet": "fd00::/64"}]], "routes": [{"dst": "0.0.0.0/0"}]}})
    seed(t, "bpf-offload", cni_base() | {"device": "e0", "bpf": BPF, "offload": OFFLOAD})
    seed(t, "chained-prevResult-1.1.0", cni_base() | {"bpf": BPF[:1], "prevResult": RESULT_11})
    seed(t, "chained-prevResult-0.4.0", cni_base("0.4.0") | {"bpf": BPF[:1], "prevResult": RESULT_04})
    seed(t, "check-prevResult", cni_base("1.0.0") | {"device": "e0", "prevResult": RESULT_11 | {"cniVersion": "1.0.0"}})
    seed(t, "gc-valid-attachments", cni_base() | {"device": "e0", "ipam": {"type": "host-local"},
                                                   "cni.dev/valid-attachments": [
                                                       {"containerID": "c1", "ifname": "eth0"},
                                                       {"containerID": "c2", "ifname": "net1"}],
                                                   "cni.dev/attachments": []})
    seed(t, "status", cni_base() | {"stateDir": "/run/kyborg"})
    seed(t, "version-only", {"cniVersion": "0.2.0"})
    seed(t, "refused-unknown-field", cni_base() | {"device": "e0", "vlna": 5})
    seed(t, "refused-name", cni_base(name="..") | {"device": "e0"})
    # Regression inputs (issue 14): a raw NUL inside the device name, and
    # runtimeConfig.deviceID twice (cJSON kept the first, Go the last).
    seed(t, "regress-raw-nul-in-device",
         b'{"cniVersion":"1.1.0","name":"kynet","type":"kyborg","device":"kysec-a\x00../../x"}')
    seed(t, "regress-nested-duplicate-deviceID",
         '{"cniVersion":"1.1.0","name":"kynet","type":"kyborg","runtimeConfig":'
         '{"deviceID":"0000:3b:02.1","deviceID":"0000:3b:02.2"}}')
    seed(t, "regress-duplicate-in-prevResult",
         '{"cniVersion":"1.1.0","name":"kynet","type":"kyborg","prevResult":{"cniVersion":"1.1.0",'
         '"ips":[{"address":"10.1.0.5/24","address":"10.9.9.9/8"}]}}')


# ---- The CNI environment ----

def env_block(**kv):
    return b"\0".join(("%s=%s" % (k, v)).encode() for k, v in kv.items())


def env_seeds():
    t = "cni_env"
    common = dict(CNI_CONTAINERID="3f2a9c1e7b6d", CNI_NETNS="/var/run/netns/cni-1234", CNI_IFNAME="net1",
                  CNI_PATH="/opt/cni/bin:/usr/lib/cni", CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=p",
                  PATH="/usr/bin", HOME="/root")
    for cmd in ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"]:
        seed(t, "cmd-" + cmd, env_block(CNI_COMMAND=cmd, **common))
    seed(t, "del-without-netns", env_block(CNI_COMMAND="DEL", CNI_CONTAINERID="c1", CNI_IFNAME="eth0",
                                           CNI_PATH="/opt/cni/bin"))
    seed(t, "version-bare", env_block(CNI_COMMAND="VERSION"))
    seed(t, "refused-dotdot-id", env_block(CNI_COMMAND="ADD", **(common | {"CNI_CONTAINERID": "../../etc"})))
    seed(t, "refused-slash-ifname", env_block(CNI_COMMAND="ADD", **(common | {"CNI_IFNAME": "a/b"})))
    seed(t, "ifname-percent", env_block(CNI_COMMAND="ADD", **(common | {"CNI_IFNAME": "net%d"})))
    seed(t, "ifname-dotdot", env_block(CNI_COMMAND="DEL", **(common | {"CNI_IFNAME": ".."})))
    seed(t, "id-128", env_block(CNI_COMMAND="CHECK", **(common | {"CNI_CONTAINERID": "a" * 128})))
    seed(t, "twice", env_block(CNI_COMMAND="ADD", **common) + b"\0CNI_COMMAND=DEL\0CNI_IFNAME=x")


# ---- The device plugin's config ----

def dp_seeds():
    t = "dp_config"
    seed(t, "examples-fpga-device-plugin", read("examples/fpga/device-plugin.json"))
    for doc in yaml.safe_load_all(read("manifests/configmap.yaml")):
        if doc and doc.get("kind") == "ConfigMap":
            for k, v in sorted(doc.get("data", {}).items()):
                if k.endswith(".json"):
                    seed(t, "manifests-configmap-" + k, v)
    sel_all = {"vendors": ["10de", "1002"], "devices": ["2330"], "drivers": ["nvidia", "vfio-pci"],
               "classes": ["03", "0302", "030200"], "pfNames": ["ens1f0"], "pciAddresses": ["0000:3b:00.0"],
               "numaNodes": [0, 1]}
    seed(t, "selector-all", {"resources": [{"name": "kyborg.io/gpu", "kind": "gpu", "selector": sel_all}]})
    seed(t, "sharing-spread", {"resources": [{"name": "kyborg.io/gpu", "kind": "gpu", "selector": {"vendors": ["10de"]},
                                              "sharing": {"replicas": 1024, "strategy": "spread"}}]})
    seed(t, "fpga-url-program", {"resources": [{
        "name": "example.com/fpga-x", "kind": "fpga", "selector": {"vendors": ["8086"]},
        "bitstream": {"id": "x", "url": "https://example.com/x.gbs", "sha256": SHA.upper()},
        "program": ["/usr/bin/fpgaconf", "--bus", "{bus}", "{image}"]}]})
    seed(t, "nic-vf", {"resources": [{"name": "kyborg.io/sriov-vf", "kind": "nic-vf",
                                      "selector": {"pfNames": ["ens1f0", "ens1f1"], "drivers": ["iavf"]}}]})
    seed(t, "refused-duplicate-resource", {"resources": [
        {"name": "kyborg.io/gpu", "kind": "gpu", "selector": {"vendors": ["10de"]}},
        {"name": "kyborg.io/gpu", "kind": "gpu", "selector": {"vendors": ["1002"]}}]})
    seed(t, "refused-kubernetes-io", {"resources": [{"name": "kubernetes.io/gpu", "kind": "gpu",
                                                     "selector": {"vendors": ["10de"]}}]})
    seed(t, "long-name", {"resources": [{"name": "a" * 253 + "/" + "b" * 63, "kind": "gpu",
                                         "selector": {"vendors": ["10de"]}}]})
    seed(t, "refused-duplicate-replicas",
         '{"resources":[{"name":"kyborg.io/gpu","kind":"gpu","selector":{"vendors":["10de"]},'
         '"sharing":{"replicas":2,"replicas":1024}}]}')
    # Regression input (issue 14): a raw NUL cut the bitstream's path.
    seed(t, "regress-raw-nul-in-bitstream-path",
         b'{"resources":[{"name":"kyborg.io/fpga","kind":"fpga","selector":{"vendors":["8086"]},'
         b'"bitstream":{"id":"x","path":"/var/lib/kyborg/x.gbs\x00/../../etc/shadow","sha256":"' + SHA.encode() + b'"}}]}')


# ---- The node profile ----

def profile_seeds():
    t = "node_profile"
    seed(t, "examples-kyborgctl", read("examples/kyborgctl/node-profile.json"))
    seed(t, "manifests-node-profile", read("manifests/node-profile/node-profile.json"))
    seed(t, "fpga-image", {"devices": [
        {"pciAddress": "0000:af:00.0", "kind": "fpga",
         "image": {"id": "nic-v2", "path": "/var/lib/kyborg/images/nic-v2.bin", "sha256": SHA},
         "program": ["/usr/local/sbin/fpga-load", "{image}", "{pci}"]},
        {"selector": {"vendors": ["8086"], "devices": ["0b30"]}, "kind": "fpga",
         "image": {"id": "x", "url": "file:///srv/x.bin", "sha256": SHA}}]})
    seed(t, "nic-minimal", {"devices": [{"pciAddress": "18:00.0", "kind": "nic", "numVfs": 0}]})
    seed(t, "nic-switchdev-only", {"devices": [{"selector": {"classes": ["0200"], "drivers": ["mlx5_core"]},
                                                "kind": "nic", "eswitchMode": "switchdev"}]})
    seed(t, "gpu-command-bounds", {"devices": [{"pciAddress": "0000:3b:00.0", "kind": "gpu", "command": {
        "state": "mig-7", "apply": ["/usr/sbin/l", "set"], "read": ["/usr/sbin/l"], "timeoutSeconds": 3600,
        "disruptive": False, "reboot": True}}]})
    seed(t, "refused-relative-apply", {"devices": [{"pciAddress": "0000:3b:00.0", "kind": "gpu", "command": {
        "state": "x", "apply": ["l", "set"], "read": ["/usr/sbin/l"]}}]})
    seed(t, "refused-vfdriver-without-vfs", {"devices": [{"pciAddress": "0000:18:00.0", "kind": "nic", "numVfs": 0,
                                                          "vfDriver": "vfio-pci"}]})
    seed(t, "empty", {"devices": []})
    seed(t, "refused-firmware", {"devices": [{"pciAddress": "0000:18:00.0", "kind": "nic", "firmware": "x"}]})
    seed(t, "refused-address-twice", {"devices": [{"pciAddress": "0000:18:00.0", "kind": "nic", "numVfs": 2},
                                                  {"pciAddress": "0000:18:00.0", "kind": "nic", "numVfs": 4}]})
    seed(t, "refused-duplicate-numVfs",
         '{"devices":[{"pciAddress":"0000:18:00.0","kind":"nic","numVfs":2,"numVfs":4}]}')
    # Regression input (issue 14): a raw NUL hid a second line of state.
    seed(t, "regress-raw-nul-in-state",
         b'{"devices":[{"pciAddress":"0000:3b:00.0","kind":"gpu","command":{"state":"mig-7\x00\nx",'
         b'"apply":["/usr/sbin/l","set"],"read":["/usr/sbin/l","get"]}}]}')


# ---- Image specs, from every config that holds one ----

def image_seeds():
    t = "image_spec"
    found = []

    def walk(j):
        if isinstance(j, dict):
            if "sha256" in j and "id" in j:
                found.append(j)
            for v in j.values():
                walk(v)
        elif isinstance(j, list):
            for v in j:
                walk(v)
    for target in ("dp_config", "node_profile"):
        for name, data in sorted(out.get(target, {}).items()):
            try:
                walk(json.loads(data))
            except ValueError:
                pass
    seen = set()
    for j in found:
        key = json.dumps(j, sort_keys=True)
        if key not in seen:
            seen.add(key)
            seed(t, "from-configs-%d" % len(seen), j)
    seed(t, "url-https", {"id": "afu-1", "url": "https://images.example.com/a%20b/x.gbs?v=1", "sha256": SHA})
    seed(t, "url-file", {"id": "afu-2", "url": "file:///var/lib/kyborg/x.gbs", "sha256": SHA.upper()})
    seed(t, "refused-sha-63", {"id": "x", "path": "/x", "sha256": SHA[:63]})
    seed(t, "refused-relative", {"id": "x", "path": "x.gbs", "sha256": SHA})
    seed(t, "refused-unknown-field", {"id": "x", "path": "/x", "sha256": SHA, "size": 1})
    seed(t, "refused-array", [{"id": "x", "path": "/x", "sha256": SHA}])
    seed(t, "refused-both", {"id": "x", "path": "/x", "url": "https://h/x", "sha256": SHA})
    seed(t, "refused-http", {"id": "x", "url": "http://h/x", "sha256": SHA})
    seed(t, "regress-raw-control-in-id", b'{"id":"a\x01\x1b[2Jb","path":"/x","sha256":"' + SHA.encode() + b'"}')


# ---- JSON ----

def json_seeds():
    t = "json"
    for target in ("cni_config", "dp_config", "node_profile"):
        for name, data in sorted(out.get(target, {}).items()):
            if len(out.get(t, {})) < 24 and not name.startswith("regress"):
                seed(t, target + "-" + name, data)
    seed(t, "types", '[null,true,false,0,-1,1.5e300,1e999,-0,"",{},[],"\\u00e9\\ud83d\\ude00","\\t\\n\\"\\\\\\/"]')
    seed(t, "addresses", '{"mac":"CA:FE:00:00:00:01","ip":"fe80::1","cidr":"10.1.2.3/24","net":"10.1.2.0/24",'
                         '"bad":"1.2.3.4/33"}')
    seed(t, "deep", "[" * 300 + "]" * 300)
    seed(t, "long-keys", json.dumps({("k" * 250) + str(i): {"x.y/z": [i]} for i in range(20)}))
    # Regression inputs (issue 14).
    seed(t, "regress-raw-nul-in-string", b'{"device":"kysec-a\x00../../x"}')
    seed(t, "regress-raw-control-between-tokens", b'{"a":\x0b1}')
    seed(t, "regress-nested-duplicate", '{"runtimeConfig":{"deviceID":"0000:03:02.0","deviceID":"0000:03:02.1"}}')
    seed(t, "regress-duplicate-in-array", '{"a":[{"x":1},{"y":1,"y":2}]}')
    seed(t, "regress-duplicate-large-object",
         "{" + ",".join('"k%d":%d' % (i, i) for i in range(40)) + ',"k7":0}')


# ---- gRPC framing ----

def frame(msg, flag=0, length=None):
    return struct.pack(">BI", flag, len(msg) if length is None else length) + msg


def grpc_frame_seeds():
    t = "grpc_frame"
    # byte 0: limit index (0-7) | stop_after << 3; byte 1: n chunk sizes
    seed(t, "one-message", bytes([7, 0]) + frame(b"hello"))
    seed(t, "chunked", bytes([7, 3, 1, 2, 7]) + frame(b"a" * 20) + frame(b"") + frame(b"xyz"))
    seed(t, "over-limit", bytes([3, 1, 4]) + frame(b"x" * 17))
    seed(t, "compressed", bytes([7, 0]) + frame(b"abc", flag=1))
    seed(t, "truncated", bytes([7, 2, 3, 1]) + frame(b"abcdef")[:7])
    seed(t, "stop-after-two", bytes([7 | 2 << 3, 0]) + frame(b"1") + frame(b"2") + frame(b"3"))
    seed(t, "at-the-limit", bytes([3, 0]) + frame(b"x" * 16) + frame(b"y" * 16))
    seed(t, "one-byte-chunks", bytes([6, 1, 1]) + frame(b"z" * 40) + frame(b""))
    seed(t, "empty-messages", bytes([0, 0]) + frame(b"") * 8)
    for text in (b"1H", b"5M", b"30S", b"100m", b"250u", b"999n", b"0m", b"123456789S", b"1x", b"S"):
        seed(t, "timeout-" + text.decode(), text)
    seed(t, "timeout-text", b"99999999H")
    seed(t, "message-text", "caf\u00e9 100% \x01\n%zz%4".encode())
    # F1 (fixed): 18446744073709551607 ms went out as "0S" (rounding up
    # wrapped); it must be the longest, "99999999H".
    seed(t, "regress-F1-timeout-format-overflow", struct.pack("<Q", 0xfffffffffffffff7))


# ---- HTTP/2 and gRPC end to end ----

def h2(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_int(v, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if v < limit:
        return bytes([first | v])
    b = [first | limit]
    v -= limit
    while v >= 128:
        b.append(v % 128 + 128)
        v //= 128
    b.append(v)
    return bytes(b)


def hpack(headers):
    """Literal header fields without indexing, names as literals, no Huffman."""
    out = b""
    for n, v in headers:
        n, v = n.encode(), v.encode()
        out += b"\x00" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v
    return out


DATA, HEADERS, PRIORITY, RST, SETTINGS, PUSH, PING, GOAWAY, WINDOW, CONT = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 1, 1, 4, 8, 0x20


def req_headers(path, extra=(), method="POST", ctype="application/grpc"):
    return hpack([(":method", method), (":scheme", "http"), (":path", path), (":authority", "localhost"),
                  ("content-type", ctype), ("te", "trailers")] + list(extra))


def call(stream, path, msg=b"req", extra=(), **kw):
    return (h2(HEADERS, END_HEADERS, stream, req_headers(path, extra, **kw)) +
            h2(DATA, END_STREAM, stream, frame(msg)))


def grpc_server_seeds():
    t = "grpc_server"
    settings = h2(SETTINGS, 0, 0)
    seed(t, "unary", settings + call(1, "/fuzz.Test/Unary"))
    seed(t, "fail-quotes-request", settings + call(1, "/fuzz.Test/Fail", "bad\x01 100%".encode()))
    seed(t, "stream-finish", settings + call(1, "/fuzz.Test/StreamFinish", b"m"))
    seed(t, "stream-keep", settings + call(1, "/fuzz.Test/StreamKeep", b"m") + call(3, "/fuzz.Test/StreamKeep", b"x"))
    seed(t, "stream-keep-then-reset", settings + call(1, "/fuzz.Test/StreamKeep") + h2(RST, 0, 1, struct.pack(">I", 8)))
    seed(t, "timeouts", settings + call(1, "/fuzz.Test/Unary", extra=[("grpc-timeout", "0m")]) +
         call(3, "/fuzz.Test/StreamKeep", extra=[("grpc-timeout", "1n")]) +
         call(5, "/fuzz.Test/Unary", extra=[("grpc-timeout", "123456789S")]))
    seed(t, "refusals", settings + call(1, "/fuzz.Test/Nope") + call(3, "/fuzz.Test/Unary", method="GET") +
         call(5, "/fuzz.Test/Unary", ctype="text/plain") +
         call(7, "/fuzz.Test/Unary", extra=[("grpc-encoding", "gzip")]))
    seed(t, "bad-messages", settings +
         h2(HEADERS, END_HEADERS, 1, req_headers("/fuzz.Test/Unary")) +
         h2(DATA, END_STREAM, 1, frame(b"ab", flag=1)) +
         h2(HEADERS, END_HEADERS, 3, req_headers("/fuzz.Test/Unary")) +
         h2(DATA, END_STREAM, 3, frame(b"a") + frame(b"b")) +
         h2(HEADERS, END_HEADERS, 5, req_headers("/fuzz.Test/Unary")) +
         h2(DATA, END_STREAM, 5, struct.pack(">BI", 0, 0x7fffffff)) +
         h2(HEADERS, END_HEADERS | END_STREAM, 7, req_headers("/fuzz.Test/Unary")) +
         h2(HEADERS, END_HEADERS, 9, req_headers("/fuzz.Test/Unary")) +
         h2(DATA, END_STREAM, 9, frame(b"abc")[:6]))
    seed(t, "split-message", settings + h2(HEADERS, END_HEADERS, 1, req_headers("/fuzz.Test/Unary")) +
         h2(DATA, 0, 1, frame(b"0123456789")[:3]) + h2(DATA, PADDED, 1, b"\x02" + frame(b"0123456789")[3:] + b"\0\0") +
         h2(DATA, END_STREAM, 1, b""))
    hb = req_headers("/fuzz.Test/Unary")
    seed(t, "continuation-priority", settings +
         h2(HEADERS, PRIO, 1, struct.pack(">IB", 0, 15) + hb[:10]) + h2(CONT, END_HEADERS, 1, hb[10:]) +
         h2(PRIORITY, 0, 1, struct.pack(">IB", 3, 1)) + h2(DATA, END_STREAM, 1, frame(b"r")))
    seed(t, "connection-frames", settings + h2(SETTINGS, 0, 0, struct.pack(">HI", 4, 1 << 20)) +
         h2(SETTINGS, ACK, 0) + h2(PING, 0, 0, b"12345678") + h2(WINDOW, 0, 0, struct.pack(">I", 1 << 20)) +
         call(1, "/fuzz.Test/StreamFinish", b"z" * 100) + h2(GOAWAY, 0, 0, struct.pack(">II", 1, 0)))
    seed(t, "small-window", h2(SETTINGS, 0, 0, struct.pack(">HI", 4, 1)) + call(1, "/fuzz.Test/StreamKeep", b"q" * 40) +
         h2(WINDOW, 0, 1, struct.pack(">I", 5)))
    seed(t, "garbage-after-preface", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


# ---- Device-plugin protobuf requests ----

def pb_varint(v):
    v &= (1 << 64) - 1
    b = b""
    while True:
        if v < 0x80:
            return b + bytes([v])
        b += bytes([v & 0x7f | 0x80])
        v >>= 7


def pb_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def pb_int(field, v):
    return pb_varint(field << 3) + pb_varint(v)


IDS = ["0000:3b:00.0::0", "0000:3b:00.0::1", "0000:3c:00.0::0", "0000:86:00.0::0", "0000:86:00.0::1",
       "0000:87:00.0::1", "0000:3b:00.0", "0000:86:00.0", "0000:3c:00.0", "0000:3b:00.0::01", "bogus"]


def dp_proto_seeds():
    t = "dp_proto"
    # byte 0: method (0 options, 1 list-and-watch, 2 preferred, 3 allocate,
    # 4 pre-start) | kind << 3 | spread << 5 | cdi << 6
    seed(t, "options-empty", bytes([0]))
    seed(t, "list-and-watch-unknown-field", bytes([1]) + pb_int(9, 1))
    for kind in range(3):
        pref = pb_bytes(1, b"".join(pb_bytes(1, i) for i in IDS[:6]) + pb_bytes(2, IDS[2]) + pb_int(3, 3)) + \
            pb_bytes(1, b"".join(pb_bytes(1, i) for i in IDS[6:]) + pb_int(3, 2))
        seed(t, "preferred-kind%d" % kind, bytes([2 | kind << 3]) + pref)
        seed(t, "preferred-spread-kind%d" % kind, bytes([2 | kind << 3 | 1 << 5]) + pref)
        alloc = pb_bytes(1, pb_bytes(1, IDS[0]) + pb_bytes(1, IDS[1])) + pb_bytes(1, pb_bytes(1, IDS[7 if kind else 3]))
        seed(t, "allocate-kind%d" % kind, bytes([3 | kind << 3]) + alloc)
        seed(t, "allocate-cdi-kind%d" % kind, bytes([3 | kind << 3 | 1 << 6]) + alloc)
        seed(t, "prestart-kind%d" % kind, bytes([4 | kind << 3]) + pb_bytes(1, IDS[6]) + pb_bytes(1, IDS[2]))
    seed(t, "preferred-negative-size", bytes([2]) + pb_bytes(1, pb_int(3, -1)))
    seed(t, "allocate-unhealthy", bytes([3]) + pb_bytes(1, pb_bytes(1, "0000:3c:00.0::0")))


# ---- Dictionaries ----

JSON_TOKENS = ['{', '}', '[', ']', ':', ',', '"', 'true', 'false', 'null', '\\u0000', '\\ud800', '\\u', '\\"',
               '\\\\', '1e999', '-0', '9007199254740993', '0.5', '"":', '{"":']


def dict_lines(words):
    lines = []
    for w in words:
        b = w.encode() if isinstance(w, str) else w
        esc = "".join(chr(c) if 0x20 <= c < 0x7f and c not in (0x22, 0x5c) else "\\x%02x" % c for c in b)
        lines.append('"%s"' % esc)
    return "\n".join(sorted(set(lines))) + "\n"


def json_keys(targets):
    keys, vals = set(), set()

    def walk(j):
        if isinstance(j, dict):
            for k, v in j.items():
                keys.add('"%s":' % k)
                walk(v)
        elif isinstance(j, list):
            for v in j:
                walk(v)
        elif isinstance(j, str) and len(j) < 40:
            vals.add('"%s"' % j)
    for target in targets:
        for data in out.get(target, {}).values():
            try:
                walk(json.loads(data))
            except ValueError:
                pass
    return sorted(keys) + sorted(vals)


def make_dicts():
    for t in ("cni_config", "dp_config", "node_profile", "image_spec", "json"):
        dicts[t] = dict_lines(JSON_TOKENS + json_keys([t]))
    dicts["cni_env"] = dict_lines(["CNI_COMMAND=", "CNI_CONTAINERID=", "CNI_NETNS=", "CNI_IFNAME=", "CNI_ARGS=",
                                   "CNI_PATH=", "ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION", "\x00", "/", "..",
                                   "%", "/var/run/netns/"])
    dicts["grpc_server"] = dict_lines([hpack([(n, v)]) for n, v in [
        (":method", "POST"), (":method", "GET"), (":path", "/fuzz.Test/Unary"), (":path", "/fuzz.Test/Fail"),
        (":path", "/fuzz.Test/StreamFinish"), (":path", "/fuzz.Test/StreamKeep"), (":scheme", "http"),
        (":authority", "localhost"), ("content-type", "application/grpc"), ("content-type", "application/grpc+proto"),
        ("te", "trailers"), ("grpc-timeout", "1S"), ("grpc-timeout", "0m"), ("grpc-encoding", "identity"),
        ("grpc-encoding", "gzip")]] + [h2(SETTINGS, 0, 0), h2(SETTINGS, ACK, 0), h2(WINDOW, 0, 0, b"\0\0\xff\xff"),
                                       b"\x00\x00\x00\x00\x00", b"\x01\x00\x00\x00\x05"])
    dicts["dp_proto"] = dict_lines([pb_bytes(1, i) for i in IDS] + [pb_int(3, 1), pb_int(3, 0x7fffffff)])


def main():
    check = "--check" in sys.argv[1:]
    cni_seeds()
    env_seeds()
    dp_seeds()
    profile_seeds()
    image_seeds()
    json_seeds()
    grpc_frame_seeds()
    grpc_server_seeds()
    dp_proto_seeds()
    make_dicts()
    differs = []
    for target, seeds in sorted(out.items()):
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        have = set(os.listdir(d))
        for name, data in seeds.items():
            p = os.path.join(d, name)
            if not os.path.exists(p) or read(os.path.relpath(p, ROOT)) != data:
                differs.append(p)
                if not check:
                    with open(p, "wb") as f:
                        f.write(data)
        # found-*: minimised inputs the fuzzers found (a fixed crash, a
        # regression), kept by hand; anything else unknown is stale.
        for stale in sorted(n for n in have - set(seeds) if not n.startswith("found-")):
            differs.append(os.path.join(d, stale))
            if not check:
                os.unlink(os.path.join(d, stale))
    os.makedirs(os.path.join(HERE, "dict"), exist_ok=True)
    for target, text in sorted(dicts.items()):
        p = os.path.join(HERE, "dict", target + ".dict")
        if not os.path.exists(p) or open(p).read() != text:
            differs.append(p)
            if not check:
                with open(p, "w") as f:
                    f.write(text)
    for target, seeds in sorted(out.items()):
        print("%-14s %3d seeds, %6d bytes" % (target, len(seeds), sum(len(v) for v in seeds.values())))
    if check and differs:
        print("out of date:", *differs, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
