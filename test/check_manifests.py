#!/usr/bin/python3
"""Checks manifests/ and examples/ against the binaries they deploy.

Every YAML file parses; the DaemonSet mounts exactly the binaries' default
paths (read from the sources and the build's install dirs) from the host;
no container is privileged, capabilities are named, each container has
requests and limits, the device plugin a liveness probe; the ConfigMap's
config passes `kyborg-device-plugin --check-config`; every kyborg network
config (NetworkAttachmentDefinitions, conflists, examples) is parsed in full by
the `kyborg` binary itself as ADD would (`kyborg --check-config`, which
touches nothing), with no field left aside, and passes CNI STATUS with its
stateDir pointed at a scratch directory so that nothing on the node changes; the
node helper installs the CNI binary and the BPF objects atomically.
manifests/dra/ (kyborg-dra-driver's overlay): its DaemonSet mounts the
driver's default paths (dra.h, state/paths.h) and runs least-privilege, its
ServiceAccount is bound to exactly the RBAC the driver needs, the overlaid
ConfigMap passes both binaries' --check-config and gives every resource to
one of them, each DeviceClass's CEL names the driver and only attributes
(and kind values) the driver publishes (dra/dra_attrs.c, the device
layer's names), and examples/dra/ asks only for those classes.

Usage: check_manifests.py --source DIR --build DIR --dp BIN --cni BIN
       --kyborgctl BIN --cni-bin-dir DIR --data-dir DIR [--prefix DIR] [--dra BIN]
Runs with /usr/bin/python3 and Debian's python3-yaml."""
import argparse
import copy
import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

import yaml

FAILURES = []
QUIET = [False]


def check(ok, what):
    if not QUIET[0]:
        print("%s: %s" % ("ok" if ok else "FAIL", what), flush=True)
    if not ok:
        FAILURES.append(what)
    return ok


def failures_of(fn, *args):
    """The checks that fn fails, kept out of the verdict: for proving that
    the checks above can fail."""
    n = len(FAILURES)
    QUIET[0] = True
    try:
        fn(*args)
    finally:
        QUIET[0] = False
    found = FAILURES[n:]
    del FAILURES[n:]
    return found


def check_checks_can_fail(rel, spec):
    bad = copy.deepcopy(spec)
    dp = [c for c in bad["containers"] if c["name"] == "device-plugin"][0]
    dp["securityContext"]["privileged"] = True
    dp["securityContext"]["capabilities"]["add"].append("CAP_SYS_ADMIN")
    del dp["resources"]["limits"]
    found = failures_of(check_security, rel, bad)
    check(len(found) == 3, "the security checks catch privileged, a CAP_-prefixed name and missing limits (%d)"
          % len(found))
    for v in bad["volumes"]:
        if v["name"] == "device-plugins":
            v["hostPath"]["path"] = "/var/lib/kubelet/plugins"
    found = failures_of(check_host_mount, rel, mounts_of(bad, dp), "/var/lib/kubelet/device-plugins",
                        "/var/lib/kubelet/device-plugins")
    check(len(found) == 1, "the path checks catch a mount from another host path")


def c_default(path, name):
    """A #define's string, through one that names another of the file."""
    with open(path) as f:
        text = f.read()
    m = re.search(r'#define\s+%s\s+"([^"]+)"' % name, text)
    alias = re.search(r'#define\s+%s\s+([A-Z_][A-Z0-9_]*)\s*$' % name, text, re.M)
    if not m and alias:
        return c_default(path, alias.group(1))
    if not m:
        sys.exit("check_manifests: %s: no #define %s" % (path, name))
    return m.group(1)


def c_macro(path, name):
    """A #define's string, through another #define it names."""
    with open(path) as f:
        m = re.search(r'#define\s+%s\s+(\S+)' % name, f.read())
    if not m:
        sys.exit("check_manifests: %s: no #define %s" % (path, name))
    v = m.group(1)
    return v.strip('"') if v.startswith('"') else c_default(path, v)


def load_all(root):
    docs = {}
    for sub in ("manifests", "examples"):
        for path in sorted(glob.glob(os.path.join(root, sub, "**", "*.yaml"), recursive=True)):
            rel = os.path.relpath(path, root)
            try:
                with open(path) as f:
                    docs[rel] = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                check(False, "%s parses as YAML: %s" % (rel, e))
                continue
            check(True, "%s parses as YAML (%d documents)" % (rel, len(docs[rel])))
    return docs


def objects(docs, kind, under=None):
    return [(rel, d) for rel, ds in docs.items() for d in ds
            if isinstance(d, dict) and d.get("kind") == kind and (under is None or rel.startswith(under))]


def base_objects(docs, kind):
    """The base's objects: manifests/*.yaml, not an overlay's."""
    return [(rel, d) for rel, d in objects(docs, kind) if os.path.dirname(rel) == "manifests"]


def check_kustomizations(root, docs):
    for rel, ds in docs.items():
        if os.path.basename(rel) != "kustomization.yaml":
            continue
        base = os.path.dirname(os.path.join(root, rel))
        for r in ds[0].get("resources", []):
            check(os.path.exists(os.path.join(base, r)), "%s: resource %s exists" % (rel, r))
        for p in ds[0].get("patches", []):
            if "path" in p:
                check(os.path.isfile(os.path.join(base, p["path"])), "%s: patch %s exists" % (rel, p["path"]))
        for gen in ds[0].get("configMapGenerator", []):
            for f in gen.get("files", []):
                path = os.path.join(base, f.split("=")[-1])
                if check(os.path.isfile(path), "%s: %s's file %s exists" % (rel, gen["name"], f)) and \
                        path.endswith(".json"):
                    try:
                        with open(path) as fh:
                            json.load(fh)
                        check(True, "%s: %s is JSON" % (rel, f))
                    except ValueError as e:
                        check(False, "%s: %s is JSON: %s" % (rel, f, e))
            ds_cms = [v.get("configMap", {}).get("name") for _, d in objects(docs, "DaemonSet", "manifests/")
                      for v in d["spec"]["template"]["spec"].get("volumes", [])]
            check(gen["name"] in ds_cms, "%s: the DaemonSet mounts the generated ConfigMap %s" % (rel, gen["name"]))
    listed = docs.get("manifests/kustomization.yaml", [{}])[0].get("resources", [])
    for rel in docs:
        d = os.path.dirname(rel)
        if d == "manifests" and os.path.basename(rel) != "kustomization.yaml":
            check(os.path.basename(rel) in listed, "%s is in manifests/kustomization.yaml" % rel)


