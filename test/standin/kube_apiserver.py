#!/usr/bin/python3
"""A STAND-IN FOR KUBE-APISERVER, not kube-apiserver: the part of it a DRA
driver talks to, for kyborg's tests (Debian ships no kube-apiserver and none
is reachable from the test machines). Python standard library only.

Written from the real API and server code (kubernetes/kubernetes master of
mid 2026 and the k8s.io/api, k8s.io/apimachinery v0.36.3 releases):
  k8s.io/api/resource/v1/types.go                     ResourceSlice, ResourceClaim,
                                                      DeviceClass: JSON shapes, limits
  pkg/apis/resource/validation/validation.go          ResourceSlice validation, word for word
  pkg/registry/resource/resourceslice/strategy.go     generation bumps, field selectors,
                                                      fields dropped when a feature gate is off
  pkg/registry/resource/resourceslice/storage/storage.go  DELETE returns the object
  k8s.io/apimachinery/pkg/util/validation/field/errors.go  error texts and cause types
  k8s.io/apimachinery/pkg/api/errors/errors.go        Status objects: 401 404 409 410 422
  k8s.io/apimachinery/pkg/api/validation/objectmeta.go    name / generateName
  k8s.io/apiserver/pkg/storage/names/generate.go      generateName + 5 random characters
  k8s.io/apiserver/pkg/storage/cacher/{cacher,watch_cache}.go
                                                      watch from a resourceVersion; a too old
                                                      one ends in an ERROR event carrying a
                                                      410 Expired Status ("too old resource
                                                      version: N (M)"), not an HTTP 410
  k8s.io/apiserver/pkg/endpoints/handlers/response.go  Accept "...;as=PartialObjectMetadata[List];
                                                      g=meta.k8s.io;v=v1": metadata only (client-go's
                                                      metadata client), 406 NotAcceptable for a list
                                                      asked as one object or the reverse
What it serves (HTTPS only, HTTP/1.1, JSON):
  /apis/resource.k8s.io/v1/resourceslices[/NAME]            cluster-scoped
  /apis/resource.k8s.io/v1/deviceclasses[/NAME]             cluster-scoped
  /apis/resource.k8s.io/v1/namespaces/NS/resourceclaims[/NAME[/status]]
  /apis/resource.k8s.io/v1/resourceclaims                   list/watch in all namespaces
  /api/v1/nodes[/NAME[/status]]
  GET (get, list, ?watch=1), POST, PUT, PATCH (merge patch), DELETE,
  DELETE on a collection (deletecollection); /version, /healthz, discovery.
  List: fieldSelector (resourceslices: spec.nodeName, spec.driver,
  metadata.name; others metadata.name[, metadata.namespace]), labelSelector
  (equality), limit and continue. Watch: resourceVersion (unset/"0": the
  current objects as ADDED first), allowWatchBookmarks, sendInitialEvents,
  timeoutSeconds; newline-delimited {"type","object"} over chunked encoding;
  an object leaving the field selector arrives as DELETED, entering as ADDED.
  Metadata only (get, list, watch) when the first JSON clause of Accept asks
  as=PartialObjectMetadata (get, watch) or as=PartialObjectMetadataList (list)
  with g=meta.k8s.io, v=v1; other as= clauses (Table, other groups) are
  passed over, as the real negotiation does for targets it cannot serve.
  resourceVersion: one counter for everything, as etcd's revision.
  Update: 409 Conflict on a stale metadata.resourceVersion (none given:
  unconditional); status only through /status for claims and nodes; a no-op
  update writes nothing. Delete: preconditions (uid, resourceVersion),
  finalizers (deletionTimestamp first, gone when the last finalizer goes).
  Unknown fields of a ResourceSlice are dropped with a Warning header, as the
  real server's decoder does.
What it does not do: HTTP/2 (ALPN offers http/1.1 only),
authorization (every valid token may do anything),
namespaces as objects, admission, server-side apply, protobuf, field
selectors beyond those above, consistent snapshots for old resourceVersions.

Auth: "Authorization: Bearer TOKEN", TOKEN one of the lines of --token-file,
re-read on every request (tests rotate it). No or a wrong token: 401.

Usage:
  kube_apiserver.py --gen-certs DIR     writes DIR/ca.crt, ca.key, server.crt,
                                        server.key (CN kube-apiserver, SAN
                                        127.0.0.1, ::1, localhost) with openssl, exits
  kube_apiserver.py --cert-dir DIR --token-file FILE [--port 0] [--address 127.0.0.1]
      [--port-file FILE] [--feature-gates DRADeviceTaints=false,...]
      [--anonymous-auth] [--bookmark-interval S] [--watch-timeout S]
  On start it prints "listening on https://ADDRESS:PORT" (and writes the port
  to --port-file). SIGTERM or SIGINT stops it.
Feature gates (all on unless turned off; the server drops the fields of a
gate that is off, as strategy.go does): DRADeviceTaints (devices[].taints),
DRAConsumableCapacity (allowMultipleAllocations, capacity requestPolicy),
DRAPartitionableDevices (sharedCounters, consumesCounters, perDeviceNodeSelection,
device node fields), DRADeviceBindingConditions (bindsToNode,
bindingConditions, bindingFailureConditions), DRAListTypeAttributes
(ints/bools/strings/versions).

Control endpoints for tests (no token needed; JSON replies):
  POST /_standin/compact[?rv=N]      history before N (default: now) is gone:
                                     watches and continue tokens from before it expire
  POST /_standin/close-watches       ends every open watch cleanly (terminating chunk)
  POST /_standin/bookmark            a BOOKMARK to every watch that allows them
  POST /_standin/fail?code=C[&method=M][&path=REGEX][&count=N][&reason=R][&retry_after=S][&close=1]
                                     the next N (default 1) matching requests get
                                     Status code C (close=1: the connection is closed
                                     without an answer instead)
  POST /_standin/delay?seconds=S[&method=M][&path=REGEX][&count=N][&after=1]
                                     the next N matching requests are held S seconds
                                     before they are served (after=1: served at once,
                                     their answer held S seconds, as a slow network
                                     would: a watch may report the change first)
  POST /_standin/pause?seconds=S     for S seconds every non-control request is
                                     answered by closing the connection
  POST /_standin/expired-as-http?on=1  a too old watch resourceVersion is answered with
                                     HTTP 410 instead of the real ERROR event
  POST /_standin/reset               forget all objects, faults and the request log
  GET  /_standin/requests            the request log: [{method, path, query, auth,
                                     code, tls, accept}] (auth: ok, missing, bad)
  DELETE /_standin/requests          clears it
  GET  /_standin/state               {"resourceVersion", "compacted", "watches"}"""
import argparse
import base64
import copy
import datetime
import decimal
import http.server
import json
import os
import random
import re
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

GROUP = "resource.k8s.io"
VERSION = "v1"

# Resource table: path name -> what the registry knows about it.
RESOURCES = {
    "resourceslices": {"group": GROUP, "kind": "ResourceSlice", "namespaced": False, "status": False,
                       "fields": ("metadata.name", "spec.nodeName", "spec.driver")},
    "deviceclasses": {"group": GROUP, "kind": "DeviceClass", "namespaced": False, "status": False,
                      "fields": ("metadata.name",)},
    "resourceclaims": {"group": GROUP, "kind": "ResourceClaim", "namespaced": True, "status": True,
                       "fields": ("metadata.name", "metadata.namespace")},
    "nodes": {"group": "", "kind": "Node", "namespaced": False, "status": True, "fields": ("metadata.name",)},
}
GATES = ("DRADeviceTaints", "DRAConsumableCapacity", "DRAPartitionableDevices", "DRADeviceBindingConditions",
         "DRAListTypeAttributes")


def api_version(res):
    g = RESOURCES[res]["group"]
    return "%s/%s" % (g, VERSION) if g else "v1"


def qualified(res):
    """schema.GroupResource.String(): resourceslices.resource.k8s.io, nodes."""
    g = RESOURCES[res]["group"]
    return "%s.%s" % (res, g) if g else res


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------
# Status objects (k8s.io/apimachinery/pkg/api/errors)

def status(code, reason, message, details=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
          "reason": reason, "code": code}
    if details is not None:
        st["details"] = details
    return st


def st_not_found(res, name):
    return status(404, "NotFound", '%s "%s" not found' % (qualified(res), name),
                  {"name": name, "group": RESOURCES[res]["group"], "kind": res})


def st_already_exists(res, name):
    return status(409, "AlreadyExists", '%s "%s" already exists' % (qualified(res), name),
                  {"name": name, "group": RESOURCES[res]["group"], "kind": res})


def st_conflict(res, name, why):
    return status(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' % (qualified(res), name, why),
                  {"name": name, "group": RESOURCES[res]["group"], "kind": res})


STALE = "the object has been modified; please apply your changes to the latest version and try again"


def st_expired(message):
    return status(410, "Expired", message)


def st_not_acceptable(message):
    # handlers/response.go errNotAcceptable
    return status(406, "NotAcceptable", message)


