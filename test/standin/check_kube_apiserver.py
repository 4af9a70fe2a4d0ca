#!/usr/bin/python3
"""Proves the kube-apiserver stand-in (kube_apiserver.py) against real
clients: the curl command (HTTPS, the bearer token, the CA) and, in
--client-node mode, @kubernetes/client-node (the official JavaScript client:
its ResourceV1Api, its Watch and its informer), run by node on
client_node_check.mjs. The texts expected here are the ones the real
kube-apiserver writes (k8s.io/apimachinery's field errors and Status objects).

Usage: check_kube_apiserver.py --mode curl|client-node --work DIR [--npm-cache DIR]
Exit 0: passed; 77: skipped (client-node mode without node/npm or without the
package and a registry to fetch it from), with the reason on stderr; 1: failed."""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "kube_apiserver.py")
CLIENT_NODE = "@kubernetes/client-node@1.4.0"  # 2.x needs Node 22 (undici 8); Debian 12's node is older
SKIP = 77
FAILS = []
PASSES = []


def check(cond, what):
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    (PASSES if cond else FAILS).append(what)
    return cond


class Standin:
    def __init__(self, work, gates=""):
        self.dir = tempfile.mkdtemp(prefix="kyapi", dir=work)
        self.certs = os.path.join(self.dir, "certs")
        self.tokens = os.path.join(self.dir, "tokens")
        subprocess.run(["/usr/bin/python3", SERVER, "--gen-certs", self.certs], check=True)
        with open(self.tokens, "w") as f:
            f.write("token-one\n")
        port_file = os.path.join(self.dir, "port")
        argv = ["/usr/bin/python3", SERVER, "--cert-dir", self.certs, "--token-file", self.tokens,
                "--port-file", port_file]
        if gates:
            argv += ["--feature-gates", gates]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        end = time.monotonic() + 15
        while not os.path.exists(port_file):
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError("the stand-in did not start")
            time.sleep(0.05)
        with open(port_file) as f:
            self.url = "https://127.0.0.1:%d" % int(f.read())
        self.ca = os.path.join(self.certs, "ca.crt")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def curl(s, method, path, token="token-one", body=None, extra=(), raw=False):
    """Runs curl (no shell); returns (http code, parsed body or text, headers)."""
    argv = ["curl", "-sS", "--cacert", s.ca, "-X", method, "-D", "-", "--max-time", "20"]
    if token is not None:
        argv += ["-H", "Authorization: Bearer " + token]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    argv += list(extra) + [s.url + path]
    r = subprocess.run(argv, capture_output=True)
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace").strip(), ""
    # Not text=True: universal newlines would eat the \r of the header end.
    head, _, text = r.stdout.decode(errors="replace").partition("\r\n\r\n")
    while head.startswith("HTTP/1.1 100"):
        head, _, text = text.partition("\r\n\r\n")
    code = int(head.split()[1])
    if raw:
        return code, text, head
    try:
        return code, json.loads(text), head
    except ValueError:
        return code, text, head


def control(s, what, method="POST"):
    return curl(s, method, "/_standin/" + what, token=None)


SLICES = "/apis/resource.k8s.io/v1/resourceslices"


def slice_obj(name=None, gen_name=None, node="node-a", driver="kyborg.io", devices=1, **spec_extra):
    meta = {"name": name} if name else {"generateName": gen_name}
    spec = {"driver": driver, "nodeName": node, "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
            "devices": [{"name": "gpu-%d" % i, "attributes": {"kind": {"string": "gpu"}, "index": {"int": i},
                                                              "resource.kubernetes.io/pcieRoot": {"string": "pci0000:00"}},
                         "capacity": {"memory": {"value": "80Gi"}}} for i in range(devices)]}
    spec.update(spec_extra)
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": meta, "spec": spec}


def invalid_case(s, name, mutate, want_message, want_field):
    obj = slice_obj(name=name)
    mutate(obj)
    code, body, _ = curl(s, "POST", SLICES, body=obj)
    ok = check(code == 422, "%s: 422 (got %s)" % (name, code))
    if ok:
        check(body.get("reason") == "Invalid" and body.get("kind") == "Status", "%s: a Status with reason Invalid" % name)
        check(body.get("message") == want_message, "%s: message %r (got %r)" % (name, want_message, body.get("message")))
        fields = [c.get("field") for c in body["details"]["causes"]]
        check(want_field in fields, "%s: a cause names %s (got %s)" % (name, want_field, fields))