def all_containers(pod_spec):
    return list(pod_spec.get("initContainers", [])) + list(pod_spec.get("containers", []))


def check_security(rel, pod_spec):
    for c in all_containers(pod_spec):
        name = "%s: container %s" % (rel, c.get("name"))
        sc = c.get("securityContext", {})
        check(sc.get("privileged") is not True, "%s is not privileged" % name)
        check(sc.get("allowPrivilegeEscalation") is False, "%s sets allowPrivilegeEscalation: false" % name)
        caps = sc.get("capabilities", {})
        check(caps.get("drop") == ["ALL"], "%s drops ALL capabilities" % name)
        added = caps.get("add", [])
        check(all(re.fullmatch(r"[A-Z_]+", a) and not a.startswith("CAP_") and a != "ALL" for a in added),
              "%s adds capabilities by name only: %s" % (name, added or "none"))
        res = c.get("resources", {})
        check(all(k in res.get(w, {}) for w in ("requests", "limits") for k in ("cpu", "memory")),
              "%s has cpu and memory requests and limits" % name)


def mounts_of(pod_spec, container):
    vols = {v["name"]: v for v in pod_spec.get("volumes", [])}
    out = {}
    for m in container.get("volumeMounts", []):
        out[m["mountPath"]] = (vols.get(m["name"], {}), m)
    return out


def check_host_mount(name, mounts, container_path, host_path, writable=True):
    """container_path (or a folder above it) is host_path's counterpart."""
    for mp, (vol, m) in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        if container_path == mp or container_path.startswith(mp.rstrip("/") + "/"):
            hp = vol.get("hostPath", {}).get("path")
            want = host_path[:len(host_path) - len(container_path) + len(mp)] if container_path != mp \
                else host_path
            ok = hp == want and (not writable or not m.get("readOnly"))
            return check(ok, "%s: %s comes from the host's %s%s (mount %s from hostPath %s)" % (
                name, container_path, host_path, " writable" if writable else "", mp, hp))
    return check(False, "%s: nothing mounts %s" % (name, container_path))