META_GV = "meta.k8s.io/v1"


def partial_target(accept):
    """The metadata-only conversion the Accept header asks for, or None: the
    first application/json clause decides; an as= for a group/version or kind
    the stand-in cannot serve (Table, meta.k8s.io/v1beta1) is passed over."""
    for clause in (accept or "").split(","):
        parts = [p.strip() for p in clause.split(";")]
        if parts[0] not in ("application/json", "application/*", "*/*"):
            continue
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        target = params.get("as")
        if not target:
            return None
        if target in ("PartialObjectMetadata", "PartialObjectMetadataList") and \
                params.get("g") == "meta.k8s.io" and params.get("v", "v1") == "v1":
            return target
    return None


def go_package(res):
    """The internal API package a message names a type by: *resource.ResourceSlice, *core.Node."""
    return (RESOURCES[res]["group"] or "core").split(".")[0]


def as_partial(obj):
    """meta.AsPartialObjectMetadata: the object's metadata under meta.k8s.io/v1."""
    return {"kind": "PartialObjectMetadata", "apiVersion": META_GV, "metadata": copy.deepcopy(obj.get("metadata") or {})}


def st_bad_request(message):
    return status(400, "BadRequest", message)


def st_unauthorized():
    return status(401, "Unauthorized", "Unauthorized")


# ---------------------------------------------------------------------------
# Field errors (k8s.io/apimachinery/pkg/util/validation/field/errors.go)

OMIT = object()
TYPE_STR = {"FieldValueNotFound": "Not found", "FieldValueRequired": "Required value",
            "FieldValueDuplicate": "Duplicate value", "FieldValueInvalid": "Invalid value",
            "FieldValueNotSupported": "Unsupported value", "FieldValueForbidden": "Forbidden",
            "FieldValueTooLong": "Too long", "FieldValueTooMany": "Too many"}


def go_quote(s):
    return json.dumps(s, ensure_ascii=False)


class FieldError:
    def __init__(self, type_, field, bad=OMIT, detail=""):
        self.type, self.field, self.bad, self.detail = type_, field, bad, detail

    def body(self):
        t = TYPE_STR[self.type]
        if self.type in ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong") or self.bad is OMIT:
            s = t
        elif isinstance(self.bad, bool):
            s = "%s: %s" % (t, "true" if self.bad else "false")
        elif isinstance(self.bad, int):
            s = "%s: %d" % (t, self.bad)
        elif isinstance(self.bad, str):
            s = "%s: %s" % (t, go_quote(self.bad))
        else:
            s = "%s: %s" % (t, json.dumps(self.bad, separators=(",", ":")))
        if self.detail:
            s += ": " + self.detail
        return s

    def __str__(self):
        return "%s: %s" % (self.field, self.body())


def required(f, detail=""):
    return FieldError("FieldValueRequired", f, "", detail)


def invalid(f, bad, detail):
    return FieldError("FieldValueInvalid", f, bad, detail)


def too_long(f, n):
    return FieldError("FieldValueTooLong", f, "<value omitted>", "may not be more than %d byte%s" % (n, "" if n == 1 else "s"))


def too_many(f, actual, n):
    return FieldError("FieldValueTooMany", f, actual, "must have at most %d item%s" % (n, "" if n == 1 else "s"))


def duplicate(f, bad):
    return FieldError("FieldValueDuplicate", f, bad)


def forbidden(f, detail):
    return FieldError("FieldValueForbidden", f, OMIT, detail)


def not_supported(f, bad, valid):
    return FieldError("FieldValueNotSupported", f, bad, "supported values: " + ", ".join(go_quote(v) for v in valid))


def st_invalid(kind, group, name, errs):
    """apierrors.NewInvalid."""
    seen, msgs = set(), []
    for e in errs:
        if str(e) not in seen:
            seen.add(str(e))
            msgs.append(str(e))
    agg = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    gk = "%s.%s" % (kind, group) if group else kind
    return status(422, "Invalid", '%s "%s" is invalid: %s' % (gk, name, agg),
                  {"name": name, "group": group, "kind": kind,
                   "causes": [{"reason": e.type, "message": e.body(), "field": e.field} for e in errs]})


# ---------------------------------------------------------------------------
# Format checks (k8s.io/apimachinery/pkg/util/validation, .../api/validate/content)

LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SUBDOMAIN_FMT = LABEL_FMT + "(\\." + LABEL_FMT + ")*"
CID_FMT = "[A-Za-z_][A-Za-z0-9_]*"
KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
VALUE_FMT = "(" + KEY_FMT + ")?"


def regex_error(msg, fmt, *examples):
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    msg += " (e.g. "
    for i, ex in enumerate(examples):
        if i:
            msg += " or "
        msg += "'" + ex + "', "
    return msg + "regex used for validation is '" + fmt + "')"


def full(fmt, s):
    return re.fullmatch(fmt, s) is not None


def is_dns_label(v):
    errs = []
    if len(v) > 63:
        errs.append("must be no more than 63 characters")
    if not full(LABEL_FMT, v):
        if full(SUBDOMAIN_FMT, v):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                                    "or '-', and must start and end with an alphanumeric character",
                                    LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns_subdomain(v):
    errs = []
    if len(v) > 253:
        errs.append("must be no more than 253 characters")
    if not full(SUBDOMAIN_FMT, v):
        errs.append(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                                "'-' or '.', and must start and end with an alphanumeric character",
                                SUBDOMAIN_FMT, "example.com"))
    return errs


def is_c_identifier(v):
    if not full(CID_FMT, v):
        return [regex_error("a valid C identifier must start with alphabetic character or '_', followed by a string "
                            "of alphanumeric characters or '_'", CID_FMT, "my_name", "MY_NAME", "MyName")]
    return []


