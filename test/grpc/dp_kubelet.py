#!/usr/bin/python3
"""Plays kubelet's calls to one of kyborg-device-plugin's sockets, with
Debian's python3-grpcio, and prints what came back as one JSON document on
stdout for the C test to check. Usage: dp_kubelet.py MODE SOCKET DESC [ARGS]
  options                    -> {"pre_start_required": b, "get_preferred_allocation_available": b}
  list                       -> the first ListAndWatch message: [{"id", "health", "numa": [..]}]
  allocate IDS [IDS...]      -> {"code": "OK", "containers": [{"envs", "devices", "cdi"}]}
                                or {"code": "INVALID_ARGUMENT", "details": "..."};
                                IDS is one container's comma-separated device IDs
  preferred SIZE AVAIL MUST  -> {"code": "OK", "ids": [..]} (AVAIL, MUST comma-separated, may be "")
  prestart IDS               -> {"code": ...}
  watch N                    -> each of the first N ListAndWatch messages as one line, flushed at once"""
import json
import sys

import grpc

import dpapi

DP = "/v1beta1.DevicePlugin/"


def ids(arg):
    return [i for i in arg.split(",") if i]


def main():
    mode, sock, desc = sys.argv[1:4]
    args = sys.argv[4:]
    api = dpapi.load(desc)
    ch = grpc.insecure_channel("unix:" + sock)
    grpc.channel_ready_future(ch).result(timeout=10)

    def unary(name, req_cls, resp_cls):
        return ch.unary_unary(DP + name, request_serializer=req_cls.SerializeToString,
                              response_deserializer=resp_cls.FromString)

    def call(fn, req):
        try:
            return fn(req, timeout=10), None
        except grpc.RpcError as e:
            return None, {"code": e.code().name, "details": e.details()}

    out = None
    if mode == "options":
        o = unary("GetDevicePluginOptions", api.Empty, api.DevicePluginOptions)(api.Empty(), timeout=10)
        out = {"pre_start_required": o.pre_start_required,
               "get_preferred_allocation_available": o.get_preferred_allocation_available}
    elif mode == "list":
        law = ch.unary_stream(DP + "ListAndWatch", request_serializer=api.Empty.SerializeToString,
                              response_deserializer=api.ListAndWatchResponse.FromString)
        stream = law(api.Empty(), timeout=10)
        first = next(stream)
        stream.cancel()
        out = [{"id": d.ID, "health": d.health, "numa": [n.ID for n in d.topology.nodes]}
               for d in first.devices]
    elif mode == "watch":
        law = ch.unary_stream(DP + "ListAndWatch", request_serializer=api.Empty.SerializeToString,
                              response_deserializer=api.ListAndWatchResponse.FromString)
        want = int(args[0])
        for n, msg in enumerate(law(api.Empty(), timeout=60), 1):
            json.dump([{"id": d.ID, "health": d.health, "numa": [x.ID for x in d.topology.nodes]}
                       for d in msg.devices], sys.stdout)
            sys.stdout.write("\n")
            sys.stdout.flush()
            if n == want:
                return 0
        sys.stderr.write("dp_kubelet: the stream ended early\n")
        return 1
    elif mode == "allocate":
        req = api.AllocateRequest()
        for a in args:
            req.container_requests.add(devices_ids=ids(a))
        r, err = call(unary("Allocate", api.AllocateRequest, api.AllocateResponse), req)
        if err:
            out = err
        else:
            out = {"code": "OK", "containers": [
                {"envs": dict(c.envs),
                 "devices": [[d.host_path, d.container_path, d.permissions] for d in c.devices],
                 "annotations": dict(c.annotations),
                 "cdi": [d.name for d in c.cdi_devices]} for c in r.container_responses]}
    elif mode == "preferred":
        req = api.PreferredAllocationRequest()
        req.container_requests.add(allocation_size=int(args[0]), available_deviceIDs=ids(args[1]),
                                   must_include_deviceIDs=ids(args[2]))
        r, err = call(unary("GetPreferredAllocation", api.PreferredAllocationRequest,
                            api.PreferredAllocationResponse), req)
        out = err or {"code": "OK", "ids": list(r.container_responses[0].deviceIDs)}
    elif mode == "prestart":
        req = api.PreStartContainerRequest(devices_ids=ids(args[0]))
        r, err = call(unary("PreStartContainer", api.PreStartContainerRequest, api.PreStartContainerResponse), req)
        out = err or {"code": "OK"}
    else:
        sys.stderr.write("dp_kubelet: unknown mode %s\n" % mode)
        return 2
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