def check_daemonset(root, a, docs):
    dss = base_objects(docs, "DaemonSet")
    if not check(len(dss) == 1, "manifests/ has one DaemonSet"):
        return None
    rel, ds = dss[0]
    spec = ds["spec"]["template"]["spec"]
    check_security(rel, spec)
    check_checks_can_fail(rel, spec)
    check(spec.get("securityContext", {}).get("seccompProfile", {}).get("type") == "RuntimeDefault",
          "%s: the pod runs under the runtime's default seccomp profile" % rel)
    check(bool(spec.get("tolerations")), "%s tolerates accelerator nodes' taints" % rel)
    check(bool(spec.get("nodeSelector")), "%s has a node selector to change" % rel)
    check(spec.get("serviceAccountName") in [d["metadata"]["name"] for _, d in objects(docs, "ServiceAccount")],
          "%s runs as a ServiceAccount the manifests define" % rel)
    check(ds["metadata"].get("namespace") in [d["metadata"]["name"] for _, d in objects(docs, "Namespace")],
          "%s is in a Namespace the manifests define" % rel)
    cs = {c["name"]: c for c in all_containers(spec)}

    dp = cs.get("device-plugin")
    if not check(dp is not None, "%s has a device-plugin container" % rel):
        return None
    check("livenessProbe" in dp, "%s: the device plugin has a liveness probe" % rel)
    argv = dp.get("command", []) + dp.get("args", [])
    check(os.path.basename(argv[0]) == "kyborg-device-plugin", "%s runs kyborg-device-plugin" % rel)
    dp_h = os.path.join(root, "deviceplugin", "dp.h")
    paths_h = os.path.join(root, "common", "include", "kyborg", "state", "paths.h")
    mounts = mounts_of(spec, dp)
    # Every directory the plugin has a default for (DP_DEFAULT_<X>_DIR, option
    # --<x>-dir): a new one in dp.h is checked without a change here. The two
    # other binaries share come from state/paths.h.
    with open(dp_h) as f:
        dirs = re.findall(r'#define\s+DP_DEFAULT_(\w+)_DIR\s+"([^"]+)"', f.read())
    dirs += [("PLUGIN", c_default(paths_h, "KY_KUBELET_PLUGIN_DIR_DEFAULT")),
             ("STATE", c_default(paths_h, "KY_DP_STATE_DIR_DEFAULT"))]
    check(len(dirs) >= 4, "%s: the device plugin's default directories are read from dp.h and paths.h: %d" % (
        rel, len(dirs)))
    for name, default in dirs:
        opt = "--%s-dir" % name.lower().replace("_", "-")
        if opt in argv:
            check(argv[argv.index(opt) + 1] == default, "%s: %s is the default %s" % (rel, opt, default))
        check_host_mount(rel + " device-plugin", mounts, default, default)
    for path in ("/sys", "/dev", "/sys/fs/bpf"):
        check_host_mount(rel + " device-plugin", mounts, path, path, writable=(path == "/sys/fs/bpf"))
    probe = dp.get("livenessProbe", {}).get("exec", {}).get("command", [])
    check(c_default(paths_h, "KY_KUBELET_PLUGIN_DIR_DEFAULT") in probe,
          "%s: the liveness probe looks at the plugin dir" % rel)

    # The config file: a ConfigMap key mounted where --config points.
    cfg_path = argv[argv.index("--config") + 1] if "--config" in argv else None
    config = None
    if check(cfg_path is not None, "%s: the device plugin is given --config" % rel):
        mp = os.path.dirname(cfg_path)
        vol = mounts.get(mp, ({}, {}))[0]
        cm_name = vol.get("configMap", {}).get("name")
        items = {i["path"]: i["key"] for i in vol.get("configMap", {}).get("items", [])}
        key = items.get(os.path.basename(cfg_path), os.path.basename(cfg_path))
        cms = {d["metadata"]["name"]: d for _, d in base_objects(docs, "ConfigMap")}
        if check(cm_name in cms and key in cms[cm_name].get("data", {}),
                 "%s: %s is key %s of ConfigMap %s" % (rel, cfg_path, key, cm_name)):
            config = cms[cm_name]["data"][key]
            check_dp_config(a, config, "ConfigMap %s key %s" % (cm_name, key))

    inst = cs.get("install")
    if check(inst is not None, "%s has an install init container" % rel):
        argv = inst.get("command", []) + inst.get("args", [])
        host = argv[-1] if len(argv) >= 4 else "/host"
        im = mounts_of(spec, inst)
        check_host_mount(rel + " install", im, host + a.cni_bin_dir, a.cni_bin_dir)
        check_host_mount(rel + " install", im, host + a.image_data_dir, a.image_data_dir)
        check(spec.get("initContainers", [{}])[0].get("name") == "install",
              "%s: the CNI binary is installed before anything else starts" % rel)
    prof = cs.get("apply-profile")
    if check(prof is not None, "%s has an apply-profile init container" % rel):
        vol = mounts_of(spec, prof)
        check(any(v.get("configMap", {}).get("optional") is True for v, _ in vol.values()),
              "%s: the node-profile ConfigMap is optional" % rel)
        path = (prof.get("command", []) + prof.get("args", []))[-1]
        mp = os.path.dirname(path)
        check(mp in vol and "configMap" in vol[mp][0],
              "%s: apply-profile reads %s from the ConfigMap mounted at %s" % (rel, path, mp))
        gen = os.path.join(root, "manifests", "node-profile", os.path.basename(path))
        check(os.path.isfile(gen), "%s: manifests/node-profile/ generates the key %s" % (rel, os.path.basename(path)))
        # kyborgctl's defaults for who uses a device: the CNI plugin's records,
        # kubelet's checkpoint, the device plugin's state (image cache too).
        for name in ("KY_CNI_STATE_DIR_DEFAULT", "KY_KUBELET_PLUGIN_DIR_DEFAULT"):
            d = c_default(paths_h, name)
            check_host_mount(rel + " apply-profile", vol, d, d, writable=False)
        d = c_default(paths_h, "KY_DP_STATE_DIR_DEFAULT")
        check_host_mount(rel + " apply-profile", vol, d, d)
        # The DRA driver's claims (its state dir's dra-claims), read only.
        d = c_default(paths_h, "KY_DRA_STATE_DIR_DEFAULT")
        check_host_mount(rel + " apply-profile", vol, d, d, writable=False)
        # kyborgctl status's --device-config: where the device plugin's is mounted.
        ctl_cfg = c_default(os.path.join(root, "kyborgctl", "kyborgctl.c"), "KYBORGCTL_DEVICE_CONFIG")
        check(ctl_cfg == cfg_path, "%s: kyborgctl's default --device-config %s is the device plugin's --config %s" % (
            rel, ctl_cfg, cfg_path))
        check_host_mount(rel + " apply-profile", vol, "/sys", "/sys")
    return json.loads(config) if config else None


def check_dp_config(a, text, what):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(text)
        f.flush()
        r = subprocess.run([a.dp, "--check-config", "--config", f.name], capture_output=True, text=True)
    check(r.returncode == 0, "%s passes kyborg-device-plugin --check-config: %s" % (
        what, (r.stdout + r.stderr).strip().replace(f.name, "FILE")))


def cni_status(a, conf, scratch):
    """STATUS parses the whole config and opens the state dir: pointed at a
    scratch dir, it changes nothing on the node."""
    conf = copy.deepcopy(conf)
    conf["stateDir"] = scratch
    # STATUS came with CNI 1.1.0; the config's fields parse the same in every
    # version (a conflist may say 1.0.0 for plugins that know no newer one).
    conf["cniVersion"] = "1.1.0"
    env = {"PATH": "/usr/bin:/bin", "CNI_COMMAND": "STATUS", "CNI_PATH": a.cni_path}
    r = subprocess.run([a.cni], input=json.dumps(conf), capture_output=True, text=True, env=env)
    return r.returncode, (r.stdout + r.stderr).strip()


