#!/usr/bin/python3
"""Runs a CNI conflist by hand on a new network namespace, the way a runtime
(libcni, cnitool) does: ADD each plugin in order, each given the previous
one's result as prevResult; CHECK each with the final result; DEL in reverse
order. Made for 10-bridge-guarded.conflist (Debian's `bridge`, then `kyborg`
for eBPF only), it shows what the kyborg plugin attached and the counters it
keeps, then removes everything it made: the netns, the bridge, the state.

    examples/chained/run-by-hand.py [CONFLIST] [--kyborg BIN] [--bpf-dir DIR]

Run as root. --kyborg: the plugin binary (default /opt/cni/bin/kyborg);
--bpf-dir: where the BPF objects are, when not yet installed in the data dir
(e.g. build/examples/bpf); the plugin is then told, as the node would tell it
(KYBORG_BPF_OBJECT_DIRS), to load objects from there. Its state, IPAM reservations and bridge get names
of its own, so that it leaves nothing on the machine."""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(*argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit("%s: %s" % (" ".join(argv), r.stderr.strip()))
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("conflist", nargs="?", default=os.path.join(HERE, "10-bridge-guarded.conflist"))
    ap.add_argument("--kyborg", default="/opt/cni/bin/kyborg")
    ap.add_argument("--bpf-dir")
    ap.add_argument("--cni-path", default="/usr/lib/cni:/opt/cni/bin")
    a = ap.parse_args()

    with open(a.conflist) as f:
        conflist = json.load(f)
    tag = "kyc%d" % (os.getpid() % 100000)
    ns, bridge, tmp = tag + "-pod", tag + "-br", tempfile.mkdtemp(prefix="kyborg-chained.")
    plugins = []
    for p in conflist["plugins"]:
        p = json.loads(json.dumps(p))
        if p["type"] == "bridge":
            p["bridge"] = bridge
        if "ipam" in p:
            p["ipam"]["dataDir"] = os.path.join(tmp, "ipam")
        if p["type"] == "kyborg":
            p["stateDir"] = os.path.join(tmp, "state")
            for prog in p.get("bpf", []):
                if a.bpf_dir:
                    prog["object"] = os.path.join(os.path.abspath(a.bpf_dir), os.path.basename(prog["object"]))
        plugins.append(p)

    def call(cmd, p, prev):
        conf = dict(p, name=conflist["name"], cniVersion=conflist["cniVersion"])
        if prev is not None:
            conf["prevResult"] = prev
        binary = a.kyborg if p["type"] == "kyborg" else shutil.which(p["type"], path=a.cni_path)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": cmd, "CNI_CONTAINERID": tag,
               "CNI_NETNS": "/var/run/netns/" + ns, "CNI_IFNAME": "eth0", "CNI_PATH": a.cni_path}
        env.update({k: v for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS",
                                                                 "KYBORG_BPF_OBJECT_DIRS")})
        if a.bpf_dir and p["type"] == "kyborg":
            # The node's word, not the config's: kyborg loads objects only
            # from the directories it names (default: the installed ones).
            env["KYBORG_BPF_OBJECT_DIRS"] = os.path.abspath(a.bpf_dir)
        r = subprocess.run([binary], input=json.dumps(conf), capture_output=True, text=True, env=env)
        sys.stderr.write(r.stderr)
        if r.returncode != 0:
            raise RuntimeError("%s %s: %s" % (cmd, p["type"], r.stdout.strip()))
        return json.loads(r.stdout) if r.stdout.strip() else None

    sh("ip", "netns", "add", ns)
    ok = False
    try:
        result = None
        for p in plugins:
            print("== ADD %s%s" % (p["type"], " (prevResult: the %s result)" % plugins[0]["type"]
                                   if result else ""))
            result = call("ADD", p, result)
        print(json.dumps(result, indent=2))
        for hook in ("ingress", "egress"):
            print("== tc %s of the pod's eth0:" % hook, " ".join(
                f["options"]["bpf_name"] for f in json.loads(sh("tc", "-n", ns, "-j", "filter", "show", "dev", "eth0",
                                                                hook) or "[]")
                if "bpf_name" in f.get("options", {})))
        gw = result["ips"][0].get("gateway")
        if gw:
            sh("ip", "netns", "exec", ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", gw)
            print("== pinged the bridge (%s) twice" % gw)
        for path in glob.glob("/sys/fs/bpf/kyborg/%s/%s/**/kyborg_counters" % (conflist["name"], tag),
                              recursive=True):
            if not os.path.isdir(path):
                print("== %s:" % path)
                print(sh("bpftool", "map", "dump", "pinned", path).strip())
        for p in plugins:
            call("CHECK", p, result)
        print("== CHECK: every plugin finds the pod as ADD left it")
        for p in reversed(plugins):
            call("DEL", p, result)
        print("== DEL, in reverse order")
        left = glob.glob("/sys/fs/bpf/kyborg/%s/%s" % (conflist["name"], tag))
        print("== pins left: %s" % (left or "none"))
        ok = not left
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