def is_label_key(v):
    key_msg = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
    errs = []
    parts = v.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns_subdomain(prefix)]
    else:
        return ["a valid label key " + regex_error(key_msg, KEY_FMT, "MyName", "my.name", "123-abc") +
                " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not full(KEY_FMT, name):
        errs.append("name part " + regex_error(key_msg, KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_label_value(v):
    errs = []
    if len(v) > 63:
        errs.append("must be no more than 63 bytes")
    if not full(VALUE_FMT, v):
        errs.append(regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                                "'_' or '.', and must start and end with an alphanumeric character",
                                VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?"
                    r"(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$")
QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
SUFFIX = {"": 1, "n": decimal.Decimal("1e-9"), "u": decimal.Decimal("1e-6"), "m": decimal.Decimal("1e-3"),
          "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def canonical_quantity(v):
    """resource.Quantity's JSON form is its canonical string: 1024Mi is
    written back as 1Gi, 1000 as 1k, 0.5 as 500m, a JSON number as a string.
    Binary suffixes stay binary when the value is a whole multiple of 1024,
    else the decimal form is used."""
    q = parse_quantity(v)
    binary = isinstance(v, str) and re.search(r"[KMGTPE]i$", v) is not None
    if binary and q == q.to_integral_value() and abs(q) >= 1024:
        n = int(q)
        for suf, mult in (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if n % mult == 0:
                return "%d%s" % (n // mult, suf)
        return str(n)
    for suf, exp in (("E", 18), ("P", 15), ("T", 12), ("G", 9), ("M", 6), ("k", 3), ("", 0), ("m", -3),
                     ("u", -6), ("n", -9)):
        m = q.scaleb(-exp)
        if m == m.to_integral_value():
            return "%d%s" % (int(m), suf)
    # Finer than nano: Go rounds up to the next nano.
    return "%dn" % int(q.scaleb(9).to_integral_value(rounding=decimal.ROUND_CEILING))


def parse_quantity(v):
    """resource.Quantity from JSON: a string or a number. None if invalid."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return decimal.Decimal(str(v))
    if not isinstance(v, str):
        return None
    m = QUANTITY.match(v)
    if not m:
        return None
    try:
        num = decimal.Decimal(m.group(1))
    except decimal.InvalidOperation:
        return None
    suf = m.group(2)
    if suf in SUFFIX:
        return num * decimal.Decimal(SUFFIX[suf])
    if re.fullmatch(r"[eE][-+]?[0-9]+", suf):
        return num * (decimal.Decimal(10) ** int(suf[1:]))
    return None


# ---------------------------------------------------------------------------
# Decoding: the typed decoder's unknown-field pruning and type errors.

class DecodeError(Exception):
    pass


ANY = "any"
OBJMETA = {"name": str, "generateName": str, "namespace": str, "selfLink": str, "uid": str,
           "resourceVersion": str, "generation": int, "creationTimestamp": ANY, "deletionTimestamp": ANY,
           "deletionGracePeriodSeconds": int, "labels": {"*": str}, "annotations": {"*": str},
           "ownerReferences": [ANY], "finalizers": [str], "managedFields": [ANY]}
QTY = "quantity"
ATTRIBUTE = {"int": int, "bool": bool, "string": str, "version": str,
             "ints": [int], "bools": [bool], "strings": [str], "versions": [str]}
CAPACITY = {"value": QTY, "requestPolicy": {"default": QTY, "validValues": [QTY],
                                            "validRange": {"min": QTY, "max": QTY, "step": QTY}}}
COUNTERS = {"*": {"value": QTY}}
DEVICE = {"name": str, "attributes": {"*": ATTRIBUTE}, "capacity": {"*": CAPACITY},
          "consumesCounters": [{"counterSet": str, "counters": COUNTERS}], "nodeName": str, "nodeSelector": ANY,
          "allNodes": bool, "taints": [{"key": str, "value": str, "effect": str, "timeAdded": ANY}],
          "bindsToNode": bool, "bindingConditions": [str], "bindingFailureConditions": [str],
          "allowMultipleAllocations": bool, "nodeAllocatableResourceMappings": {"*": ANY}}
SLICE = {"apiVersion": str, "kind": str, "metadata": OBJMETA,
         "spec": {"driver": str, "pool": {"name": str, "generation": int, "resourceSliceCount": int},
                  "nodeName": str, "nodeSelector": ANY, "allNodes": bool, "devices": [DEVICE],
                  "perDeviceNodeSelection": bool, "sharedCounters": [{"name": str, "counters": COUNTERS}]}}
JSON_TYPES = {str: "string", int: "number", bool: "bool"}


def prune(v, schema, path, warnings):
    """Returns v with unknown fields dropped (each one a warning), raises
    DecodeError on a wrong JSON type, as encoding/json into the Go types would."""
    if schema is ANY or v is None:
        return v
    if schema is QTY:
        if parse_quantity(v) is None:
            raise DecodeError("quantities must match the regular expression "
                              "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
        return canonical_quantity(v)
    if schema in (str, bool):
        if type(v) is not schema:
            raise DecodeError("json: cannot unmarshal %s into Go struct field %s of type %s"
                              % (jtype(v), path, "string" if schema is str else "bool"))
        return v
    if schema is int:
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer())):
            raise DecodeError("json: cannot unmarshal %s into Go struct field %s of type int64" % (jtype(v), path))
        return int(v)
    if isinstance(schema, list):
        if not isinstance(v, list):
            raise DecodeError("json: cannot unmarshal %s into Go struct field %s of type []" % (jtype(v), path))
        return [prune(x, schema[0], path, warnings) for x in v]
    if isinstance(schema, dict):
        if not isinstance(v, dict):
            raise DecodeError("json: cannot unmarshal %s into Go struct field %s of type object" % (jtype(v), path))
        out = {}
        for k, x in v.items():
            if "*" in schema:
                out[k] = prune(x, schema["*"], path + "[" + k + "]", warnings)
            elif k in schema:
                out[k] = prune(x, schema[k], (path + "." if path else "") + k, warnings)
            else:
                warnings.append('unknown field "%s"' % ((path + "." if path else "") + k))
        return out
    return v


def jtype(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


# ---------------------------------------------------------------------------
# ResourceSlice validation (pkg/apis/resource/validation/validation.go)

MAX_DEVICES = 128
MAX_DEVICES_ADVANCED = 64
MAX_ATTRS_CAPS = 32
MAX_ATTR_VALUES = 48
MAX_TAINTS = 16
MAX_COUNTER_SETS = 8
MAX_COUNTERS = 32
MAX_CONSUMPTIONS = 2
MAX_VALUE_LEN = 64
KEY_TRUNC = 63 + 1 + 32
TAINT_EFFECTS = ("NoExecute", "NoSchedule", "None")


def truncate(s, n):
    n = max(n, 16)
    if len(s) <= n:
        return s
    rem = n - 3
    return s[:(rem + 1) // 2] + "..." + s[len(s) - rem // 2:]


def v_driver_name(name, f):
    """ValidateCSIDriverName."""
    errs = []
    if not name:
        errs.append(required(f))
    if len(name) > 63:
        errs.append(too_long(f, 63))
    errs += [invalid(f, name, m) for m in is_dns_subdomain(name.lower())]
    return errs


def v_pool_name(name, f):
    if not name:
        return [required(f)]
    errs = []
    if len(name) > 253:
        errs.append(too_long(f, 253))
    for part in name.split("/"):
        errs += [invalid(f, part, m) for m in is_dns_subdomain(part)]
    return errs


def v_label(name, f):
    return [invalid(f, name, m) for m in is_dns_label(name)]


def v_c_identifier(v, f):
    errs = []
    if len(v) > 32:
        errs.append(too_long(f, 32))
    errs += [invalid(f, v, m) for m in is_c_identifier(v)]
    return errs


def v_qualified_name(name, f):
    parts = name.split("/")
    errs = []
    if len(parts) == 1:
        errs += v_c_identifier(parts[0], f)
    elif len(parts) == 2:
        if not parts[0]:
            errs.append(invalid(f, "", "the domain must not be empty"))
        else:
            errs += v_driver_name(parts[0], f)
        if not parts[1]:
            errs.append(invalid(f, "", "the name must not be empty"))
        else:
            errs += v_c_identifier(parts[1], f)
    else:
        errs.append(invalid(f, name, "must not contain more than one slash"))
    return errs


def v_attribute(a, f):
    errs = []
    n = 0
    for key in ("bool", "int"):
        if key in a and a[key] is not None:
            n += 1
    if a.get("string") is not None:
        n += 1
        if len(a["string"]) > MAX_VALUE_LEN:
            errs.append(too_long(f + ".string", MAX_VALUE_LEN))
    if a.get("version") is not None:
        n += 1
        if not SEMVER.match(a["version"]):
            errs.append(invalid(f + ".version", a["version"], "must be a string compatible with semver.org spec 2.0.0"))
        if len(a["version"]) > MAX_VALUE_LEN:
            errs.append(too_long(f + ".version", MAX_VALUE_LEN))
    for key in ("bools", "ints", "strings", "versions"):
        if a.get(key) is None:
            continue
        n += 1
        if not a[key]:
            errs.append(invalid(f + "." + key, a[key], "must not be empty if specified"))
        for i, item in enumerate(a[key]):
            if key == "strings" and len(item) > MAX_VALUE_LEN:
                errs.append(too_long("%s.strings[%d]" % (f, i), MAX_VALUE_LEN))
            if key == "versions":
                if not SEMVER.match(item):
                    errs.append(invalid("%s.versions[%d]" % (f, i), item, "must be a string compatible with semver.org spec 2.0.0"))
                if len(item) > MAX_VALUE_LEN:
                    errs.append(too_long("%s.versions[%d]" % (f, i), MAX_VALUE_LEN))
    if n == 0:
        errs.append(invalid(f, "", "exactly one value must be specified"))
    elif n > 1:
        ordered = {k: a[k] for k in ("int", "bool", "string", "version", "ints", "bools", "strings", "versions")
                   if a.get(k) is not None}
        errs.append(invalid(f, ordered, "exactly one value must be specified"))
    return errs


def v_request_policy(value, policy, f):
    errs = []
    cap = parse_quantity(value)
    default = parse_quantity(policy["default"]) if policy.get("default") is not None else None
    valid = policy.get("validValues") or []
    rng = policy.get("validRange")
    if valid and rng is not None:
        return [forbidden(f, 'exactly one policy can be specified, cannot specify "validValues" and "validRange" at the same time')]
    if valid:
        if default is None:
            return [required(f + ".default", "required when validValues is defined")]
        qs = [parse_quantity(x) for x in valid]
        for i in range(len(qs) - 1):
            if qs[i] > qs[i + 1]:
                errs.append(invalid("%s.validValues[%d]" % (f, i + 1), str(valid[i + 1]), "values must be sorted in ascending order"))
        if len(qs) > 10:
            return errs + [too_many(f + ".validValues", len(qs), 10)]
        for i, q in enumerate(qs):
            if q > cap:
                errs.append(invalid("%s.validValues[%d]" % (f, i), str(valid[i]), "option is larger than capacity value: %s" % value))
        if default not in qs:
            errs.append(invalid(f + ".validValues", str(policy["default"]), "default value is not valid according to the requestPolicy"))
    elif rng is not None:
        if default is None:
            return [required(f + ".default", "required when validRange is defined")]
        if rng.get("min") is None:
            return [required(f + ".validRange.min", "required when validRange is defined")]
        lo = parse_quantity(rng["min"])
        if lo > cap:
            errs.append(invalid(f + ".validRange.min", str(rng["min"]), "min is larger than capacity value: %s" % value))
        if default < lo:
            errs.append(invalid(f + ".validRange.default", str(policy["default"]), "default is less than min: %s" % rng["min"]))
        if rng.get("max") is not None:
            hi = parse_quantity(rng["max"])
            if lo > hi:
                errs.append(invalid(f + ".validRange.max", str(rng["min"]), "min is larger than max: %s" % rng["max"]))
            if hi > cap:
                errs.append(invalid(f + ".validRange.max", str(rng["max"]), "max is larger than capacity value: %s" % value))
            if default > hi:
                errs.append(invalid(f + ".validRange.default", str(policy["default"]), "default is more than max: %s" % rng["max"]))
        if rng.get("step") is not None:
            step = parse_quantity(rng["step"])
            if step <= 0:
                errs.append(invalid(f + ".validRange.step", str(rng["step"]), "must be greater than zero"))
            else:
                if lo + step > cap:
                    errs.append(invalid(f + ".validRange.step", str(rng["step"]), "one step %s is larger than capacity value: %s" % (lo + step, value)))
                for q, raw in ((default, policy["default"]),) + (((parse_quantity(rng["max"]), rng["max"]),) if rng.get("max") is not None else ()):
                    if (q - lo) % step != 0:
                        errs.append(invalid(f + ".validRange.step", str(raw), "value is not a multiple of a given step (%s) from (%s)" % (rng["step"], rng["min"])))
    return errs


def v_taint(t, f):
    errs = [invalid(f + ".key", t.get("key", ""), m) for m in is_label_key(t.get("key", ""))]
    if t.get("value"):
        errs += [invalid(f + ".value", t["value"], m) for m in is_label_value(t["value"])]
    eff = t.get("effect", "")
    if not eff:
        errs.append(required(f + ".effect"))
    elif eff not in TAINT_EFFECTS:
        errs.append(not_supported(f + ".effect", eff, TAINT_EFFECTS))
    return errs


def v_counters(counters, f):
    if len(counters) > MAX_COUNTERS:
        return [too_many(f, len(counters), MAX_COUNTERS)]
    errs = []
    for k in sorted(counters):
        errs += v_label(k, f)
    return errs


def v_device(d, f, per_device):
    errs = v_label(d.get("name", ""), f + ".name") if d.get("name") else [required(f + ".name")]
    attrs = d.get("attributes") or {}
    caps = d.get("capacity") or {}
    if len(attrs) + len(caps) > MAX_ATTRS_CAPS:
        errs.append(invalid(f, len(attrs) + len(caps),
                            "the total number of attributes and capacities must not exceed %d" % MAX_ATTRS_CAPS))
    nvalues = 0
    for a in attrs.values():
        lists = [a.get(k) or [] for k in ("bools", "ints", "strings", "versions")]
        nvalues += sum(len(x) for x in lists) if any(lists) else 1
    if nvalues > MAX_ATTR_VALUES:
        errs.append(invalid(f, nvalues, "the total number of attribute values must not exceed %d" % MAX_ATTR_VALUES))
    for k in sorted(attrs):
        errs += v_qualified_name(k, f + ".attributes")
        errs += v_attribute(attrs[k], "%s.attributes[%s]" % (f, truncate(k, KEY_TRUNC)))
    multi = d.get("allowMultipleAllocations") is True
    for k in sorted(caps):
        errs += v_qualified_name(k, f + ".capacity")
        c = caps[k]
        kp = "%s.capacity[%s]" % (f, truncate(k, KEY_TRUNC))
        if c.get("requestPolicy") is not None:
            if multi:
                errs += v_request_policy(c.get("value", "0"), c["requestPolicy"], kp + ".requestPolicy")
            else:
                errs.append(forbidden(kp + ".requestPolicy", "allowMultipleAllocations must be true"))
    taints = d.get("taints") or []
    if len(taints) > MAX_TAINTS:
        errs.append(too_many(f + ".taints", len(taints), MAX_TAINTS))
    else:
        for i, t in enumerate(taints):
            errs += v_taint(t, "%s.taints[%d]" % (f, i))
    cons = d.get("consumesCounters") or []
    if len(cons) > MAX_CONSUMPTIONS:
        errs.append(too_many(f + ".consumesCounters", len(cons), MAX_CONSUMPTIONS))
    else:
        seen = set()
        for i, c in enumerate(cons):
            cf = "%s.consumesCounters[%d]" % (f, i)
            cs = c.get("counterSet", "")
            errs += [required(cf + ".counterSet")] if not cs else v_label(cs, cf + ".counterSet")
            errs += [required(cf + ".counters")] if not c.get("counters") else v_counters(c["counters"], cf + ".counters")
            if cs in seen:
                errs.append(duplicate(cf, cs))
            seen.add(cs)
    node_fields = [k for k in ("nodeName", "nodeSelector", "allNodes") if d.get(k) is not None]
    if per_device:
        set_fields = []
        if d.get("nodeName") is not None:
            if d["nodeName"]:
                set_fields.append("`nodeName`")
                errs += node_name_errs(d["nodeName"], f + ".nodeName")
            else:
                errs.append(invalid(f + ".nodeName", "", "must not be empty"))
        if d.get("nodeSelector") is not None:
            set_fields.append("`nodeSelector`")
        if d.get("allNodes") is not None:
            if d["allNodes"]:
                set_fields.append("`allNodes`")
            else:
                errs.append(invalid(f + ".allNodes", False, "must be either unset or set to true"))
        msg = ("exactly one of `nodeName`, `nodeSelector`, or `allNodes` is required when `perDeviceNodeSelection` "
               "is set to true in the ResourceSlice spec")
        if not set_fields:
            errs.append(required(f, msg))
        elif len(set_fields) > 1:
            errs.append(invalid(f, "{%s}" % ", ".join(set_fields), msg))
    elif node_fields:
        errs.append(invalid(f, None, "`nodeName`, `nodeSelector` and `allNodes` can only be set if "
                                     "`perDeviceNodeSelection` is set to true in the ResourceSlice spec"))
    bc = d.get("bindingConditions") or []
    bfc = d.get("bindingFailureConditions") or []
    if len(bc) > 4:
        errs.append(too_many(f + ".bindingConditions", len(bc), 4))
    if len(bfc) > 4:
        errs.append(too_many(f + ".bindingFailureConditions", len(bfc), 4))
    if not bc and bfc:
        errs.append(invalid(f + ".bindingConditions", bc, "bindingConditions are required to use bindingFailureConditions"))
    if not bfc and bc:
        errs.append(invalid(f + ".bindingFailureConditions", bfc, "bindingFailureConditions are required to use bindingConditions"))
    return errs


def node_name_errs(name, f):
    return [invalid(f, name, m) for m in is_dns_subdomain(name)]


def v_slice_spec(spec, old, f="spec"):
    errs = v_driver_name(spec.get("driver", ""), f + ".driver")
    pool = spec.get("pool") or {}
    errs += v_pool_name(pool.get("name", ""), f + ".pool.name")
    if pool.get("resourceSliceCount", 0) <= 0:
        errs.append(invalid(f + ".pool.resourceSliceCount", pool.get("resourceSliceCount", 0), "must be greater than zero"))
    if pool.get("generation", 0) < 0:
        errs.append(invalid(f + ".pool.generation", pool.get("generation", 0), "must be greater than or equal to zero"))
    if old is not None:
        for path, new_v, old_v in ((f + ".pool.name", pool.get("name", ""), (old.get("pool") or {}).get("name", "")),
                                   (f + ".driver", spec.get("driver", ""), old.get("driver", "")),
                                   (f + ".nodeName", spec.get("nodeName"), old.get("nodeName"))):
            if new_v != old_v:
                errs.append(invalid(path, new_v, "field is immutable"))
    set_fields = []
    if spec.get("nodeName") is not None:
        if spec["nodeName"]:
            set_fields.append("`nodeName`")
            errs += node_name_errs(spec["nodeName"], f + ".nodeName")
        else:
            errs.append(invalid(f + ".nodeName", "", "must be either unset or set to a non-empty string"))
    if spec.get("nodeSelector") is not None:
        set_fields.append("`nodeSelector`")
        terms = (spec["nodeSelector"] or {}).get("nodeSelectorTerms") or []
        if len(terms) != 1:
            errs.append(invalid(f + ".nodeSelector.nodeSelectorTerms", terms, "must have exactly one node selector term"))
    for key in ("allNodes", "perDeviceNodeSelection"):
        if spec.get(key) is not None:
            if spec[key]:
                set_fields.append("`%s`" % key)
            else:
                errs.append(invalid(f + "." + key, False, "must be either unset or set to true"))
    one_of = "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"
    if not set_fields:
        errs.append(required(f, one_of))
    elif len(set_fields) > 1:
        errs.append(invalid(f, "{%s}" % ", ".join(set_fields), one_of + ", but multiple fields are set"))
    devices = spec.get("devices")
    if spec.get("sharedCounters") is not None and devices is not None:
        errs.append(invalid(f, "", "only one of `sharedCounters` or `devices` is allowed"))
    devices = devices or []
    advanced = any(d.get("taints") or d.get("consumesCounters") or
                   any(any(a.get(k) is not None for k in ("bools", "ints", "strings", "versions"))
                       for a in (d.get("attributes") or {}).values())
                   for d in devices)
    max_devices = MAX_DEVICES_ADVANCED if advanced else MAX_DEVICES
    if len(devices) > max_devices:
        errs.append(too_many(f + ".devices", len(devices), max_devices))
    else:
        per_device = spec.get("perDeviceNodeSelection") is True
        seen = set()
        for i, d in enumerate(devices):
            errs += v_device(d, "%s.devices[%d]" % (f, i), per_device)
        for i, d in enumerate(devices):
            if d.get("name", "") in seen:
                errs.append(duplicate("%s.devices[%d]" % (f, i), d.get("name", "")))
            seen.add(d.get("name", ""))
    sets = spec.get("sharedCounters") or []
    if len(sets) > MAX_COUNTER_SETS:
        errs.append(too_many(f + ".sharedCounters", len(sets), MAX_COUNTER_SETS))
    else:
        seen = set()
        for i, cs in enumerate(sets):
            cf = "%s.sharedCounters[%d]" % (f, i)
            errs += [required(cf + ".name")] if not cs.get("name") else v_label(cs["name"], cf + ".name")
            errs += [required(cf + ".counters")] if not cs.get("counters") else v_counters(cs["counters"], cf + ".counters")
        for i, cs in enumerate(sets):
            if cs.get("name", "") in seen:
                errs.append(duplicate("%s.sharedCounters[%d]" % (f, i), cs.get("name", "")))
            seen.add(cs.get("name", ""))
    return errs


def drop_disabled(spec, old_spec, gates):
    """strategy.go dropDisabledFields: a gate that is off loses its fields,
    unless the stored object already uses them."""
    devs = spec.get("devices") or []
    old_devs = (old_spec or {}).get("devices") or []

    def in_use(pred):
        return any(pred(d) for d in old_devs)

    if not gates["DRADeviceTaints"] and not in_use(lambda d: d.get("taints")):
        for d in devs:
            d.pop("taints", None)
    if not gates["DRAPartitionableDevices"] and not (
            (old_spec or {}).get("sharedCounters") or (old_spec or {}).get("perDeviceNodeSelection") is not None or
            in_use(lambda d: d.get("consumesCounters") or any(d.get(k) is not None for k in ("nodeName", "nodeSelector", "allNodes")))):
        spec.pop("sharedCounters", None)
        spec.pop("perDeviceNodeSelection", None)
        for d in devs:
            for k in ("consumesCounters", "nodeName", "nodeSelector", "allNodes"):
                d.pop(k, None)
    if not gates["DRADeviceBindingConditions"] and not in_use(
            lambda d: d.get("bindingConditions") or d.get("bindingFailureConditions") or d.get("bindsToNode") is not None):
        for d in devs:
            for k in ("bindingConditions", "bindingFailureConditions", "bindsToNode"):
                d.pop(k, None)
    if not gates["DRAConsumableCapacity"] and not in_use(
            lambda d: d.get("allowMultipleAllocations") is not None or
            any(c.get("requestPolicy") is not None for c in (d.get("capacity") or {}).values())):
        for d in devs:
            d.pop("allowMultipleAllocations", None)
            for c in (d.get("capacity") or {}).values():
                c.pop("requestPolicy", None)
    if not gates["DRAListTypeAttributes"] and not in_use(
            lambda d: any(any(a.get(k) is not None for k in ("ints", "bools", "strings", "versions"))
                          for a in (d.get("attributes") or {}).values())):
        for d in devs:
            for a in (d.get("attributes") or {}).values():
                for k in ("ints", "bools", "strings", "versions"):
                    a.pop(k, None)


# ---------------------------------------------------------------------------
# Selectors

def parse_selector(text, allowed=None):
    """a=b,c!=d,e==f -> [(key, op, value)]; raises ValueError."""
    out = []
    for term in filter(None, (t.strip() for t in (text or "").split(","))):
        m = re.fullmatch(r"([^=!]+?)\s*(==|!=|=)\s*(.*)", term)
        if not m:
            raise ValueError("invalid selector: %r; can't understand %r" % (text, term))
        key, op, val = m.group(1).strip(), m.group(2), m.group(3).strip()
        if allowed is not None and key not in allowed:
            raise KeyError(key)
        out.append((key, "!=" if op == "!=" else "=", val))
    return out


def field_value(obj, key):
    cur = obj
    for part in key.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def selects(obj, fsel, lsel):
    for key, op, val in fsel:
        if (field_value(obj, key) == val) != (op == "="):
            return False
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for key, op, val in lsel:
        if (labels.get(key) == val) != (op == "="):
            return False
    return True


# ---------------------------------------------------------------------------
# The store: one revision counter, a history of events, watchers.

class Watcher:
    def __init__(self, res, ns, fsel, lsel, bookmarks):
        self.res, self.ns, self.fsel, self.lsel, self.bookmarks = res, ns, fsel, lsel, bookmarks
        self.queue = []
        self.closed = False

    def matches(self, obj):
        if self.ns and obj["metadata"].get("namespace") != self.ns:
            return False
        return selects(obj, self.fsel, self.lsel)


class Store:
    def __init__(self, gates):
        self.cond = threading.Condition()
        self.gates = gates
        self.rv = 1
        self.compacted = 0
        self.objects = {}     # (res, ns, name) -> object
        self.history = []     # (rv, type, res, obj, prev)
        self.watchers = []

    def bump(self):
        self.rv += 1
        return self.rv

    def record(self, etype, res, obj, prev):
        """Callers hold cond."""
        self.history.append((int(obj["metadata"]["resourceVersion"]), etype, res, copy.deepcopy(obj), prev))
        for w in self.watchers:
            if w.res == res:
                ev = translate(w, etype, obj, prev)
                if ev:
                    w.queue.append(ev)
        self.cond.notify_all()


def translate(w, etype, obj, prev):
    """cacheWatcher.convertToWatchEvent: selectors see old and new object."""
    cur = w.matches(obj)
    old = prev is not None and w.matches(prev)
    if etype == "ADDED":
        return ("ADDED", obj) if cur else None
    if etype == "DELETED":
        return ("DELETED", obj) if cur else None
    if cur and old:
        return ("MODIFIED", obj)
    if cur and not old:
        return ("ADDED", obj)
    if old and not cur:
        gone = copy.deepcopy(prev)
        gone["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
        return ("DELETED", gone)
    return None


# ---------------------------------------------------------------------------
# HTTP

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, ctx, store, opts):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        super().__init__(addr, handler)
        self.ctx = ctx
        self.store = store
        self.opts = opts
        self.log_lock = threading.Lock()
        self.requests = []
        self.faults = []
        self.paused_until = 0.0
        self.expired_as_http = False

    def server_bind(self):
        # HTTPServer.server_bind would look the host name up (getfqdn).
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        # Go's net package sets TCP_NODELAY on every TCP connection, so
        # kube-apiserver does; without it an answer written as headers then
        # body waits for the client's delayed ACK (40 ms) before the body.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The handshake runs in the request's thread, not in accept().
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, ssl.SSLError):
            with self.log_lock:
                self.requests.append({"tls": "handshake failed: %s" % err.reason})
            return
        if isinstance(err, (ConnectionError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def note(self, entry):
        with self.log_lock:
            self.requests.append(entry)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-standin"

    def setup(self):
        super().setup()
        self.connection.do_handshake()

    def log_message(self, fmt, *args):
        if self.server.opts.verbose:
            sys.stderr.write("kube_apiserver: " + fmt % args + "\n")

    # ---- plumbing ----

    def send_json(self, code, obj, warnings=()):
        body = json.dumps(obj).encode()
        if getattr(self, "answer_delay", 0):
            time.sleep(self.answer_delay)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for w in warnings:
            self.send_header("Warning", '299 - "%s"' % w.replace("\\", "\\\\").replace('"', '\\"'))
        self.end_headers()
        self.wfile.write(body)
        self.log_entry["code"] = code

    def send_status(self, st, extra_headers=()):
        body = json.dumps(st).encode()
        self.send_response(st["code"])
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.log_entry["code"] = st["code"]

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def drop_connection(self):
        self.close_connection = True
        self.log_entry["code"] = "closed"
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        self.log_entry = {"method": method, "path": url.path, "query": self.query, "tls": "ok",
                          "accept": self.headers.get("Accept", ""),
                          "time": round(time.time(), 3)}
        self.server.note(self.log_entry)
        if url.path.startswith("/_standin/"):
            self.log_entry["auth"] = "control"
            return self.control(method, url.path[len("/_standin/"):])
        if time.monotonic() < self.server.paused_until:
            return self.drop_connection()
        if url.path in ("/healthz", "/livez", "/readyz"):
            self.log_entry["auth"] = "public"
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(body)
            return
        auth = self.authenticate()
        self.log_entry["auth"] = auth
        if auth != "ok":
            self.read_body()
            if auth == "missing" and self.server.opts.anonymous_auth:
                return self.send_status(status(403, "Forbidden", 'forbidden: User "system:anonymous" cannot %s path "%s"'
                                               % (method.lower(), url.path)))
            return self.send_status(st_unauthorized())
        fault = self.take_fault(method, url.path)
        self.answer_delay = 0
        if fault and fault.get("delay"):
            if fault.get("after"):
                self.answer_delay = fault["delay"]
            else:
                time.sleep(fault["delay"])
            fault = None
        if fault:
            self.read_body()
            if fault.get("close"):
                return self.drop_connection()
            code = int(fault["code"])
            reasons = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
                       409: "Conflict", 410: "Expired", 404: "NotFound", 403: "Forbidden", 401: "Unauthorized"}
            st = status(code, fault.get("reason") or reasons.get(code, "Unknown"),
                        fault.get("message") or "injected by the stand-in")
            headers = [("Retry-After", str(fault["retry_after"]))] if fault.get("retry_after") else []
            return self.send_status(st, headers)
        try:
            self.route(method, url.path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def authenticate(self):
        h = self.headers.get("Authorization") or ""
        if not h.startswith("Bearer "):
            return "missing"
        try:
            with open(self.server.opts.token_file) as f:
                tokens = {t.strip() for t in f if t.strip() and not t.startswith("#")}
        except OSError:
            tokens = set()
        return "ok" if h[len("Bearer "):].strip() in tokens else "bad"

    def take_fault(self, method, path):
        with self.server.log_lock:
            for f in self.server.faults:
                if f.get("method") and f["method"].upper() != method:
                    continue
                if f.get("path") and not re.search(f["path"], path):
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    self.server.faults.remove(f)
                return f
        return None

    # ---- control endpoints ----

    def control(self, method, what):
        s = self.server
        st = s.store
        q = self.query
        self.read_body()
        if what == "compact" and method == "POST":
            with st.cond:
                st.compacted = int(q["rv"]) if q.get("rv") else st.rv
                st.history = [h for h in st.history if h[0] > st.compacted]
                reply = {"compacted": st.compacted}
        elif what == "close-watches" and method == "POST":
            with st.cond:
                n = len(st.watchers)
                for w in st.watchers:
                    w.closed = True
                st.cond.notify_all()
            reply = {"closed": n}
        elif what == "bookmark" and method == "POST":
            with st.cond:
                for w in st.watchers:
                    if w.bookmarks:
                        w.queue.append(("BOOKMARK", None))
                st.cond.notify_all()
            reply = {"ok": True}
        elif what == "fail" and method == "POST":
            fault = {"code": int(q.get("code", 500)), "method": q.get("method"), "path": q.get("path"),
                     "count": int(q.get("count", 1)), "reason": q.get("reason"), "message": q.get("message"),
                     "retry_after": q.get("retry_after"), "close": q.get("close") in ("1", "true")}
            with s.log_lock:
                s.faults.append(fault)
            reply = {"fault": fault}
        elif what == "delay" and method == "POST":
            fault = {"delay": float(q.get("seconds", 1)), "method": q.get("method"), "path": q.get("path"),
                     "count": int(q.get("count", 1)), "after": q.get("after") in ("1", "true")}
            with s.log_lock:
                s.faults.append(fault)
            reply = {"fault": fault}
        elif what == "pause" and method == "POST":
            s.paused_until = time.monotonic() + float(q.get("seconds", 1))
            reply = {"paused": float(q.get("seconds", 1))}
        elif what == "expired-as-http" and method == "POST":
            s.expired_as_http = q.get("on", "1") in ("1", "true")
            reply = {"expired_as_http": s.expired_as_http}
        elif what == "reset" and method == "POST":
            with st.cond:
                st.objects.clear()
                st.history.clear()
                for w in st.watchers:
                    w.closed = True
                st.cond.notify_all()
            with s.log_lock:
                s.faults.clear()
                s.requests.clear()
            reply = {"ok": True}
        elif what == "requests" and method == "GET":
            with s.log_lock:
                reply = [r for r in s.requests if r is not self.log_entry]
        elif what == "requests" and method == "DELETE":
            with s.log_lock:
                s.requests.clear()
            reply = {"ok": True}
        elif what == "state" and method == "GET":
            with st.cond:
                reply = {"resourceVersion": st.rv, "compacted": st.compacted, "watches": len(st.watchers),
                         "objects": len(st.objects)}
        else:
            return self.send_status(status(404, "NotFound", "no control endpoint %s %s" % (method, what)))
        self.send_json(200, reply)

    # ---- routing ----

    def route(self, method, path):
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            return self.send_json(200, {"major": "1", "minor": "36", "gitVersion": "v1.36.0-kyborg-standin",
                                        "platform": "linux/amd64"})
        if parts == ["api"]:
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"]})
        if parts == ["apis"]:
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": GROUP, "versions": [{"groupVersion": GROUP + "/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": GROUP + "/v1", "version": "v1"}}]})
        if parts in (["api", "v1"], ["apis", GROUP, "v1"]):
            group = "" if parts[0] == "api" else GROUP
            return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                        "groupVersion": (group + "/v1") if group else "v1",
                                        "resources": [self.discovery(r) for r, m in RESOURCES.items() if m["group"] == group]})
        # /api/v1/... or /apis/resource.k8s.io/v1/...
        if parts[:2] == ["api", "v1"]:
            rest, group = parts[2:], ""
        elif parts[:3] == ["apis", GROUP, "v1"]:
            rest, group = parts[3:], GROUP
        else:
            return self.send_status(status(404, "NotFound", "the server could not find the requested resource"))
        ns = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] not in RESOURCES or RESOURCES[rest[0]]["group"] != group:
            return self.send_status(status(404, "NotFound", "the server could not find the requested resource"))
        res = rest[0]
        meta = RESOURCES[res]
        if meta["namespaced"] != (ns is not None) and not (meta["namespaced"] and len(rest) == 1 and method == "GET"):
            return self.send_status(status(404, "NotFound", "the server could not find the requested resource"))
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and (sub != "status" or not meta["status"] or len(rest) > 3):
            return self.send_status(status(404, "NotFound", "the server could not find the requested resource"))
        if name is None:
            if method == "GET":
                if self.query.get("watch") in ("1", "true"):
                    return self.watch(res, ns)
                return self.list(res, ns)
            if method == "POST":
                return self.create(res, ns)
            if method == "DELETE":
                return self.delete_collection(res, ns)
        else:
            if method == "GET":
                return self.get(res, ns, name)
            if method == "PUT":
                return self.update(res, ns, name, sub, self.decode(res))
            if method == "PATCH":
                return self.patch(res, ns, name, sub)
            if method == "DELETE":
                return self.delete(res, ns, name)
        self.read_body()
        self.send_status(status(405, "MethodNotAllowed", "%s is not supported on resources of kind %s"
                                % (method, go_quote(qualified(res)))))

    @staticmethod
    def discovery(res):
        m = RESOURCES[res]
        singular = m["kind"].lower()
        return {"name": res, "singularName": singular, "namespaced": m["namespaced"], "kind": m["kind"],
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]}

    # ---- helpers ----

    def selectors(self, res):
        allowed = RESOURCES[res]["fields"]
        try:
            fsel = parse_selector(self.query.get("fieldSelector"), allowed)
            lsel = parse_selector(self.query.get("labelSelector"))
        except KeyError as e:
            self.send_status(st_bad_request('field label not supported: %s' % e.args[0]))
            return None, None
        except ValueError as e:
            self.send_status(st_bad_request(str(e)))
            return None, None
        return fsel, lsel

    def decode(self, res):
        raw = self.read_body()
        try:
            obj = json.loads(raw or b"null")
        except ValueError as e:
            self.send_status(st_bad_request("the body of the request was in an unknown format - accepted media types "
                                            "include: application/json, application/yaml, "
                                            "application/vnd.kubernetes.protobuf (%s)" % e))
            return None
        if not isinstance(obj, dict):
            self.send_status(st_bad_request("Object 'Kind' is missing in '%s'" % raw[:100].decode(errors="replace")))
            return None
        return obj

    def typed(self, res, obj):
        """Checks apiVersion/kind, prunes unknown fields (ResourceSlice).
        Returns (obj, warnings) or (None, None) after answering."""
        want = api_version(res)
        kind = RESOURCES[res]["kind"]
        if obj.get("apiVersion") not in (None, "", want) or obj.get("kind") not in (None, "", kind):
            self.send_status(st_bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                                            % (obj.get("apiVersion"), want) if obj.get("apiVersion") not in (None, "", want)
                                            else "the kind in the data (%s) does not match the expected kind (%s)"
                                            % (obj.get("kind"), kind)))
            return None, None
        warnings = []
        if res == "resourceslices":
            try:
                obj = prune(obj, SLICE, "", warnings)
            except DecodeError as e:
                self.send_status(st_bad_request('ResourceSlice in version "v1" cannot be handled as a ResourceSlice: %s' % e))
                return None, None
        obj["apiVersion"], obj["kind"] = want, kind
        obj.setdefault("metadata", {})
        return obj, warnings

    def validate(self, res, obj, old):
        meta = obj["metadata"]
        name = meta.get("name", "")
        errs = []
        if old is None:
            if meta.get("generateName"):
                gen = meta["generateName"]
                gen = gen[:-1] if gen.endswith("-") else gen
                errs += [invalid("metadata.generateName", meta["generateName"], m) for m in is_dns_subdomain(gen)]
            if not name:
                errs.append(required("metadata.name", "name or generateName is required"))
            else:
                errs += [invalid("metadata.name", name, m) for m in is_dns_subdomain(name)]
        for key, val in sorted((meta.get("labels") or {}).items()):
            errs += [invalid("metadata.labels", key, m) for m in is_label_key(key)]
            errs += [invalid("metadata.labels", val, m) for m in is_label_value(val)]
        if res == "resourceslices":
            errs += v_slice_spec(obj.get("spec") or {}, None if old is None else (old.get("spec") or {}))
        if res == "resourceclaims" and old is not None and obj.get("spec") != old.get("spec"):
            errs.append(invalid("spec", obj.get("spec"), "field is immutable"))
        if errs:
            g = RESOURCES[res]["group"]
            self.send_status(st_invalid(RESOURCES[res]["kind"], g, name or meta.get("generateName", ""), errs))
            return False
        return True

    def key(self, res, ns, name):
        return (res, ns or "", name)

    def output(self, obj):
        return obj

    # ---- verbs ----

    def get(self, res, ns, name):
        st = self.server.store
        with st.cond:
            obj = st.objects.get(self.key(res, ns, name))
            obj = copy.deepcopy(obj) if obj else None
        if obj is None:
            return self.send_status(st_not_found(res, name))
        target = partial_target(self.headers.get("Accept"))
        if target == "PartialObjectMetadataList":
            return self.send_status(st_not_acceptable("you requested PartialObjectMetadataList, but the requested "
                                                      "object is not a list (*%s.%s)" % (go_package(res), RESOURCES[res]["kind"])))
        self.send_json(200, as_partial(obj) if target else obj)

    def list(self, res, ns):
        fsel, lsel = self.selectors(res)
        if fsel is None:
            return
        st = self.server.store
        limit = int(self.query.get("limit") or 0)
        cont = self.query.get("continue")
        start_key = ""
        err = None
        with st.cond:
            list_rv = st.rv
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont.encode()))
                    start_key, tok_rv = tok["start"], int(tok["rv"])
                except (ValueError, KeyError, TypeError):
                    tok_rv = None
                    err = st_bad_request("continue key is not valid: incorrect encoded start "
                                         "resourceVersion (version meta.k8s.io/v1)")
                if tok_rv is not None and tok_rv < st.compacted:
                    err = st_expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start "
                        "a new list without the continue parameter, or use the continue token in this response to "
                        "retrieve the remainder of the results. Continuing with the provided token results in an "
                        "inconsistent list - objects that were created, modified, or deleted between the time the "
                        "first chunk was returned and now may show up in the list.")
                list_rv = tok_rv or list_rv
            rv = self.query.get("resourceVersion")
            if rv and rv.isdigit() and rv != "0" and self.query.get("resourceVersionMatch") == "Exact" \
                    and int(rv) < st.compacted:
                err = st_expired("too old resource version: %s (%d)" % (rv, st.compacted))
            items = []
            for (r, o_ns, o_name), obj in sorted(st.objects.items()):
                if r != res or (ns and o_ns != ns):
                    continue
                k = "%s/%s" % (o_ns, o_name)
                if start_key and k <= start_key:
                    continue
                if selects(obj, fsel, lsel):
                    items.append((k, copy.deepcopy(obj)))
        if err:
            return self.send_status(err)
        target = partial_target(self.headers.get("Accept"))
        if target == "PartialObjectMetadata":
            return self.send_status(st_not_acceptable("you requested PartialObjectMetadata, but the requested object "
                                                      "is a list (*%s.%sList)" % (go_package(res), RESOURCES[res]["kind"])))
        meta = {"resourceVersion": str(list_rv)}
        if limit and len(items) > limit:
            meta["continue"] = base64.urlsafe_b64encode(json.dumps({"rv": list_rv, "start": items[limit - 1][0]}).encode()).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if target == "PartialObjectMetadataList":
            return self.send_json(200, {"kind": "PartialObjectMetadataList", "apiVersion": META_GV, "metadata": meta,
                                        "items": [as_partial(o) for _, o in items]})
        self.send_json(200, {"kind": RESOURCES[res]["kind"] + "List", "apiVersion": api_version(res),
                             "metadata": meta, "items": [o for _, o in items]})

    def create(self, res, ns):
        obj = self.decode(res)
        if obj is None:
            return
        obj, warnings = self.typed(res, obj)
        if obj is None:
            return
        meta = obj["metadata"]
        if RESOURCES[res]["namespaced"]:
            if meta.get("namespace") and meta["namespace"] != ns:
                return self.send_status(st_bad_request("the namespace of the provided object does not match the "
                                                       "namespace sent on the request"))
            meta["namespace"] = ns
        elif meta.get("namespace"):
            meta.pop("namespace")
        if not meta.get("name") and meta.get("generateName"):
            base = meta["generateName"][:58]
            meta["name"] = base + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation", "selfLink"):
            meta.pop(k, None)
        st = self.server.store
        if res == "resourceslices":
            drop_disabled(obj.setdefault("spec", {}), None, st.gates)
            drv = (obj.get("spec") or {}).get("driver", "")
            if drv != drv.lower():
                warnings.append('spec.driver: driver names should be lowercase; "%s" contains uppercase characters' % drv)
        if RESOURCES[res]["status"] and res == "resourceclaims":
            obj.pop("status", None)  # PrepareForCreate: status is the scheduler's and the drivers'
        if not self.validate(res, obj, None):
            return
        with st.cond:
            k = self.key(res, ns, meta["name"])
            exists = k in st.objects
            if not exists:
                meta["uid"] = str(uuid.uuid4())
                meta["creationTimestamp"] = now_rfc3339()
                if res != "nodes":
                    meta["generation"] = 1
                meta["resourceVersion"] = str(st.bump())
                st.objects[k] = obj
                st.record("ADDED", res, obj, None)
                out = copy.deepcopy(obj)
        if exists:
            return self.send_status(st_already_exists(res, meta["name"]))
        self.send_json(201, out, warnings)

    def update(self, res, ns, name, sub, obj, warnings=None):
        if obj is None:
            return
        obj, w = self.typed(res, obj)
        if obj is None:
            return
        warnings = (warnings or []) + w
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            return self.send_status(st_bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                                   % (meta["name"], name)))
        if RESOURCES[res]["namespaced"] and meta.get("namespace") and meta["namespace"] != ns:
            return self.send_status(st_bad_request("the namespace of the provided object does not match the namespace "
                                                   "sent on the request"))
        st = self.server.store
        with st.cond:
            old = copy.deepcopy(st.objects.get(self.key(res, ns, name)))
        if old is None:
            return self.send_status(st_not_found(res, name))
        old_meta = old["metadata"]
        if meta.get("resourceVersion") and meta["resourceVersion"] != old_meta["resourceVersion"]:
            return self.send_status(st_conflict(res, name, STALE))
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            return self.send_status(st_conflict(res, name, "Precondition failed: UID in precondition: %s, UID in "
                                                           "object meta: %s" % (meta["uid"], old_meta["uid"])))
        if sub == "status":
            new = copy.deepcopy(old)
            new["status"] = obj.get("status") or {}
        else:
            new = obj
            if RESOURCES[res]["status"]:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
                if k in old_meta:
                    meta[k] = old_meta[k]
                else:
                    meta.pop(k, None)
            meta["name"] = name
            if ns:
                meta["namespace"] = ns
            if res == "resourceslices":
                drop_disabled(new.setdefault("spec", {}), old.get("spec"), st.gates)
            if res != "nodes" and new.get("spec") != old.get("spec"):
                meta["generation"] = old_meta.get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        if not self.validate(res, new, old):
            return
        err, out = None, None
        with st.cond:
            key = self.key(res, ns, name)
            cur = st.objects.get(key)
            if cur is None:
                err = st_not_found(res, name)
            elif cur["metadata"]["resourceVersion"] != old_meta["resourceVersion"]:
                # Written meanwhile: the update was computed from a stale object.
                err = st_conflict(res, name, STALE)
            elif new == cur:
                out = copy.deepcopy(cur)  # a no-op update writes nothing
            elif new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                new["metadata"]["resourceVersion"] = str(st.bump())
                del st.objects[key]
                st.record("DELETED", res, new, cur)
                out = copy.deepcopy(new)
            else:
                new["metadata"]["resourceVersion"] = str(st.bump())
                st.objects[key] = new
                st.record("MODIFIED", res, new, cur)
                out = copy.deepcopy(new)
        if err:
            return self.send_status(err)
        self.send_json(200, out, warnings)

    def patch(self, res, ns, name, sub):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            self.read_body()
            return self.send_status(status(415, "UnsupportedMediaType",
                                           "the body of the request was in an unknown format - accepted media types "
                                           "include: application/merge-patch+json, application/strategic-merge-patch+json"
                                           " (the stand-in has no json-patch or apply)"))
        patch = self.decode(res)
        if patch is None:
            return
        st = self.server.store
        with st.cond:
            cur = st.objects.get(self.key(res, ns, name))
            cur = copy.deepcopy(cur) if cur else None
        if cur is None:
            return self.send_status(st_not_found(res, name))

        def merge(target, p):
            if not isinstance(p, dict):
                return p
            target = dict(target) if isinstance(target, dict) else {}
            for k, v in p.items():
                if v is None:
                    target.pop(k, None)
                else:
                    target[k] = merge(target.get(k), v)
            return target

        merged = merge(cur, patch)
        if not (patch.get("metadata") or {}).get("resourceVersion"):
            merged["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        self.update(res, ns, name, sub, merged)

    def check_preconditions(self, res, name, obj, opts):
        pre = (opts or {}).get("preconditions") or {}
        meta = obj["metadata"]
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            return st_conflict(res, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                               % (pre["uid"], meta["uid"]))
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            return st_conflict(res, name, "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion "
                                          "in object meta: %s" % (pre["resourceVersion"], meta["resourceVersion"]))
        return None

    def remove_locked(self, res, key, cur):
        """Deletes cur (cond held): with finalizers only marks it."""
        st = self.server.store
        new = copy.deepcopy(cur)
        if cur["metadata"].get("finalizers"):
            if cur["metadata"].get("deletionTimestamp"):
                return new
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["metadata"]["resourceVersion"] = str(st.bump())
            st.objects[key] = new
            st.record("MODIFIED", res, new, cur)
            return copy.deepcopy(new)
        new["metadata"]["resourceVersion"] = str(st.bump())
        del st.objects[key]
        st.record("DELETED", res, new, cur)
        return new

    def delete(self, res, ns, name):
        raw = self.read_body()
        try:
            opts = json.loads(raw) if raw else {}
        except ValueError:
            return self.send_status(st_bad_request("invalid DeleteOptions"))
        st = self.server.store
        out = None
        with st.cond:
            key = self.key(res, ns, name)
            cur = st.objects.get(key)
            err = st_not_found(res, name) if cur is None else self.check_preconditions(res, name, cur, opts)
            if err is None:
                out = self.remove_locked(res, key, cur)
        if err:
            return self.send_status(err)
        self.send_json(200, out)

    def delete_collection(self, res, ns):
        self.read_body()
        fsel, lsel = self.selectors(res)
        if fsel is None:
            return
        st = self.server.store
        items = []
        with st.cond:
            for key, obj in sorted(st.objects.items()):
                if key[0] != res or (ns and key[1] != ns) or not selects(obj, fsel, lsel):
                    continue
                items.append(self.remove_locked(res, key, obj))
            rv = st.rv
        self.send_json(200, {"kind": RESOURCES[res]["kind"] + "List", "apiVersion": api_version(res),
                             "metadata": {"resourceVersion": str(rv)}, "items": items})

    # ---- watch ----

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, res, ns):
        fsel, lsel = self.selectors(res)
        if fsel is None:
            return
        s = self.server
        st = s.store
        q = self.query
        rv_param = q.get("resourceVersion", "")
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        initial = q.get("sendInitialEvents") in ("1", "true")
        timeout = float(q.get("timeoutSeconds") or s.opts.watch_timeout or 0)
        w = Watcher(res, ns, fsel, lsel, bookmarks)
        target = partial_target(self.headers.get("Accept"))
        if target == "PartialObjectMetadataList":
            return self.send_status(st_not_acceptable("you requested PartialObjectMetadataList, but the requested "
                                                      "object is not a list (*%s.%s)" % (go_package(res),
                                                                                         RESOURCES[res]["kind"])))
        expired = err = None
        if rv_param not in ("", "0") and not rv_param.isdigit():
            return self.send_status(st_bad_request('invalid resource version "%s"' % rv_param))
        with st.cond:
            if rv_param not in ("", "0") and not initial:
                rv = int(rv_param)
                if rv > st.rv:
                    # The watch cache waits up to 3 s for a future version.
                    end = time.monotonic() + 3
                    while st.rv < rv and time.monotonic() < end:
                        st.cond.wait(end - time.monotonic())
                if rv > st.rv:
                    err = status(504, "Timeout", "Too large resource version: %d, current: %d" % (rv, st.rv),
                                 {"causes": [{"reason": "ResourceVersionTooLarge",
                                              "message": "Too large resource version"}], "retryAfterSeconds": 1})
                elif rv < st.compacted:
                    # watch_cache.go: resourceVersion < oldest-1; here oldest-1
                    # is the compaction point.
                    expired = st_expired("too old resource version: %d (%d)" % (rv, st.compacted))
                else:
                    for h_rv, etype, h_res, obj, prev in st.history:
                        if h_res == res and h_rv > rv:
                            ev = translate(w, etype, obj, prev)
                            if ev:
                                w.queue.append(ev)
            else:
                for (r, o_ns, _), obj in sorted(st.objects.items()):
                    if r == res and w.matches(obj):
                        w.queue.append(("ADDED", copy.deepcopy(obj)))
                if initial and bookmarks:
                    w.queue.append(("BOOKMARK", "initial-events-end"))
            if expired is None and err is None:
                st.watchers.append(w)
        if err is not None:
            return self.send_status(err)
        if expired is not None and s.expired_as_http:
            return self.send_status(expired)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.log_entry["code"] = 200
        self.log_entry["watch"] = True
        self.close_connection = True
        try:
            if expired is not None:
                self.chunk(json.dumps({"type": "ERROR", "object": expired}).encode() + b"\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            end = time.monotonic() + timeout if timeout else None
            next_bookmark = time.monotonic() + s.opts.bookmark_interval
            while True:
                with st.cond:
                    while not w.queue and not w.closed:
                        left = None if end is None else end - time.monotonic()
                        if left is not None and left <= 0:
                            break
                        wait = min(x for x in (left, next_bookmark - time.monotonic(), 1.0) if x is not None)
                        st.cond.wait(max(wait, 0.01))
                        if bookmarks and time.monotonic() >= next_bookmark:
                            w.queue.append(("BOOKMARK", None))
                            next_bookmark = time.monotonic() + s.opts.bookmark_interval
                    events, w.queue = w.queue, []
                    closed = w.closed or (end is not None and time.monotonic() >= end)
                    cur_rv = st.rv
                for etype, obj in events:
                    if etype == "BOOKMARK":
                        meta = {"resourceVersion": str(cur_rv)}
                        if obj == "initial-events-end":
                            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
                        obj = {"kind": RESOURCES[res]["kind"], "apiVersion": api_version(res), "metadata": meta}
                    if target:
                        obj = as_partial(obj)
                    self.chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")
                if closed and not events:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return
        finally:
            with st.cond:
                if w in st.watchers:
                    st.watchers.remove(w)


# ---------------------------------------------------------------------------

def gen_certs(d):
    """A CA and a server certificate for 127.0.0.1, ::1 and localhost, made
    with the openssl command (no shell)."""
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)  # noqa: E731

    def run(*argv):
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2", "-subj", "/CN=kyborg-standin-ca",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=kube-apiserver")
    with open(p("server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes.default.svc\n"
                "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n")
    run("openssl", "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-out", p("server.crt"), "-days", "2", "-extfile", p("server.ext"))
    for n in ("server.csr", "server.ext", "ca.srl"):
        try:
            os.unlink(p(n))
        except FileNotFoundError:
            pass
    os.chmod(p("ca.key"), 0o600)
    os.chmod(p("server.key"), 0o600)


def main():
    ap = argparse.ArgumentParser(description="kube-apiserver stand-in (see the file's docstring)")
    ap.add_argument("--gen-certs", metavar="DIR")
    ap.add_argument("--cert-dir")
    ap.add_argument("--token-file")
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--feature-gates", default="")
    ap.add_argument("--anonymous-auth", action="store_true")
    ap.add_argument("--bookmark-interval", type=float, default=60.0)
    ap.add_argument("--watch-timeout", type=float, default=0.0)
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()
    if opts.gen_certs:
        gen_certs(opts.gen_certs)
        return 0
    if not opts.cert_dir or not opts.token_file:
        ap.error("--cert-dir and --token-file are needed to serve")
    gates = {g: True for g in GATES}
    for item in filter(None, opts.feature_gates.split(",")):
        k, _, v = item.partition("=")
        if k not in gates:
            ap.error("unknown feature gate %s" % k)
        gates[k] = v.lower() in ("true", "1")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(opts.cert_dir, "server.crt"), os.path.join(opts.cert_dir, "server.key"))
    srv = Server((opts.address, opts.port), Handler, ctx, Store(gates), opts)
    port = srv.server_address[1]
    if opts.port_file:
        tmp = opts.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, opts.port_file)
    host = "[%s]" % opts.address if ":" in opts.address else opts.address
    sys.stdout.write("listening on https://%s:%d\n" % (host, port))
    sys.stdout.flush()
    stop = threading.Event()

    def on_signal(*_):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    stop.wait()
    with srv.store.cond:
        for w in srv.store.watchers:
            w.closed = True
        srv.store.cond.notify_all()
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