def cni_check_config(a, conf):
    """kyborg --check-config: the config parsed as ADD parses it, nothing
    touched. Its exit status, the error object, and the notes on stderr
    (fields left aside)."""
    r = subprocess.run([a.cni, "--check-config"], input=json.dumps(conf), capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin"})
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def check_cni_config(a, conf, what, dp_resources):
    if conf.get("type") != "kyborg":
        return
    check("stateDir" not in conf, "%s: stateDir is left to the default" % what)
    # A BPF object is named by its path on the node: the image's data dir,
    # where the install init container puts what `cmake --install` installs.
    for i, prog in enumerate(conf.get("bpf", [])):
        obj = prog.get("object", "")
        where = "%s: bpf[%d].object %s" % (what, i, obj)
        if not check(obj.startswith(a.image_data_dir + "/"), "%s is under the node's data dir %s" % (
                where, a.image_data_dir)):
            continue
        built = a.install_root + a.data_dir + obj[len(a.image_data_dir):]
        if check(os.path.isfile(built), "%s is installed by the build" % where):
            with open(built, "rb") as f:
                check(prog.get("program", "").encode() + b"\0" in f.read(),
                      "%s holds program %s" % (where, prog.get("program")))
    rc, out, notes = cni_check_config(a, conf)
    check(rc == 0, "%s: the kyborg binary accepts it (kyborg --check-config)%s" % (what, "" if rc == 0 else ": " + out))
    check(notes == "", "%s: no field is left aside%s" % (what, "" if not notes else ": " + notes))
    with tempfile.TemporaryDirectory() as scratch:
        rc, out = cni_status(a, conf, scratch)
        check(rc == 0, "%s: CNI STATUS passes%s" % (what, "" if rc == 0 else ": " + out))


def kyborg_confs(conf):
    """A single network config, or each kyborg plugin of a conflist with the
    list's name and version, as the runtime hands it."""
    if "plugins" in conf:
        for p in conf["plugins"]:
            p = dict(p, name=conf["name"], cniVersion=conf["cniVersion"])
            yield p
    else:
        yield conf


def check_networks(root, a, docs, dp_config):
    resources = {r["name"]: r for r in (dp_config or {}).get("resources", [])}
    # Examples' device-plugin configs (resources to merge into the ConfigMap).
    for path in sorted(glob.glob(os.path.join(root, "examples", "**", "device-plugin*.json"), recursive=True)):
        rel = os.path.relpath(path, root)
        with open(path) as f:
            text = f.read()
        check_dp_config(a, text, rel)
        try:
            resources.update({r["name"]: r for r in json.loads(text).get("resources", [])})
        except (ValueError, AttributeError, KeyError):
            pass
    nads = objects(docs, "NetworkAttachmentDefinition")
    check(any(rel.startswith("manifests/") for rel, _ in nads), "manifests/ has a NetworkAttachmentDefinition")
    for rel, nad in nads:
        name = "%s: NetworkAttachmentDefinition %s" % (rel, nad["metadata"]["name"])
        res = nad["metadata"].get("annotations", {}).get("k8s.v1.cni.cncf.io/resourceName")
        check(res in resources and resources[res]["kind"] == "nic-vf",
              "%s: resourceName %s is a nic-vf resource of the device plugin's config" % (name, res))
        try:
            conf = json.loads(nad["spec"]["config"])
        except (KeyError, ValueError) as e:
            check(False, "%s: spec.config is JSON: %s" % (name, e))
            continue
        check(conf.get("name") == nad["metadata"]["name"], "%s: the network is named as the object" % name)
        for c in kyborg_confs(conf):
            check_cni_config(a, c, name, resources)
    for path in sorted(glob.glob(os.path.join(root, "examples", "**", "*.conf*"), recursive=True)):
        rel = os.path.relpath(path, root)
        with open(path) as f:
            try:
                conf = json.load(f)
            except ValueError as e:
                check(False, "%s is JSON: %s" % (rel, e))
                continue
        for c in kyborg_confs(conf):
            check_cni_config(a, c, rel, resources)
    # The pods ask for resources the device plugin offers.
    for rel, pod in objects(docs, "Pod", "examples/"):
        for c in pod["spec"].get("containers", []):
            for r in c.get("resources", {}).get("limits", {}):
                if r.startswith("kyborg.io/"):
                    check(r in resources, "%s: %s is a resource of the device plugin's config" % (rel, r))


# ---- manifests/dra/: kyborg-dra-driver ----

# What the driver does with the API server (dra/dra_publish.c: list and
# watch its slices, POST, PUT and DELETE them, never PATCH; dra/dra_claims_api.c:
# GET a claim; the publisher's GET of the Node for ownerReferences), and so
# exactly the RBAC it gets (dra-facts section 8).
DRA_RBAC = {
    ("resource.k8s.io", "resourceslices"): {"get", "list", "watch", "create", "update", "delete"},
    ("resource.k8s.io", "resourceclaims"): {"get"},
    ("", "nodes"): {"get"},
}
# Domains whose attributes a class may read beside the driver's own.
STANDARD_DOMAINS = ("resource.kubernetes.io", "k8s.cni.cncf.io")


def rbac_rules(docs, sa_name, ns):
    """Every rule bound to the ServiceAccount, by (group, resource)."""
    roles = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")): d
             for kind in ("ClusterRole", "Role") for _, d in objects(docs, kind)}
    rules = {}
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for _, b in objects(docs, kind):
            if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa_name and s.get("namespace", ns) == ns
                       for s in b.get("subjects", [])):
                continue
            ref = b["roleRef"]
            role = roles.get((ref["kind"], ref["name"], None if ref["kind"] == "ClusterRole" else
                              b["metadata"].get("namespace")))
            if not check(role is not None, "%s %s binds a role the manifests define: %s" % (
                    kind, b["metadata"]["name"], ref["name"])):
                continue
            for r in role.get("rules", []):
                for g in r.get("apiGroups", []):
                    for res in r.get("resources", []):
                        rules.setdefault((g, res), set()).update(r.get("verbs", []))
    return rules


def check_rbac(rules, what):
    check(rules == DRA_RBAC, "%s: the RBAC is exactly what the driver uses: %s" % (
        what, "; ".join("%s/%s: %s" % (g or "core", r, ",".join(sorted(v))) for (g, r), v in sorted(rules.items()))))


def published_attributes(root):
    """The attribute names dra/dra_attrs.c publishes, and the kind words."""
    with open(os.path.join(root, "dra", "dra_attrs.c")) as f:
        names = set(re.findall(r'add_(?:string|int|hex16)\(attrs, "([^"]+)"', f.read()))
    with open(os.path.join(root, "common", "src", "device", "device_list.c")) as f:
        m = re.search(r"dra_kinds\[\]\s*=\s*\{([^}]*)\}", f.read())
    kinds = set(re.findall(r'"([^"]+)"', m.group(1))) if m else set()
    with open(os.path.join(root, "dra", "dra_attrs.c")) as f:
        kinds |= set(re.findall(r'return "(pf)";', f.read()))
    return names, kinds