def run_curl(work):
    s = Standin(work)
    try:
        # Auth: HTTPS with the CA only, the token re-read on every request.
        code, body, _ = curl(s, "GET", SLICES, token=None)
        check(code == 401 and body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                       "message": "Unauthorized", "reason": "Unauthorized", "code": 401},
              "no token: 401 with the real Status")
        check(curl(s, "GET", SLICES, token="wrong")[0] == 401, "a wrong token: 401")
        code, body, _ = curl(s, "GET", SLICES)
        check(code == 200 and body["kind"] == "ResourceSliceList" and body["items"] == [], "the token: 200, empty list")
        r = subprocess.run(["curl", "-sS", "--max-time", "5", s.url + SLICES], capture_output=True, text=True)
        check(r.returncode != 0, "curl without the CA refuses the server certificate")
        r = subprocess.run(["curl", "-sS", "--max-time", "5", "-H", "Authorization: Bearer token-one",
                            s.url.replace("https", "http") + SLICES], capture_output=True, text=True)
        check(r.returncode != 0, "plain HTTP gets no answer")
        log = control(s, "requests", "GET")[1]
        check(any(e.get("tls", "").startswith("handshake failed") for e in log), "the request log shows the plain-HTTP attempt")
        with open(s.tokens, "w") as f:
            f.write("token-two\n")
        check(curl(s, "GET", SLICES)[0] == 401, "rotated away: the old token gets 401")
        check(curl(s, "GET", SLICES, token="token-two")[0] == 200, "rotated: the new token works at once")
        with open(s.tokens, "w") as f:
            f.write("token-one\n")

        # Create with generateName, list with field selectors.
        code, a, head = curl(s, "POST", SLICES, body=dict(slice_obj(gen_name="node-a-kyborg.io-"), extra=1))
        check(code == 201 and a["metadata"]["name"].startswith("node-a-kyborg.io-") and
              len(a["metadata"]["name"]) == len("node-a-kyborg.io-") + 5, "generateName: 201, prefix + 5 characters")
        check(a["metadata"]["generation"] == 1 and a["metadata"]["uid"] and a["metadata"]["resourceVersion"],
              "uid, resourceVersion, generation 1")
        check('unknown field \\"extra\\"' in head, "an unknown field is dropped with a Warning header")
        check("extra" not in a, "the unknown field is not stored")
        code, b, _ = curl(s, "POST", SLICES, body=slice_obj(name="b", node="node-b"))
        check(code == 201, "a second slice on node-b")
        code, c, _ = curl(s, "POST", SLICES, body=slice_obj(name="c", driver="other.io"))
        code, lst, _ = curl(s, "GET", SLICES + "?fieldSelector=spec.nodeName%3Dnode-a%2Cspec.driver%3Dkyborg.io")
        check(code == 200 and [i["metadata"]["name"] for i in lst["items"]] == [a["metadata"]["name"]],
              "fieldSelector spec.nodeName,spec.driver selects one slice")
        check(int(lst["metadata"]["resourceVersion"]) >= int(c["metadata"]["resourceVersion"]),
              "the list's resourceVersion is the newest")
        check(curl(s, "POST", SLICES, body=slice_obj(name="b", node="node-b"))[1].get("reason") == "AlreadyExists",
              "the same name again: 409 AlreadyExists")
        code, body, _ = curl(s, "GET", SLICES + "?fieldSelector=spec.pool.name%3Dx")
        check(code == 400 and body["message"] == "field label not supported: spec.pool.name",
              "an unsupported field selector: 400")
        code, body, _ = curl(s, "GET", SLICES + "/nope")
        check(code == 404 and body["message"] == 'resourceslices.resource.k8s.io "nope" not found' and
              body["details"] == {"name": "nope", "group": "resource.k8s.io", "kind": "resourceslices"},
              "GET of a missing slice: 404 with the real Status")

        # Update: 409 on a stale resourceVersion, generation bumps on spec changes.
        name = a["metadata"]["name"]
        upd = json.loads(json.dumps(a))
        upd["spec"]["pool"]["generation"] = 2
        code, a2, _ = curl(s, "PUT", SLICES + "/" + name, body=upd)
        check(code == 200 and a2["metadata"]["generation"] == 2 and
              int(a2["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"]),
              "PUT with the current resourceVersion: 200, generation 2, a new resourceVersion")
        code, body, _ = curl(s, "PUT", SLICES + "/" + name, body=upd)
        check(code == 409 and body["reason"] == "Conflict" and body["message"] ==
              'Operation cannot be fulfilled on resourceslices.resource.k8s.io "%s": the object has been modified; '
              'please apply your changes to the latest version and try again' % name, "a stale PUT: 409 Conflict")
        code, same, _ = curl(s, "PUT", SLICES + "/" + name, body=a2)
        check(code == 200 and same["metadata"]["resourceVersion"] == a2["metadata"]["resourceVersion"],
              "a no-op PUT writes nothing")
        imm = json.loads(json.dumps(a2))
        imm["spec"]["driver"] = "other.io"
        code, body, _ = curl(s, "PUT", SLICES + "/" + name, body=imm)
        check(code == 422 and 'spec.driver: Invalid value: "other.io": field is immutable' in body["message"],
              "the driver is immutable")
        q = json.loads(json.dumps(a2))
        q["spec"]["devices"][0]["capacity"]["memory"]["value"] = "81920Mi"
        code, body, _ = curl(s, "PUT", SLICES + "/" + name, body=q)
        check(code == 200 and body["spec"]["devices"][0]["capacity"]["memory"]["value"] == "80Gi",
              "a quantity comes back canonical (81920Mi is stored as 80Gi)")

        # Server-side validation, texts as the real server writes them.
        invalid_case(s, "too-many", lambda o: o["spec"].update(devices=[{"name": "d%d" % i} for i in range(129)]),
                     'ResourceSlice.resource.k8s.io "too-many" is invalid: spec.devices: Too many: 129: must have at most 128 items',
                     "spec.devices")
        invalid_case(s, "too-many-tainted", lambda o: o["spec"].update(
            devices=[{"name": "d%d" % i, "taints": [{"key": "k", "effect": "NoSchedule"}]} for i in range(65)]),
            'ResourceSlice.resource.k8s.io "too-many-tainted" is invalid: spec.devices: Too many: 65: must have at most 64 items',
            "spec.devices")
        invalid_case(s, "dup", lambda o: o["spec"].update(devices=[{"name": "d0"}, {"name": "d0"}]),
                     'ResourceSlice.resource.k8s.io "dup" is invalid: spec.devices[1]: Duplicate value: "d0"',
                     "spec.devices[1]")
        invalid_case(s, "badname", lambda o: o["spec"]["devices"][0].update(name="GPU_0"),
                     'ResourceSlice.resource.k8s.io "badname" is invalid: spec.devices[0].name: Invalid value: "GPU_0": '
                     "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                     "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')", "spec.devices[0].name")
        invalid_case(s, "long-string", lambda o: o["spec"]["devices"][0]["attributes"].update(kind={"string": "x" * 65}),
                     'ResourceSlice.resource.k8s.io "long-string" is invalid: spec.devices[0].attributes[kind].string: '
                     "Too long: may not be more than 64 bytes", "spec.devices[0].attributes[kind].string")
        invalid_case(s, "two-values", lambda o: o["spec"]["devices"][0]["attributes"].update(kind={"string": "a", "int": 1}),
                     'ResourceSlice.resource.k8s.io "two-values" is invalid: spec.devices[0].attributes[kind]: '
                     'Invalid value: {"int":1,"string":"a"}: exactly one value must be specified',
                     "spec.devices[0].attributes[kind]")
        invalid_case(s, "attr-name", lambda o: o["spec"]["devices"][0]["attributes"].update({"9lives": {"int": 9}}),
                     'ResourceSlice.resource.k8s.io "attr-name" is invalid: spec.devices[0].attributes: Invalid value: '
                     "\"9lives\": a valid C identifier must start with alphabetic character or '_', followed by a "
                     "string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex "
                     "used for validation is '[A-Za-z_][A-Za-z0-9_]*')", "spec.devices[0].attributes")
        invalid_case(s, "attr-33", lambda o: o["spec"]["devices"][0]["attributes"].update(
            {"a%d" % i: {"int": i} for i in range(31)}),
            'ResourceSlice.resource.k8s.io "attr-33" is invalid: spec.devices[0]: Invalid value: 35: the total number '
            "of attributes and capacities must not exceed 32", "spec.devices[0]")
        invalid_case(s, "no-node", lambda o: o["spec"].pop("nodeName"),
                     'ResourceSlice.resource.k8s.io "no-node" is invalid: spec: Required value: exactly one of '
                     "`nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required", "spec")
        invalid_case(s, "two-nodes", lambda o: o["spec"].update(allNodes=True),
                     'ResourceSlice.resource.k8s.io "two-nodes" is invalid: spec: Invalid value: "{`nodeName`, '
                     '`allNodes`}": exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` '
                     "is required, but multiple fields are set", "spec")
        invalid_case(s, "no-driver", lambda o: o["spec"].pop("driver"),
                     'ResourceSlice.resource.k8s.io "no-driver" is invalid: [spec.driver: Required value, spec.driver: '
                     "Invalid value: \"\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                     "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                     "'example.com', regex used for validation is "
                     "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')]", "spec.driver")
        invalid_case(s, "count0", lambda o: o["spec"]["pool"].update(resourceSliceCount=0),
                     'ResourceSlice.resource.k8s.io "count0" is invalid: spec.pool.resourceSliceCount: Invalid value: '
                     "0: must be greater than zero", "spec.pool.resourceSliceCount")
        invalid_case(s, "domain", lambda o: o["spec"]["devices"][0]["attributes"].update({"/x": {"int": 1}}),
                     'ResourceSlice.resource.k8s.io "domain" is invalid: spec.devices[0].attributes: Invalid value: "": '
                     "the domain must not be empty", "spec.devices[0].attributes")
        invalid_case(s, "policy", lambda o: o["spec"]["devices"][0]["capacity"]["memory"].update(
            requestPolicy={"default": "1Gi"}),
            'ResourceSlice.resource.k8s.io "policy" is invalid: spec.devices[0].capacity[memory].requestPolicy: '
            "Forbidden: allowMultipleAllocations must be true", "spec.devices[0].capacity[memory].requestPolicy")
        code, body, _ = curl(s, "POST", SLICES, body={"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
                                                      "metadata": {}, "spec": slice_obj(name="x")["spec"]})
        check(code == 422 and body["message"] == 'ResourceSlice.resource.k8s.io "" is invalid: metadata.name: Required '
              "value: name or generateName is required", "no name and no generateName: 422 naming metadata.name")
        code, body, _ = curl(s, "POST", SLICES, body=dict(slice_obj(name="t"), spec=dict(slice_obj(name="t")["spec"],
                                                                                          pool={"generation": "1"})))
        check(code == 400 and body["reason"] == "BadRequest", "a string where a number belongs: 400")
        ok = slice_obj(name="shared", devices=1)
        ok["spec"]["devices"][0].update(allowMultipleAllocations=True, taints=[{"key": "kyborg.io/unhealthy", "effect": "NoSchedule"}])
        ok["spec"]["devices"][0]["capacity"]["memory"]["requestPolicy"] = {
            "default": "1Gi", "validRange": {"min": "1Gi", "step": "1Gi"}}
        code, body, _ = curl(s, "POST", SLICES, body=ok)
        check(code == 201 and body["spec"]["devices"][0].get("allowMultipleAllocations") is True and
              body["spec"]["devices"][0].get("taints"), "consumable capacity and a taint are accepted")

        # Delete with preconditions, deletecollection by field selector.
        code, body, _ = curl(s, "DELETE", SLICES + "/b", body={"preconditions": {"uid": "not-it"}})
        check(code == 409 and "Precondition failed: UID in precondition: not-it" in body["message"],
              "DELETE with a wrong uid precondition: 409")
        code, body, _ = curl(s, "DELETE", SLICES + "/b", body={"preconditions": {"uid": b["metadata"]["uid"]}})
        check(code == 200 and body["metadata"]["name"] == "b", "DELETE returns the deleted slice")
        code, body, _ = curl(s, "DELETE", SLICES + "?fieldSelector=spec.nodeName%3Dnode-a%2Cspec.driver%3Dkyborg.io")
        check(code == 200 and body["kind"] == "ResourceSliceList" and len(body["items"]) == 2,
              "deletecollection by spec.nodeName and spec.driver removes both of node-a's kyborg.io slices")
        check([i["metadata"]["name"] for i in curl(s, "GET", SLICES)[1]["items"]] == ["c"], "only other.io's slice is left")

        # Watch: events since a resourceVersion, 410 Expired after compaction.
        rv = curl(s, "GET", SLICES)[1]["metadata"]["resourceVersion"]
        curl(s, "POST", SLICES, body=slice_obj(name="w1"))
        curl(s, "DELETE", SLICES + "/w1")
        code, text, _ = curl(s, "GET", SLICES + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv, raw=True)
        events = [json.loads(line) for line in text.splitlines() if line.strip()] if code == 200 else []
        check([e["type"] for e in events] == ["ADDED", "DELETED"] and events[0]["object"]["metadata"]["name"] == "w1",
              "a watch from a resourceVersion replays ADDED then DELETED, newline-delimited")

        # Metadata only, as client-go's metadata client asks for it.
        as_list = ["-H", "Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"]
        as_one = ["-H", "Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"]
        code, ml, _ = curl(s, "GET", SLICES, extra=as_list)
        check(code == 200 and ml["kind"] == "PartialObjectMetadataList" and ml["apiVersion"] == "meta.k8s.io/v1" and
              [(i["kind"], i["metadata"]["name"], "spec" in i) for i in ml["items"]] == [("PartialObjectMetadata", "c", False)]
              and ml["metadata"]["resourceVersion"], "as=PartialObjectMetadataList: a list of metadata only")
        code, mo, _ = curl(s, "GET", SLICES + "/c", extra=as_one)
        check(code == 200 and mo["kind"] == "PartialObjectMetadata" and "spec" not in mo and
              mo["metadata"]["uid"] == c["metadata"]["uid"], "as=PartialObjectMetadata: one object's metadata")
        code, body, _ = curl(s, "GET", SLICES, extra=as_one)
        check(code == 406 and body["reason"] == "NotAcceptable" and body["message"] ==
              "you requested PartialObjectMetadata, but the requested object is a list (*resource.ResourceSliceList)",
              "a list asked as one object: 406 NotAcceptable")
        code, body, _ = curl(s, "GET", SLICES + "/c", extra=["-H", "Accept: application/json;as=Table;g=meta.k8s.io;v=v1,"
                                                                   "application/json"])
        check(code == 200 and body["kind"] == "ResourceSlice", "an as= it cannot serve (Table) is passed over")
        code, text, _ = curl(s, "GET", SLICES + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv, raw=True, extra=as_one)
        events = [json.loads(line) for line in text.splitlines() if line.strip()] if code == 200 else []
        check([(e["type"], e["object"]["kind"], "spec" in e["object"]) for e in events] ==
              [("ADDED", "PartialObjectMetadata", False), ("DELETED", "PartialObjectMetadata", False)],
              "a watch as=PartialObjectMetadata: events of metadata only")
        log = control(s, "requests", "GET")[1]
        check(any(e.get("accept", "").startswith("application/json;as=PartialObjectMetadata;") for e in log),
              "the request log shows the Accept header")
        control(s, "compact")
        code, text, _ = curl(s, "GET", SLICES + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv, raw=True)
        events = [json.loads(line) for line in text.splitlines() if line.strip()] if code == 200 else []
        check(code == 200 and len(events) == 1 and events[0]["type"] == "ERROR" and
              events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired" and
              events[0]["object"]["message"].startswith("too old resource version: %s (" % rv),
              "a watch from before the compaction: an ERROR event with the 410 Expired Status")
        control(s, "expired-as-http?on=1")
        code, body, _ = curl(s, "GET", SLICES + "?watch=1&resourceVersion=" + rv)
        check(code == 410 and body["reason"] == "Expired", "expired-as-http: the same as an HTTP 410")

        # Claims: the status through /status only; finalizers keep a deleted claim.
        claims = "/apis/resource.k8s.io/v1/namespaces/ns1/resourceclaims"
        claim = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                 "metadata": {"name": "cl", "finalizers": ["resource.kubernetes.io/delete-protection"]},
                 "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "kyborg-gpu"}}]}},
                 "status": {"allocation": {}}}
        code, cl, _ = curl(s, "POST", claims, body=claim)
        check(code == 201 and "status" not in cl and cl["metadata"]["namespace"] == "ns1", "a claim is created without status")
        cl["status"] = {"allocation": {"devices": {"results": [{"request": "gpu", "driver": "kyborg.io",
                                                                 "pool": "node-a", "device": "gpu-0"}]}}}
        code, cl2, _ = curl(s, "PUT", claims + "/cl/status", body=cl)
        check(code == 200 and cl2["status"]["allocation"]["devices"]["results"][0]["device"] == "gpu-0",
              "PUT .../status sets the allocation")
        cl2["spec"]["devices"]["requests"][0]["name"] = "other"
        code, body, _ = curl(s, "PUT", claims + "/cl", body=cl2)
        check(code == 422 and body["details"]["causes"][0]["field"] == "spec", "a claim's spec is immutable")
        code, body, _ = curl(s, "DELETE", claims + "/cl")
        check(code == 200 and body["metadata"].get("deletionTimestamp"), "deleting a claim with a finalizer marks it")
        got = curl(s, "GET", claims + "/cl")[1]
        got["metadata"]["finalizers"] = []
        check(curl(s, "PUT", claims + "/cl", body=got)[0] == 200, "removing the finalizer")
        check(curl(s, "GET", claims + "/cl")[0] == 404, "... deletes it")
        check(curl(s, "GET", "/apis/resource.k8s.io/v1/resourceclaims")[0] == 200, "claims of all namespaces list")

        # Faults for the driver's error paths.
        control(s, "fail?code=503&method=PUT&count=1&retry_after=1")
        code, body, head = curl(s, "PUT", SLICES + "/c", body=curl(s, "GET", SLICES + "/c")[1])
        check(code == 503 and "Retry-After: 1" in head, "an injected 503 with Retry-After")
        check(curl(s, "PUT", SLICES + "/c", body=curl(s, "GET", SLICES + "/c")[1])[0] == 200, "... once")
    finally:
        s.stop()


