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
    # I2 (issue 14, fixed): ".." passed as a network name.
    seed(t, "regress-I2-network-name-dotdot", '{"cniVersion":"1.1.0","name":"..","type":"kyborg","device":"e0"}')


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
    # I1 (issue 14, fixed): the kernel took net%d as a name template.
    seed(t, "regress-I1-ifname-template", env_block(CNI_COMMAND="ADD", CNI_CONTAINERID="c1",
                                                    CNI_NETNS="/var/run/netns/p", CNI_IFNAME="net%d",
                                                    CNI_PATH="/opt/cni/bin"))


# ---- The device plugin's config ----

def dp_seeds():
    t = "device_config"
    seed(t, "examples-fpga-device-plugin", read("examples/fpga/device-plugin.json"))
    for cm in ("manifests/configmap.yaml", "manifests/dra/configmap.yaml"):
        for doc in yaml.safe_load_all(read(cm)):
            if doc and doc.get("kind") == "ConfigMap":
                for k, v in sorted(doc.get("data", {}).items()):
                    if k.endswith(".json"):
                        seed(t, cm.replace("/", "-").replace(".yaml", "") + "-" + k, v)
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
                                      "selector": {"pfNames": ["ens1f0", "ens1f1"], "drivers": ["iavf"]},
                                      "checkHealthOnPf": False}]})
    # Every function of the fuzz node (fuzz_device.h) to some resource, both
    # front ends.
    seed(t, "whole-node-both-frontends", {"resources": [
        {"name": "kyborg.io/gpu", "kind": "gpu", "frontend": "dra", "selector": {"classes": ["03"]},
         "sharing": {"replicas": 3, "strategy": "pack"}},
        {"name": "kyborg.io/fpga", "kind": "fpga", "selector": {"vendors": ["8086"], "devices": ["0b30"]},
         "bitstream": {"id": "nlb", "path": "/var/lib/kyborg/nlb.gbs", "sha256": SHA}},
        {"name": "kyborg.io/vf", "kind": "nic-vf", "frontend": "devicePlugin",
         "selector": {"pfNames": ["ens1f0"], "numaNodes": [0]}},
        {"name": "kyborg.io/vf-vfio", "kind": "nic-vf", "selector": {"drivers": ["vfio-pci"]}}]})
    seed(t, "selector-by-address-and-numa", {"resources": [
        {"name": "kyborg.io/gpu1", "kind": "gpu", "selector": {"pciAddresses": ["0000:86:00.0", "3b:00.0"],
                                                                "numaNodes": [1]}}]})
    seed(t, "refused-duplicate-resource", {"resources": [
        {"name": "kyborg.io/gpu", "kind": "gpu", "selector": {"vendors": ["10de"]}},
        {"name": "kyborg.io/gpu", "kind": "gpu", "selector": {"vendors": ["1002"]}}]})
    seed(t, "refused-kubernetes-io", {"resources": [{"name": "kubernetes.io/gpu", "kind": "gpu",
                                                     "selector": {"vendors": ["10de"]}}]})
    seed(t, "refused-both-schemas", {"resources": [], "resourceList": []})
    seed(t, "refused-frontend", {"resources": [{"name": "kyborg.io/gpu", "kind": "gpu", "frontend": "kubelet",
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


# ---- SRIOV-DP's config.json ----

def sriovdp_seeds():
    t = "device_sriovdp"
    compat = os.path.join(ROOT, "test/data/compat")
    for fn in sorted(os.listdir(compat)):
        if fn.startswith("sriovdp-") and fn.endswith(".json"):
            seed(t, "compat-" + fn, read("test/data/compat/" + fn))
    # What the fuzz node has: VF ranges of a PF, rootDevices, link types,
    # RDMA, vhost-net, ACPI indexes, additionalInfo, accelerators.
    seed(t, "vf-ranges-rdma-vhost", {"resourceList": [
        {"resourceName": "vf_0_1", "selectors": [{"pfNames": ["ens1f0#0-1"], "needVhostNet": True}]},
        {"resourceName": "vf_rest", "resourcePrefix": "example.com", "excludeTopology": True,
         "selectors": [{"pfNames": ["ens1f0#2,3"], "drivers": ["vfio-pci", "iavf"]},
                       {"rootDevices": ["0000:18:00.0"]}],
         "additionalInfo": {"*": {"token": "x"}, "0000:18:01.3": {"token": "y", "vlan": "10"}}},
        {"resourceName": "ib", "selectors": {"linkTypes": ["infiniband"], "isRdma": True}},
        {"resourceName": "pf_by_acpi", "selectors": [{"acpiIndexes": ["2"], "pciAddresses": ["0000:18:00.1"]}]},
        {"resourceName": "qat", "deviceType": "accelerator", "selectors": [{"vendors": ["8086"], "devices": ["4940"]}]}]})
    seed(t, "go-case-keys", {"ResourceList": [{"ResourceName": "x", "DeviceType": "netDevice",
                                               "Selectors": [{"PfNames": ["ens1f0"]}], "SelectorObjs": None}]})
    seed(t, "warnings", {"resourceList": [{"resourceName": "w", "selectors": [{"pfName": ["x"]}]},
                                          {"resourceName": "a", "deviceType": "accelerator",
                                           "selectors": [{"isRdma": True, "vendors": ["8086"]}],
                                           "checkHealthOnPf": True}], "periodicUpdateInterval": 10})
    seed(t, "empty-list", {"resourceList": []})
    seed(t, "refused-aux", {"resourceList": [{"resourceName": "sf", "deviceType": "auxNetDevice",
                                              "selectors": [{"auxTypes": ["sf"]}]}]})
    seed(t, "refused-bad-range", {"resourceList": [{"resourceName": "r", "selectors": [{"pfNames": ["ens1f0#3-1"]}]}]})
    seed(t, "refused-duplicate-case", '{"resourceList":[{"resourceName":"a","resourcename":"b","selectors":[{}]}]}')
    seed(t, "refused-no-selectors", {"resourceList": [{"resourceName": "n"}]})
    # F7 (fixed): a refused resource name went raw into the message (a raw
    # DEL byte in the prefix, as the fuzzer found it; a \\u escape does the same).
    seed(t, "regress-F7-prefix-with-control-byte",
         b'{"resourceList":[{"resourceName":"vf_rest","resourcePrefix":"example.c\x7fm","selectors":{}}]}')


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
    for target in ("device_config", "node_profile"):
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
    for target in ("cni_config", "device_config", "node_profile"):
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
    # byte 0: limit index (0-7) | stop_after << 3 | budget index << 6; byte 1:
    # n chunk sizes
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
    # I3 (fixed): a prefix claiming 4 MiB, then 2 bytes, allocated 4 MiB.
    seed(t, "regress-I3-claimed-length-allocated", bytes([7, 0]) + frame(b"ab", length=0x400000))
    # The connection's budget (byte 0 bits 6-7): a message over it, one that
    # fits, and a budget of 0 with empty messages.
    seed(t, "budget-16-over", bytes([7 | 2 << 6, 2, 3, 9]) + frame(b"x" * 12) + frame(b"y" * 20))
    seed(t, "budget-10000-chunked", bytes([7 | 3 << 6, 2, 200, 255]) + frame(b"a" * 5000) + frame(b"b" * 9000))
    seed(t, "budget-0-empty", bytes([7 | 1 << 6, 0]) + frame(b"") * 3 + frame(b"z"))


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


# The fuzz node's devices (test/fuzz/fuzz_device.h), and near misses.
IDS = ["0000:3b:00.0::0", "0000:3b:00.0::1", "0000:86:00.0::0", "0000:86:00.0::1", "0000:18:01.0", "0000:18:01.1",
       "0000:18:01.2", "0000:18:01.3", "0000:af:00.0", "0000:5e:00.0", "0000:3b:00.0", "0000:3b:00.0::01",
       "0000:3b:00.0::2", "bogus"]


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
    seed(t, "allocate-unhealthy", bytes([3 | 2 << 3]) + pb_bytes(1, pb_bytes(1, "0000:18:01.1")))
    seed(t, "allocate-sriovdp-rdma", bytes([3 | 3 << 3 | 1 << 6]) +
         pb_bytes(1, pb_bytes(1, "0000:5e:00.0") + pb_bytes(1, "0000:18:01.0")))
    # F2 (issue 14, fixed): allocation_size INT32_MAX sized two callocs of
    # 16 GiB each (the varint as the fuzzer found it).
    seed(t, "regress-F2-preferred-allocation-size", bytes.fromhex("020a0a18fffffffff7ffffff3a"))
    # F6 (fixed): an unknown ID with a control byte went raw into the
    # refusal (as the fuzzer found it: Allocate of SRIOV-VF IDs).
    seed(t, "regress-F6-unknown-id-with-control-byte", bytes.fromhex("130a0e0a0c303430010060300000680731"))


# ---- DRA: ResourceClaims as the API server answers them ----

CLAIM_UID = "5c1e2f30-0d4f-4c6e-9a3b-1234567890ab"


def claim(results, uid=CLAIM_UID, config=None, ns="ns1", name="gpu"):
    c = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
         "metadata": {"name": name, "namespace": ns, "uid": uid, "resourceVersion": "4711"},
         "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "kyborg-gpu"}}]}},
         "status": {"allocation": {"devices": {"results": results}}}}
    if config is not None:
        c["status"]["allocation"]["devices"]["config"] = config
    return c


def result(device, request="gpu", driver="kyborg.io", pool="node-a", **kw):
    return {"request": request, "driver": driver, "pool": pool, "device": device, **kw}


def dra_claim_seeds():
    t = "dra_claims"
    # The claim templates of examples/dra as the scheduler allocates them
    # on the fuzz node (fuzz_dra_claims.c's config: GPUs shared 4 ways and
    # VFs to DRA, the FPGA to the device plugin).
    for fn in sorted(os.listdir(os.path.join(ROOT, "examples/dra"))):
        for doc in yaml.safe_load_all(read("examples/dra/" + fn)):
            if not doc or doc.get("kind") not in ("ResourceClaimTemplate", "ResourceClaim"):
                continue
            spec = doc["spec"]["spec"] if doc["kind"] == "ResourceClaimTemplate" else doc["spec"]
            reqs = spec.get("devices", {}).get("requests", [])
            # The family the requests' class names (kyborg-gpu, kyborg-fpga,
            # kyborg-vf, kyborg-vf-guarded...), whatever the file is called.
            classes = " ".join((r.get("exactly") or r).get("deviceClassName", "") for r in reqs)
            family = next(f for f in ("gpu", "fpga", "vf") if "kyborg-" + f in classes)
            device = {"gpu": "gpu-0000-3b-00-0", "fpga": "fpga-0000-af-00-0", "vf": "vf-0000-18-01-0"}[family]
            c = claim([result(device, request=r["name"]) for r in reqs], config=spec.get("devices", {}).get("config"))
            c["spec"] = spec
            seed(t, "examples-dra-" + fn, c)
    seed(t, "test-dra-claims-example", claim([
        result("gpu-0000-3b-00-0", shareID="8c1f6f4e-6a4c-4b59-9b7e-3d2f4c1b0a99",
               consumedCapacity={"memory": "10Gi"}),
        result("vf-0000-18-01-2", request="nic/fast",
               tolerations=[{"key": "kyborg.io/unhealthy", "operator": "Exists", "effect": "NoSchedule"}]),
        result("d", request="x", driver="other.io", pool="p")],
        config=[{"source": "FromClaim", "requests": ["nic"], "opaque": {"driver": "kyborg.io", "parameters": {
            "apiVersion": "kyborg.io/v1alpha1", "kind": "VfConfig", "vlan": 100}}}]))
    seed(t, "replicas", claim([result("gpu-0000-3b-00-0-r0"), result("gpu-0000-86-00-0-r3", request="b"),
                               result("gpu-0000-86-00-0-r4", request="c")]))
    seed(t, "not-ours", claim([result("fpga-0000-af-00-0"), result("vf-0000-18-01-1"),
                               result("vf-0000-18-01-3"), result("net-0000-5e-00-0"), result("gpu-0000-3B-00-0"),
                               result("vf-0000-18-01-0", pool="node-b")]))
    seed(t, "replaced", claim([result("gpu-0000-3b-00-0")], uid="00000000-0000-0000-0000-000000000000") |
         {"metadata": {"name": "gpu", "namespace": "ns1", "uid": "other"}})
    seed(t, "not-allocated", {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                              "metadata": {"name": "gpu", "namespace": "ns1", "uid": CLAIM_UID}, "status": {}})
    seed(t, "refused-result", claim([{"request": "gpu", "driver": "kyborg.io", "pool": "node-a", "device": 7}]))
    seed(t, "bad-reference", claim([result("gpu-0000-3b-00-0")], ns="NS", name="../x", uid="a/b"))


def dra_config_seeds():
    t = "dra_config"
    # docs/dra.md's DeviceClass and claims, as the scheduler copies their
    # configs into status.allocation.devices.config: the classes' first
    # (source FromClass), then the claim's (FromClaim).
    text = read("docs/dra.md").decode()
    docs = []
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        try:
            docs += [d for d in yaml.safe_load_all(block) if d]
        except yaml.YAMLError:
            pass
    classes = {d["metadata"]["name"]: d["spec"].get("config", []) for d in docs
               if isinstance(d, dict) and d.get("kind") == "DeviceClass"}
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "ResourceClaim":
            devs = d["spec"]["devices"]
            cfg = []
            for r in devs.get("requests", []):
                for c in classes.get(r.get("exactly", {}).get("deviceClassName"), []):
                    cfg.append({"source": "FromClass", "requests": [r["name"]], **c})
            cfg += [{"source": "FromClaim", **c} for c in devs.get("config", [])]
            seed(t, "docs-dra-" + d["metadata"]["name"], claim([result("vf-0000-18-01-0", request="nic"),
                                                                result("gpu-0000-3b-00-0")], config=cfg))
        elif isinstance(d, dict) and "config" in d:  # the FPGA fragment
            seed(t, "docs-dra-fpga", [{"source": "FromClaim", **c} for c in d["config"]])

    def ours(kind, source="FromClaim", requests=None, **params):
        e = {"source": source, "opaque": {"driver": "kyborg.io", "parameters": {
            "apiVersion": "kyborg.io/v1alpha1", "kind": kind, **params}}}
        if requests is not None:
            e["requests"] = requests
        return e

    afu = "d8424dc4a4a3c413f89e433683f9040b"
    seed(t, "vf-every-field", [ours("VfConfig", vlan=4094, vlanQoS=7, vlanProto="802.1AD", mac="02:00:00:00:00:01",
                                    spoofchk=False, trust="on", link_state="disable", min_tx_rate=10,
                                    max_tx_rate=100, driver="netdevice")])
    seed(t, "fpga-path-and-url", [ours("FpgaConfig", requests=["fpga"], bitstream={
        "id": afu, "path": "/var/lib/kyborg/bitstreams/nlb.gbs", "sha256": SHA}),
        ours("FpgaConfig", bitstream={"id": "d8424dc4-a4a3-c413-f89e-433683f9040b",
                                      "url": "file:///var/lib/kyborg/bitstreams/a/b.gbs", "sha256": SHA})])
    seed(t, "gpu-env", [ours("GpuConfig", source="FromClass", sharing="exclusive"),
                        ours("GpuConfig", requests=["gpu", "gpu2/sub"], sharing="timeSliced",
                             env={"A": "1", "CUDA_MPS_PIPE_DIRECTORY": "/tmp/mps", "_x": ""})])
    seed(t, "mixed-and-others", [ours("GpuConfig", requests=["nic"]), {"source": "FromClaim", "opaque": {
        "driver": "gpu.nvidia.com", "parameters": {"kind": "GpuConfig"}}}, ours("VfConfig", source="FromClass",
                                                                                 requests=["nic"], vlan=5)])
    seed(t, "refused-vlan", [ours("VfConfig", vlan=5000)])
    seed(t, "refused-qos-without-vlan", [ours("VfConfig", vlanQoS=3)])
    seed(t, "refused-multicast-mac", [ours("VfConfig", mac="01:00:5e:00:00:01")])
    seed(t, "refused-rates", [ours("VfConfig", min_tx_rate=200, max_tx_rate=100)])
    seed(t, "refused-bitstream-outside", [ours("FpgaConfig", bitstream={
        "id": afu, "path": "/var/lib/kyborg/bitstreams/../../../etc/shadow", "sha256": SHA})])
    seed(t, "refused-reserved-env", [ours("GpuConfig", env={"NVIDIA_VISIBLE_DEVICES": "all"})])
    seed(t, "refused-env-control", [ours("GpuConfig", env={"A": "x\u0001y"})])
    seed(t, "refused-kind", [ours("NicConfig")])
    seed(t, "refused-api-version", [{"source": "FromClaim", "opaque": {"driver": "kyborg.io", "parameters": {
        "apiVersion": "kyborg.io/v1", "kind": "VfConfig"}}}])
    seed(t, "refused-not-opaque", [{"source": "FromClaim", "requests": ["nic"]}])


def dra_record_seeds():
    t = "dra_record"
    h = read("common/include/kyborg/state/dra_record.h").decode()
    m = re.search(r"\*   (\{ \"version\".*?\] \})", h, re.S)
    text = re.sub(r"\n \*\s*", " ", m.group(1))
    seed(t, "dra-record-h-example", text)
    rec = json.loads(text)
    seed(t, "preparing-no-devices", rec | {"state": "preparing", "devices": []})
    seed(t, "legacy-no-version", {k: v for k, v in rec.items() if k != "version"})
    seed(t, "newer", rec | {"version": 2})
    seed(t, "version-fraction", rec | {"version": 1.5})
    seed(t, "empty-share-id", rec | {"devices": [rec["devices"][0] | {"shareID": ""}]})
    seed(t, "refused-request-type", rec | {"devices": [rec["devices"][0] | {"requests": ["gpu", 7]}]})
    seed(t, "refused-state", rec | {"state": "done"})
    # Version 2: each kind of a claim's own configuration, with its journal
    # (dra_record.h's keys).
    vf = {"mask": 3, "mac": "02:00:00:00:00:01", "vlan": 100, "qos": 5, "vlanProto": 33024, "minTxRate": 0,
          "maxTxRate": 1000, "spoofchk": True, "trust": False, "linkState": 0}
    d0 = rec["devices"][0]
    seed(t, "v2-configs", rec | {"version": 2, "devices": [
        d0 | {"configPath": "config[0]", "gpu": {"sharing": "timeSliced", "env": ["A=1", "B="]}},
        d0 | {"device": "vf-0000-18-01-1", "pci": "0000:18:01.1", "kind": "vf", "configPath": "config[1]",
              "vf": {"pf": "ens1f0", "vfIndex": 1, "set": vf, "driver": "vfio-pci", "saved": vf | {"vlan": 0},
                     "savedDriver": "iavf", "savedOverride": ""}},
        d0 | {"device": "fpga-0000-af-00-0", "pci": "0000:af:00.0", "kind": "fpga", "configPath": "config[2]",
              "fpga": {"bitstream": {"id": "d8424dc4a4a3c413f89e433683f9040b",
                                     "url": "https://images.example.com/nlb.gbs", "sha256": SHA},
                       "previousId": "00000000000000000000000000000000"}}]})
    seed(t, "refused-v2-vf-index", rec | {"version": 2, "devices": [d0 | {"vf": {"pf": "ens1f0", "vfIndex": 1e99}}]})
    seed(t, "v2-pci-not-canonical", rec | {"devices": [d0 | {"pci": "3b:00.0"}, d0 | {"pci": "../x"}]})


def cni_record_seeds():
    t = "cni_record"
    for fn in sorted(os.listdir(os.path.join(ROOT, "test/data/records"))):
        seed(t, "test-data-" + fn, read("test/data/records/" + fn))
    rec = json.loads(read("test/data/records/cni-v1-vf-offload.json"))
    seed(t, "version-1", rec | {"version": 1})
    seed(t, "newer", rec | {"version": 2})
    seed(t, "chained", {"version": 1, "network": "n", "containerID": "c", "ifname": "eth0",
                        "device": {"chained": True, "name": "eth0"}, "journal": ["bpf"], "complete": False})
    seed(t, "wrong-types", {"version": "1", "device": [], "journal": {"a": 1}, "bpf": 5, "offload": [7, "x"],
                            "vfSaved": {"mac": "zz"}, "pod": 1, "rdma": {"name": 5, "index": "1"}})
    # Numbers at the edges of the types they are read into (F3 is what lies
    # beyond: crashes/cni_record/).
    seed(t, "number-edges", {"version": 0.5, "device": {"ifindex": -2147483648, "mtu": 4294967295.9,
                                                        "vfIndex": 2147483647, "netdev": False},
                             "vfSaved": {"mac": "02:00:00:00:00:01", "vlan": 65535, "qos": 255.5, "mask": 0,
                                         "linkState": 2}, "podIfindex": -0.5})
    # F3 (fixed): numbers out of their field's range were cast (UB).
    seed(t, "regress-F3-vfsaved-mask-1e99", b'{"vfSaved":{"mask":1e99,"mac":"aa:bb:cc:00:00:01"}}')


# ---- The Kubernetes API server's watch streams and errors ----

SLICE = {
    "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
    "metadata": {"name": "node-a-kyborg.io-0-gpz2x", "uid": "4f1c8d2e-uid", "resourceVersion": "1001",
                 "generateName": "node-a-kyborg.io-0-",
                 "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "node-a", "uid": "n1"}]},
    "spec": {"driver": "kyborg.io", "nodeName": "node-a",
             "pool": {"name": "node-a", "generation": 3, "resourceSliceCount": 1},
             "devices": [
                 {"name": "gpu-0000-3b-00-0",
                  "attributes": {"kind": {"string": "gpu"}, "vendorID": {"string": "10de"},
                                 "numaNode": {"int": 0}, "resource.kubernetes.io/pcieRoot": {"string": "pci0000:3a"},
                                 "driverVersion": {"version": "1.2.3"}, "shared": {"bool": True}},
                  "capacity": {"shares": {"value": "4", "requestPolicy": {"default": "1", "validRange": {
                      "min": "1", "max": "4", "step": "1"}}}, "memory": {"value": "80Gi"}},
                  "allowMultipleAllocations": True},
                 {"name": "vf-0000-18-01-1", "attributes": {"kind": {"string": "vf"}},
                  "taints": [{"key": "kyborg.io/unhealthy", "value": "no-driver", "effect": "NoSchedule",
                              "timeAdded": "2026-12-03T08:00:00Z"}]}]}}


def watch(events, crlf=False):
    end = "\r\n" if crlf else "\n"
    return "".join(json.dumps(e, separators=(",", ":")) + end for e in events).encode()


def k8s_seeds():
    t = "k8s_watch"
    # byte 0: line limit index | stop_after << 3; byte 1: n chunk sizes
    slice2 = copy.deepcopy(SLICE)
    slice2["metadata"]["resourceVersion"] = "1000"
    slice2["spec"]["pool"]["generation"] = 2
    seed(t, "slice-added-modified-deleted", bytes([0, 0]) + watch([
        {"type": "ADDED", "object": SLICE}, {"type": "MODIFIED", "object": slice2},
        {"type": "BOOKMARK", "object": {"kind": "ResourceSlice", "metadata": {"resourceVersion": "1002"}}},
        {"type": "DELETED", "object": SLICE}]))
    seed(t, "chunked-crlf", bytes([0, 3, 1, 7, 200]) + watch([{"type": "ADDED", "object": SLICE}], crlf=True) +
         b"\r\n\n" + b'{"type":"MODIFIED","object":{"metadata":{"name":"x"}}}')
    seed(t, "error-expired", bytes([0, 0]) + watch([
        {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                     "message": "too old resource version: 1 (2)", "reason": "Expired", "code": 410}},
        {"type": "ERROR", "object": {"kind": "Status", "reason": "Gone"}},
        {"type": "ERROR", "object": {"kind": "Pod"}}]))
    seed(t, "status-bodies", bytes([0, 0]) + watch([
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": "resourceslices.resource.k8s.io \"x\" already exists", "reason": "AlreadyExists",
         "details": {"name": "x", "group": "resource.k8s.io", "kind": "resourceslices"}, "code": 409},
        {"kind": "Status", "status": "Failure", "reason": "Conflict", "code": 409}]) +
         b"<html><head><title>502 Bad Gateway</title></head>\x01\x7f\n")
    seed(t, "line-over-limit", bytes([3, 2, 5, 9]) + b"0123456789abcdefXYZ\nshort\n")
    seed(t, "stop-after-two", bytes([0 | 2 << 3, 0]) + watch([{"type": "DELETED", "object": SLICE}] * 3))
    seed(t, "bad-events", bytes([0, 0]) + b'[1]\n{"type":"RENAMED","object":{}}\n{"type":"ADDED"}\n'
         b'{"type":"ADDED","object":{"metadata":{"name":""}}}\n{"type":"ADDED","object":{"metadata":{"name":"a",'
         b'"resourceVersion":"x"},"spec":{"pool":{"generation":1.5,"resourceSliceCount":-1},"devices":'
         b'[{"attributes":{"n":{"int":-9007199254740993}},"capacity":{"c":{"value":7}}}]}}}\n')
    # F4 (fixed): an int attribute of INT64_MAX (2^63 as a double) was cast to int64_t (UB).
    seed(t, "regress-F4-int-attribute-int64-max",
         b'\0\0{"type":"ADDED","object":{"metadata":{"name":"s"},"spec":{"devices":[{"name":"d","attributes":'
         b'{"n":{"int":9223372036854775807}}}]}}}\n')
    # F8 (fixed): an attribute that is an array had its members' keys (none) compared: strcmp(NULL).
    seed(t, "regress-F8-attribute-array",
         b'\0\0{"type":"ADDED","object":{"metadata":{"name":"s"},"spec":{"devices":[{"name":"d","attributes":'
         b'{"n":[{"string":"x"},"string"]}}]}}}\n')

    t = "dra_quantity"
    for q in ["80Gi", "1k", "500m", "1e3", "1E", "1Ei", "1.5Gi", "0.1n", "-0", ".5", "+1.", "1024Mi\0" "1Gi",
              "1000\0" "1k", "4\0" "4000m", "12345678901234567890123456789012345678", "1e101", "1e-100",
              "0.000000000000000000000000000000000000001", "9" * 36 + "Ki", "1e", "1e+", "..5", "1x", ""]:
        seed(t, "q-" + re.sub(r"[^A-Za-z0-9_.+-]", "_", q)[:40], q.encode())


# ---- DRA: kubelet's requests over gRPC ----

def dra_proto_seeds():
    t = "dra_proto"

    def claim_pb(ns, uid, name):
        return pb_bytes(1, ns) + pb_bytes(2, uid) + pb_bytes(3, name)
    # byte 0: 0 GetInfo, 1 NotifyRegistrationStatus, 2-3 Prepare, 4-5
    # Unprepare, 6 v1alpha1 / 7 v1 NodeWatchResources
    seed(t, "get-info", bytes([0]))
    seed(t, "registration-failed", bytes([1]) + pb_int(1, 0) + pb_bytes(2, "plugin kyborg.io: version mismatch"))
    good = claim_pb("ns1", CLAIM_UID, "gpu")
    seed(t, "prepare-one", bytes([2]) + pb_bytes(1, good))
    seed(t, "prepare-refused-refs", bytes([3]) + pb_bytes(1, good) + pb_bytes(1, claim_pb("NS", "u", "n")) +
         pb_bytes(1, claim_pb("ns", "../x", "n")) + pb_bytes(1, claim_pb("ns", "u", "a/b")) +
         pb_bytes(1, claim_pb("caf\u00e9", "u", "n")))
    seed(t, "unprepare-two", bytes([4]) + pb_bytes(1, good) + pb_bytes(1, claim_pb("ns2", "u-2", "vf.claim")))
    seed(t, "unprepare-unknown-field", bytes([5]) + pb_bytes(1, good + pb_int(9, 1)) + pb_int(7, 3))
    seed(t, "watch-v1alpha1", bytes([6]))
    seed(t, "watch-v1", bytes([7]) + pb_int(5, 1))
    # F5 (fixed): a namespace of 64 bytes then a character across the
    # 64-byte cut of the refusal ("%.64s" made it invalid UTF-8).
    seed(t, "regress-F5-namespace-cut-inside-a-character",
         bytes([2]) + pb_bytes(1, claim_pb("a" * 63 + "\u00e9", "u", "n")))


# ---- Dictionaries ----

# ---- The reflector's LIST pages and events (k8s_index.c) ----

def steps(*lines):
    """One step a line: its op byte, then a JSON document (compact)."""
    return "".join(op + (d if isinstance(d, str) else json.dumps(d, separators=(",", ":"))) + "\n"
                   for op, d in lines).encode()


def slice_named(name, rv):
    s = copy.deepcopy(SLICE)
    s["metadata"]["name"] = name
    s["metadata"]["resourceVersion"] = rv
    return s


def k8s_list_page(kind, items, rv, cont=None, remaining=None, partial=False):
    """A LIST answer as test/standin/kube_apiserver.py writes one (a stand-in of
    kube-apiserver): kind <Kind>List, or PartialObjectMetadataList of metadata only."""
    meta = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
        meta["remainingItemCount"] = remaining
    if partial:
        return {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": i["metadata"]} for i in items]}
    return {"kind": kind + "List", "apiVersion": "resource.k8s.io/v1", "metadata": meta, "items": items}


def k8s_list_seeds():
    t = "k8s_list"
    a, b, c = slice_named("node-a-kyborg.io-0-aaaaa", "11"), slice_named("node-a-kyborg.io-0-bbbbb", "12"), \
        slice_named("node-a-kyborg.io-0-ccccc", "13")
    cont = "eyJydiI6IDEzLCAic3RhcnQiOiBbInJlc291cmNlc2xpY2VzIiwgbnVsbCwgIm5vZGUtYSJdfQ=="
    seed(t, "slices-one-page", steps(("L", k8s_list_page("ResourceSlice", [a, b], "13"))))
    seed(t, "slices-two-pages-then-relist", steps(
        ("L", k8s_list_page("ResourceSlice", [a, b], "13", cont, 1)),
        ("L", k8s_list_page("ResourceSlice", [c], "13")),
        ("L", k8s_list_page("ResourceSlice", [slice_named(c["metadata"]["name"], "20")], "20"))))
    seed(t, "metadata-only-then-events", steps(
        ("L", k8s_list_page("ResourceSlice", [a, b], "13", partial=True)),
        ("M", slice_named(a["metadata"]["name"], "14")), ("A", c), ("D", b), ("D", b),
        ("M", slice_named(c["metadata"]["name"], "13"))))
    cl = claim([{"request": "gpu", "driver": "kyborg.io", "pool": "node-a", "device": "gpu-0000-3b-00-0"}])
    cl["metadata"]["resourceVersion"] = "31"
    cl2 = claim([], uid="6d2f3041-1e50-4d7f-8b4c-234567890abc", ns="ns2", name="gpu")
    cl2["metadata"]["resourceVersion"] = "32"
    seed(t, "claims-namespaced", steps(("L", k8s_list_page("ResourceClaim", [cl, cl2], "32")),
                                       ("D", cl), ("L", k8s_list_page("ResourceClaim", [cl2], "40"))))
    seed(t, "refused-pages", steps(
        ("L", k8s_list_page("ResourceSlice", [a], "13")),
        ("L", {"kind": "ResourceSliceList", "metadata": {"resourceVersion": "14"}}),
        ("L", {"kind": "ResourceSliceList", "metadata": {"resourceVersion": ""}, "items": [b]}),
        ("L", {"kind": "ResourceSliceList", "metadata": {}, "items": {}}),
        ("L", {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Expired", "code": 410}),
        ("L", k8s_list_page("ResourceSlice", [], "15"))))
    seed(t, "odd-objects", steps(("L", k8s_list_page("ResourceSlice", [
        {"metadata": {"name": ""}}, {"metadata": {"name": 7}}, {"metadata": {}}, [], {"metadata": {"name": "x"}},
        {"metadata": {"name": "x", "resourceVersion": "2"}}, {"metadata": {"name": "x", "namespace": ""}},
        {"metadata": {"name": "y", "namespace": "ns", "resourceVersion": 5}}], "3"))))
    # F9 (fixed): "node-a/x" of the cluster and "x" of namespace "node-a" were one key, and the
    # first was reported deleted as the second; names holding '/' are now no object's.
    seed(t, "regress-F9-name-with-slash", steps(
        ("L", k8s_list_page("ResourceSlice", [{"metadata": {"name": "node-a/x"}}], "1")),
        ("L", k8s_list_page("ResourceSlice", [{"metadata": {"name": "x", "namespace": "node-a"}}], "2")),
        ("D", {"metadata": {"name": "node-a/x"}}), ("L", k8s_list_page("ResourceSlice", [], "3"))))
    seed(t, "stop-after-three", b"S3\n" + steps(("L", k8s_list_page("ResourceSlice", [a, b, c], "13")),
                                                ("L", k8s_list_page("ResourceSlice", [], "14"))))


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
    for t in ("cni_config", "device_config", "node_profile", "image_spec", "json"):
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
    for t in ("device_sriovdp", "dra_claims", "dra_config", "dra_record", "cni_record"):
        dicts[t] = dict_lines(JSON_TOKENS + json_keys([t]))
    dicts["k8s_watch"] = dict_lines(JSON_TOKENS + ["\n", "\r\n", '"type":"ADDED"', '"type":"MODIFIED"',
                                                   '"type":"DELETED"', '"type":"BOOKMARK"', '"type":"ERROR"',
                                                   '"object":', '"kind":"Status"', '"code":410'] +
                                    json_keys(["k8s_watch"]))
    dicts["k8s_list"] = dict_lines(JSON_TOKENS + ["\n", "\nL", "\nA", "\nM", "\nD", "S1\n", '"items":[',
                                                  '"continue":"', '"resourceVersion":"', '"namespace":"',
                                                  '"name":"', '"metadata":{'] +
                                   [k for k in json_keys(["k8s_watch"]) if k.endswith(":")])
    dicts["dra_quantity"] = dict_lines(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P",
                                        "E", "e", "e-", "E+", ".", "-", "+", "\x00", "9999999999"])
    dicts["dra_proto"] = dict_lines([pb_bytes(1, "ns1"), pb_bytes(2, CLAIM_UID), pb_bytes(3, "gpu"),
                                     pb_bytes(1, b"\x0a\x03ns1\x12\x01u\x1a\x01n"), b"\xc3\xa9", b"\xed\xa0\x80"])


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
    sriovdp_seeds()
    dra_claim_seeds()
    dra_config_seeds()
    dra_record_seeds()
    cni_record_seeds()
    k8s_seeds()
    k8s_list_seeds()
    dra_proto_seeds()
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