def check_cel(expr, what, driver, names, kinds):
    """The driver and the attributes a CEL expression names are ones the
    driver publishes; a kind compared is one of its kinds."""
    drivers = re.findall(r'device\.driver\s*==\s*"([^"]*)"', expr)
    ok = check(all(d == driver for d in drivers), "%s: device.driver is %s: %s" % (what, driver, drivers or "-"))
    refs = re.findall(r'device\.attributes\["([^"]+)"\](?:\.([A-Za-z_][A-Za-z0-9_]*)|\["([^"]+)"\])', expr)
    for domain, dotted, bracketed in refs:
        name = dotted or bracketed
        full = name if domain == driver else "%s/%s" % (domain, name)
        ok &= check(domain in (driver,) + STANDARD_DOMAINS and full in names,
                    "%s: attribute %s of domain %s is one the driver publishes" % (what, name, domain))
    for value in re.findall(r'\.kind\s*==\s*"([^"]*)"', expr):
        ok &= check(value in kinds, "%s: kind \"%s\" is one the driver publishes (%s)" % (
            what, value, ", ".join(sorted(kinds))))
    return ok


def dra_config(docs):
    """The ConfigMap as the overlay leaves it: the base's, its data keys
    replaced by the overlay's patch (a strategic merge of data)."""
    base = {d["metadata"]["name"]: copy.deepcopy(d) for _, d in base_objects(docs, "ConfigMap")}
    for _, d in objects(docs, "ConfigMap", "manifests/dra/"):
        name = d["metadata"]["name"]
        if name in base:
            base[name].setdefault("data", {}).update(d.get("data", {}))
        else:
            base[name] = d
    return base