def npm_install(cache):
    """@kubernetes/client-node into CACHE/node_modules, once."""
    mod = os.path.join(cache, "node_modules", "@kubernetes", "client-node", "package.json")
    if os.path.exists(mod):
        with open(mod) as f:
            if json.load(f).get("version") == CLIENT_NODE.rsplit("@", 1)[1]:
                return None
    if not shutil.which("npm"):
        return "npm is not installed: this check needs node 20 or newer and npm (e.g. the nodejs package with npm)"
    os.makedirs(cache, exist_ok=True)
    r = subprocess.run(["npm", "install", "--prefix", cache, "--no-audit", "--no-fund", "--no-save",
                        "--loglevel=error", CLIENT_NODE], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return "npm install %s failed (no registry?): %s" % (CLIENT_NODE, r.stderr.strip()[-500:])
    return None


def run_client_node(work, cache):
    if not shutil.which("node"):
        print("SKIP: node is not installed: this check needs node 20 or newer and npm", file=sys.stderr)
        return SKIP
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < 20:
        # client-node 1.4's Watch uses AbortSignal.any (Node 20.3).
        print("SKIP: node %s is older than 20, which %s needs" % (version, CLIENT_NODE), file=sys.stderr)
        return SKIP
    why = npm_install(cache)
    if why:
        print("SKIP: " + why, file=sys.stderr)
        return SKIP
    s = Standin(work)
    try:
        env = dict(os.environ, NODE_PATH=os.path.join(cache, "node_modules"), STANDIN_URL=s.url,
                   STANDIN_CA=s.ca, STANDIN_TOKEN_FILE=s.tokens)
        r = subprocess.run(["node", os.path.join(HERE, "client_node_check.mjs"), os.path.join(cache, "node_modules")],
                           env=env, timeout=120, capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        check(r.returncode == 0, "client_node_check.mjs passed (exit %d)" % r.returncode)
    finally:
        s.stop()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("curl", "client-node"), required=True)
    ap.add_argument("--work", default=tempfile.gettempdir())
    ap.add_argument("--npm-cache")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if a.mode == "curl":
        if not shutil.which("curl"):
            print("FAIL: the curl command is missing (scripts/install-deps.sh installs it)")
            return 1
        run_curl(a.work)
    else:
        rc = run_client_node(a.work, a.npm_cache or os.path.join(a.work, "npm"))
        if rc == SKIP:
            return SKIP
    print("check_kube_apiserver: %d passed, %d failed" % (len(PASSES), len(FAILS)))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