def check_dra(root, a, docs):
    if not a.dra:
        print("skip: no --dra binary: manifests/dra/ not checked")
        return
    rel_k = "manifests/dra/kustomization.yaml"
    if not check(rel_k in docs, "%s exists" % rel_k):
        return
    dss = objects(docs, "DaemonSet", "manifests/dra/")
    if not check(len(dss) == 1, "manifests/dra/ has one DaemonSet"):
        return
    rel, ds = dss[0]
    spec = ds["spec"]["template"]["spec"]
    check_security(rel, spec)
    check(spec.get("securityContext", {}).get("seccompProfile", {}).get("type") == "RuntimeDefault",
          "%s: the pod runs under the runtime's default seccomp profile" % rel)
    check(spec.get("nodeSelector") == base_objects(docs, "DaemonSet")[0][1]["spec"]["template"]["spec"].get(
        "nodeSelector"), "%s: on the same nodes as kyborg-node" % rel)
    check(spec.get("hostNetwork") is True, "%s: in the host's network namespace (udev's events)" % rel)
    cs = {c["name"]: c for c in all_containers(spec)}
    drv = cs.get("dra-driver")
    if not check(drv is not None and len(cs) == 1, "%s: one container, dra-driver" % rel):
        return
    argv = drv.get("command", []) + drv.get("args", [])
    check(os.path.basename(argv[0]) == "kyborg-dra-driver", "%s runs kyborg-dra-driver" % rel)
    check(drv.get("securityContext", {}).get("capabilities", {}).get("add") == ["NET_ADMIN"],
          "%s: the driver adds NET_ADMIN alone (a claim's VfConfig sets its VF on the PF)" % rel)
    env = {e["name"]: e for e in drv.get("env", [])}
    check(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
          "%s: NODE_NAME is the pod's node (the pool's name)" % rel)
    # The directories: the driver's defaults (dra/dra.h, state/paths.h).
    paths_h = os.path.join(root, "common", "include", "kyborg", "state", "paths.h")
    driver = c_default(os.path.join(root, "dra", "dra.h"), "DRA_DEFAULT_DRIVER")
    sock = c_default(os.path.join(root, "dra", "dra.h"), "DRA_SOCKET")
    plugins = c_default(paths_h, "KY_KUBELET_PLUGINS_DEFAULT")
    dirs = {"--registration-dir": c_default(paths_h, "KY_KUBELET_PLUGINS_REGISTRY_DEFAULT"),
            "--plugin-dir": plugins + "/" + driver,
            "--cdi-dir": c_default(paths_h, "KY_CDI_DIR_DEFAULT"),
            "--state-dir": c_macro(paths_h, "KY_DRA_STATE_DIR_DEFAULT")}
    mounts = mounts_of(spec, drv)
    for opt, default in sorted(dirs.items()):
        if opt in argv:
            check(argv[argv.index(opt) + 1] == default, "%s: %s is the default %s" % (rel, opt, default))
        check_host_mount(rel + " dra-driver", mounts, default, default)
    for path in ("/dev", "/run/udev"):
        check_host_mount(rel + " dra-driver", mounts, path, path, writable=False)
    # A VfConfig's driver rebind writes driver_override, unbind and bind.
    check_host_mount(rel + " dra-driver", mounts, "/sys", "/sys", writable=True)
    probe = drv.get("livenessProbe", {}).get("exec", {}).get("command", [])
    check("alive-dra" in probe and dirs["--plugin-dir"] + "/" + sock in probe,
          "%s: the liveness probe looks at the DRA socket %s/%s" % (rel, dirs["--plugin-dir"], sock))
    # Its own account, with a token and exactly the RBAC it uses; the base's
    # account (the device plugin's) stays without one.
    sa = spec.get("serviceAccountName")
    ns = ds["metadata"].get("namespace")
    check(sa in [d["metadata"]["name"] for _, d in objects(docs, "ServiceAccount", "manifests/dra/")],
          "%s runs as the ServiceAccount manifests/dra/ defines: %s" % (rel, sa))
    check(spec.get("automountServiceAccountToken") is not False, "%s: its token is mounted (in-cluster)" % rel)
    rules = rbac_rules(docs, sa, ns)
    check_rbac(rules, "ServiceAccount %s" % sa)
    more = dict(rules)
    more[("resource.k8s.io", "resourceslices")] = rules.get(("resource.k8s.io", "resourceslices"), set()) | {"patch"}
    check(len(failures_of(check_rbac, more, "x")) == 1, "the RBAC check catches one verb too many")
    for _, base_sa in base_objects(docs, "ServiceAccount"):
        check(not rbac_rules(docs, base_sa["metadata"]["name"], base_sa["metadata"].get("namespace")),
              "the base's ServiceAccount %s has no role" % base_sa["metadata"]["name"])
    # The one ConfigMap, as overlaid: each binary's --check-config passes,
    # every resource goes to one of them, and each serves at least one.
    vol = mounts.get(os.path.dirname(argv[argv.index("--config") + 1]), ({}, {}))[0] if "--config" in argv else {}
    cm = dra_config(docs).get(vol.get("configMap", {}).get("name"))
    if check(cm is not None and "device-plugin.json" in cm.get("data", {}),
             "%s: --config is a key of a ConfigMap the manifests define" % rel):
        text = cm["data"]["device-plugin.json"]
        check_dp_config(a, text, "manifests/dra ConfigMap")
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write(text)
            f.flush()
            r = subprocess.run([a.dra, "--check-config", "--config", f.name, "--node-name", "node-a"],
                               capture_output=True, text=True)
            d = subprocess.run([a.dp, "--check-config", "--config", f.name], capture_output=True, text=True)
        check(r.returncode == 0, "manifests/dra ConfigMap passes kyborg-dra-driver --check-config: %s" % (
            (r.stdout + r.stderr).strip().replace(f.name, "FILE")))
        conf = json.loads(text)
        for res in conf["resources"]:
            mine_dp = re.search(r"^  %s: \d+ devices? \(\d+ with a driver\)$" % re.escape(res["name"]), d.stdout,
                                re.M) is not None
            mine_dra = "%s (%s): not served here: frontend devicePlugin" % (res["name"], res["kind"]) not in r.stdout
            check(mine_dp != mine_dra, "%s is served by exactly one front end (%s)" % (
                res["name"], "device plugin" if mine_dp else "DRA driver"))
        fronts = {res.get("frontend", "devicePlugin") for res in conf["resources"]}
        check(fronts == {"devicePlugin", "dra"},
              "the overlay gives resources to both front ends (the device plugin's liveness wants a socket)")
    # DeviceClasses: CEL over what the driver publishes.
    names, kinds = published_attributes(root)
    check(len(names) >= 15 and {"gpu", "fpga", "vf"} <= kinds,
          "the published attribute names (%d) and kinds (%s) are read from the sources" % (
              len(names), ", ".join(sorted(kinds))))
    classes = {}
    for crel, dc in objects(docs, "DeviceClass"):
        name = dc["metadata"]["name"]
        check(dc.get("apiVersion") == "resource.k8s.io/v1", "%s: DeviceClass %s is resource.k8s.io/v1" % (crel, name))
        exprs = [s["cel"]["expression"] for s in dc.get("spec", {}).get("selectors", []) if "cel" in s]
        check(bool(exprs), "%s: DeviceClass %s selects with CEL" % (crel, name))
        ok = all(check_cel(e, "%s: DeviceClass %s" % (crel, name), driver, names, kinds) for e in exprs)
        check(any('device.driver == "%s"' % driver in e for e in exprs),
              "%s: DeviceClass %s selects only the driver's devices" % (crel, name))
        classes[name] = ok
    check({"kyborg-gpu", "kyborg-fpga", "kyborg-vf"} <= set(classes),
          "DeviceClasses for GPUs, FPGAs and VFs: %s" % ", ".join(sorted(classes)))
    check(len(failures_of(check_cel, 'device.driver == "%s" && device.attributes["%s"].kinnd == "gpu"' % (
        driver, driver), "x", driver, names, kinds)) == 1, "the CEL check catches an attribute the driver lacks")
    check(len(failures_of(check_cel, 'device.driver == "%s" && device.attributes["%s"].kind == "nic-vf"' % (
        driver, driver), "x", driver, names, kinds)) == 1, "the CEL check catches a kind the driver lacks")
    # examples/dra: claims ask for those classes, pods for their claims.
    templates = {}
    for erel, t in objects(docs, "ResourceClaimTemplate", "examples/"):
        templates[t["metadata"]["name"]] = erel
        reqs = t["spec"]["spec"]["devices"]["requests"]
        for req in reqs:
            ex = req.get("exactly", {})
            check(ex.get("deviceClassName") in classes, "%s: request %s asks for a class manifests/dra defines: %s" % (
                erel, req["name"], ex.get("deviceClassName")))
            for s in ex.get("selectors", []):
                check_cel(s["cel"]["expression"], "%s: request %s" % (erel, req["name"]), driver, names, kinds)
        for c in t["spec"]["spec"]["devices"].get("constraints", []):
            attr = c.get("matchAttribute", "")
            check(attr in names or attr.split("/", 1)[-1] in names and attr.startswith(driver + "/"),
                  "%s: matchAttribute %s is an attribute the driver publishes" % (erel, attr))
            check(set(c.get("requests", [])) <= {r["name"] for r in reqs}, "%s: the constraint names its requests" % erel)
    check(len(templates) >= 3, "examples/dra/ has ResourceClaimTemplates for a GPU, an FPGA and a VF")
    for prel, pod in objects(docs, "Pod", "examples/dra/"):
        claims = {c["name"]: c for c in pod["spec"].get("resourceClaims", [])}
        for c in claims.values():
            check(templates.get(c.get("resourceClaimTemplateName")) == prel,
                  "%s: claim %s comes from a template in the same file" % (prel, c["name"]))
        for ctr in pod["spec"]["containers"]:
            for c in ctr.get("resources", {}).get("claims", []):
                check(c["name"] in claims, "%s: container %s uses the pod's claim %s" % (prel, ctr["name"], c["name"]))


# kubernetes-models (npm): the API's schemas, for every object the
# manifests and examples hold. Installed into the build tree once (a few
# seconds); skipped, saying why, without node 20+, npm or a registry.
KUBERNETES_MODELS = "kubernetes-models@5.1.0"


def models_install(cache):
    mod = os.path.join(cache, "node_modules", "kubernetes-models", "package.json")
    if os.path.exists(mod):
        with open(mod) as f:
            if json.load(f).get("version") == KUBERNETES_MODELS.rsplit("@", 1)[1]:
                return None
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            return "%s is not installed" % tool
    os.makedirs(cache, exist_ok=True)
    try:
        r = subprocess.run(["npm", "install", "--prefix", cache, "--no-audit", "--no-fund", "--no-save",
                            "--loglevel=error", KUBERNETES_MODELS], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "npm install %s timed out" % KUBERNETES_MODELS
    if r.returncode != 0:
        return "npm install %s failed (no registry?): %s" % (KUBERNETES_MODELS, r.stderr.strip()[-300:])
    return None


def models_validate(cache, items):
    r = subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_manifests_models.mjs"),
                        os.path.join(cache, "node_modules")], input=json.dumps(items), capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        return None, r.stderr.strip()[-500:]
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()], None


def check_models(a, docs):
    cache = os.path.join(a.build, "npm-models")
    why = models_install(cache)
    if why:
        print("skip: the kubernetes-models schema check: %s" % why)
        return
    items = [{"where": rel, "object": d} for rel, ds in sorted(docs.items()) for d in ds
             if isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and d["kind"] != "Kustomization"]
    res, err = models_validate(cache, items)
    if not check(res is not None, "kubernetes-models ran: %s" % (err or "ok")):
        return
    for r in res:
        if r.get("skip"):
            print("skip: %s: %s: %s" % (r["where"], r["kind"], r["skip"]))
            continue
        check(r["ok"], "%s: %s passes kubernetes-models' schema%s" % (r["where"], r["kind"],
                                                                    "" if r["ok"] else ": " + r["error"]))
    check(any(r.get("ok") and "DeviceClass" in r["kind"] for r in res), "kubernetes-models knows resource.k8s.io/v1")
    # The schema check itself can fail: a DeviceClass whose selectors are not a list.
    bad = [{"where": "x", "object": {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass",
                                     "metadata": {"name": "x"}, "spec": {"selectors": "all"}}}]
    res, _ = models_validate(cache, bad)
    check(bool(res) and res[0].get("ok") is False, "kubernetes-models refuses a DeviceClass with a bad field type")


def check_status_really_parses(a):
    """The checker itself: --check-config must refuse a near miss of a field
    and note a field it leaves aside, or a passing check above would prove
    nothing; STATUS, which needs neither, passes both."""
    bad = {"cniVersion": "1.1.0", "name": "n", "type": "kyborg", "device": "eth1", "vlna": 100}
    rc, out, _ = cni_check_config(a, bad)
    check(rc != 0 and "vlna: unknown field; did you mean vlan?" in out,
          "kyborg --check-config refuses a near miss, naming the field meant (%s)" % out.replace("\n", " "))
    aside = {"cniVersion": "1.1.0", "name": "n", "type": "kyborg", "device": "eth1", "someOtherPlugins": 1}
    rc, out, notes = cni_check_config(a, aside)
    check(rc == 0 and "someOtherPlugins" in notes,
          "kyborg --check-config notes a field it leaves aside (%s)" % (out + notes).replace("\n", " "))
    with tempfile.TemporaryDirectory() as scratch:
        rc, out = cni_status(a, bad, scratch)
    check(rc == 0, "CNI STATUS does not fail on a field it does not need (%s)" % out.replace("\n", " "))
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write('{ "resources": [ { "name": "kyborg.io/x", "kind": "tpu" } ] }')
        f.flush()
        r = subprocess.run([a.dp, "--check-config", "--config", f.name], capture_output=True, text=True)
    check(r.returncode != 0, "kyborg-device-plugin --check-config refuses a bad config")


def install_build(a, dest):
    """The build installed as into the image: DESTDIR=dest, prefix /usr."""
    r = subprocess.run(["cmake", "--install", a.build, "--prefix", "/usr"], capture_output=True, text=True,
                       env=dict(os.environ, DESTDIR=dest))
    if not check(r.returncode == 0, "cmake --install of the build into an image root"):
        print(r.stderr)
        return False
    return True


def check_installer(root, a):
    """manifests/kyborg-node.sh install, from a DESTDIR install of the build
    into a fake host: files land with their modes and no temp file is left."""
    with tempfile.TemporaryDirectory() as tmp:
        src, host = a.install_root, os.path.join(tmp, "host")
        os.makedirs(host + a.cni_bin_dir)
        with open(host + a.cni_bin_dir + "/kyborg", "w") as f:
            f.write("old")
        env = dict(os.environ, KYBORG_CNI_BIN_DIR=a.cni_bin_dir, KYBORG_DATA_DIR=a.data_dir)
        for _ in range(2):
            r = subprocess.run(["sh", os.path.join(root, "manifests", "kyborg-node.sh"), "install", src, host],
                               capture_output=True, text=True, env=env)
            if not check(r.returncode == 0, "kyborg-node install (twice): %s" % (r.stdout + r.stderr).strip()):
                return
        dst = host + a.cni_bin_dir + "/kyborg"
        with open(dst, "rb") as f1, open(src + a.cni_bin_dir + "/kyborg", "rb") as f2:
            check(f1.read() == f2.read(), "the host's %s/kyborg is the image's, replacing the old one" % a.cni_bin_dir)
        check(stat.S_IMODE(os.stat(dst).st_mode) == 0o755, "the CNI binary is mode 0755")
        want = sorted(os.path.relpath(os.path.join(d, f), src + a.data_dir)
                      for d, _, fs in os.walk(src + a.data_dir) for f in fs)
        got = sorted(os.path.relpath(os.path.join(d, f), host + a.data_dir)
                     for d, _, fs in os.walk(host + a.data_dir) for f in fs)
        check(got == want, "the data dir (BPF objects) is copied whole: %d files" % len(want))
        left = [os.path.join(d, f) for d, _, fs in os.walk(host) for f in fs if ".kyborg-new." in f]
        check(not left, "no temporary file is left: %s" % (left or "none"))
        with open(os.path.join(root, "manifests", "kyborg-node.sh")) as f:
            text = f.read()
        check('mv -f "$tmp"' in text and 'tmp="$dir/.' in text,
              "the installer writes a temp name in the target dir and renames it (atomic on one filesystem)")


def check_helper_verbs(root):
    """kyborg-node alive and apply-profile. kyborgctl is a stand-in script
    here (exit status as given), as the node's devices cannot be applied to."""
    import socket
    helper = os.path.join(root, "manifests", "kyborg-node.sh")
    with tempfile.TemporaryDirectory() as tmp:
        def run(*args, status=None):
            env = dict(os.environ, PATH=tmp + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
            if status is not None:
                with open(os.path.join(tmp, "kyborgctl"), "w") as f:
                    # Like kyborgctl: --changed-ok turns "changed" (3) into 0.
                    f.write('#!/bin/sh\ns=%d\ncase " $* " in *" --changed-ok "*) [ $s -eq 3 ] && s=0;; esac\nexit $s\n' % status)
                os.chmod(os.path.join(tmp, "kyborgctl"), 0o755)
            return subprocess.run(["sh", helper] + list(args), capture_output=True, text=True, env=env).returncode
        plugins = os.path.join(tmp, "plugins")
        os.makedirs(plugins)
        check(run("alive", plugins) != 0, "kyborg-node alive fails while no kyborg socket serves")
        s = socket.socket(socket.AF_UNIX)
        s.bind(os.path.join(plugins, "kyborg-kyborg.io_gpu.sock"))
        check(run("alive", plugins) == 0, "kyborg-node alive passes once a kyborg socket serves")
        s.close()
        dra_sock = os.path.join(tmp, "dra.sock")
        check(run("alive-dra", dra_sock) != 0, "kyborg-node alive-dra fails while the DRA socket is missing")
        s = socket.socket(socket.AF_UNIX)
        s.bind(dra_sock)
        check(run("alive-dra", dra_sock) == 0, "kyborg-node alive-dra passes while the DRA socket is there")
        s.close()
        profile = os.path.join(tmp, "node-profile.json")
        check(run("apply-profile", profile, status=1) == 0, "apply-profile without a profile does nothing")
        with open(profile, "w") as f:
            f.write("{}")
        check(run("apply-profile", profile, status=3) == 0,
              "apply-profile: kyborgctl's 'changed' is success (--changed-ok)")
        check(run("apply-profile", profile, status=4) == 4, "apply-profile: kyborgctl's 'refused' (4) fails the pod")


def check_node_profile(root, a):
    """The node profile passes kyborgctl's own parser: `plan` changes
    nothing; 0 (nothing to change) and 3 (changes to make) both mean the
    profile was understood. Skipped, saying so, where kyborgctl has no plan."""
    path = os.path.join(root, "manifests", "node-profile", "node-profile.json")
    help_text = subprocess.run([a.kyborgctl, "--help"], capture_output=True, text=True).stdout
    if not re.search(r"^\s+plan\b", help_text, re.M):
        print("skip: this kyborgctl has no plan: manifests/node-profile/node-profile.json not checked by it")
        return
    r = subprocess.run([a.kyborgctl, "plan", "-f", path], capture_output=True, text=True)
    check(r.returncode in (0, 3), "kyborgctl plan accepts manifests/node-profile/node-profile.json (exit %d)%s" % (
        r.returncode, "" if r.returncode in (0, 3) else ": " + (r.stdout + r.stderr).strip()))


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--source", "--build", "--dp", "--cni", "--cni-bin-dir", "--data-dir"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--prefix", default="/usr/local", help="the build's CMAKE_INSTALL_PREFIX")
    ap.add_argument("--kyborgctl", required=True)
    ap.add_argument("--cni-path", default="/usr/lib/cni")
    ap.add_argument("--dra", help="kyborg-dra-driver (manifests/dra/ is checked with it)")
    a = ap.parse_args()
    # The image (Containerfile) is built with prefix /usr: its data dir is
    # the build's with that prefix.
    a.image_data_dir = a.data_dir
    if a.data_dir.startswith(a.prefix.rstrip("/") + "/"):
        a.image_data_dir = "/usr" + a.data_dir[len(a.prefix.rstrip("/")):]
    root = a.source
    with tempfile.TemporaryDirectory() as image:
        a.install_root = image
        if not install_build(a, image):
            return 1
        docs = load_all(root)
        check_kustomizations(root, docs)
        dp_config = check_daemonset(root, a, docs)
        check_status_really_parses(a)
        check_networks(root, a, docs, dp_config)
        check_dra(root, a, docs)
        check_models(a, docs)
        check_installer(root, a)
        check_helper_verbs(root)
        check_node_profile(root, a)
    if FAILURES:
        print("\n%d checks failed:\n  %s" % (len(FAILURES), "\n  ".join(FAILURES)))
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
