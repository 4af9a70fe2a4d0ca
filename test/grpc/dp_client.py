#!/usr/bin/python3
"""Plays kubelet's client side against a C gRPC server, with Debian's
python3-grpcio (the gRPC C core). Usage: dp_client.py MODE SOCKET DESC [ARG].
Exits 0 when every check of MODE held; says why on stderr otherwise."""
import os
import signal
import sys

import grpc

import dpapi

DP = "/v1beta1.DevicePlugin/"


def fail(msg):
    sys.stderr.write("dp_client: FAIL: %s\n" % msg)
    sys.exit(1)


def expect_code(fn, code, what):
    try:
        fn()
    except grpc.RpcError as e:
        if e.code() not in (code if isinstance(code, tuple) else (code,)):
            fail("%s: got %s %r, expected %s" % (what, e.code(), e.details(), code))
        return e
    fail("%s: succeeded, expected %s" % (what, code))


def main():
    mode, sock, desc = sys.argv[1:4]
    api = dpapi.load(desc)
    ch = grpc.insecure_channel("unix:" + sock)
    grpc.channel_ready_future(ch).result(timeout=10)

    def unary(name, req_cls, resp_cls):
        return ch.unary_unary(DP + name, request_serializer=req_cls.SerializeToString,
                              response_deserializer=resp_cls.FromString)

    options = unary("GetDevicePluginOptions", api.Empty, api.DevicePluginOptions)
    allocate = unary("Allocate", api.AllocateRequest, api.AllocateResponse)
    law = ch.unary_stream(DP + "ListAndWatch", request_serializer=api.Empty.SerializeToString,
                          response_deserializer=api.ListAndWatchResponse.FromString)

    if mode == "unary":
        o = options(api.Empty(), timeout=5)
        if not o.get_preferred_allocation_available or o.pre_start_required:
            fail("options: %r" % o)
        req = api.AllocateRequest()
        req.container_requests.add(devices_ids=["gpu-0", "gpu-1"])
        req.container_requests.add(devices_ids=["fpga-0"])
        r = allocate(req, timeout=5)
        envs = [dict(c.envs) for c in r.container_responses]
        if envs != [{"KY_DEVICES": "gpu-0,gpu-1"}, {"KY_DEVICES": "fpga-0"}]:
            fail("allocate echo: %r" % envs)
        if r.container_responses[0].devices[0].host_path != "/dev/gpu-0":
            fail("allocate device spec: %r" % r)
        # Errors carry their code and a percent-encoded message.
        bad = api.AllocateRequest()
        bad.container_requests.add(devices_ids=["nope"])
        e = expect_code(lambda: allocate(bad, timeout=5), grpc.StatusCode.INVALID_ARGUMENT, "unknown id")
        if e.details() != "unknown device nope: 100% ✗":
            fail("grpc-message round trip: %r" % e.details())
        # Unknown methods, on a known and an unknown service.
        nope = ch.unary_unary(DP + "Nope")
        expect_code(lambda: nope(b"", timeout=5), grpc.StatusCode.UNIMPLEMENTED, "unknown method")
        other = ch.unary_unary("/other.Service/Call")
        expect_code(lambda: other(b"", timeout=5), grpc.StatusCode.UNIMPLEMENTED, "unknown service")
        # A message over the server's 4 MiB limit, refused before it is read.
        big = api.AllocateRequest()
        big.container_requests.add(devices_ids=["x" * (5 * 1024 * 1024)])
        expect_code(lambda: allocate(big, timeout=10), grpc.StatusCode.RESOURCE_EXHAUSTED, "oversized")
        # A compressed message: we announce identity only.
        expect_code(lambda: allocate(req, timeout=5, compression=grpc.Compression.Gzip),
                    (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL), "compressed")
        # The connection still serves after all of that.
        if dict(allocate(req, timeout=5).container_responses[1].envs) != {"KY_DEVICES": "fpga-0"}:
            fail("allocate after errors")
        # A deadline on a stream the server never ends.
        def drain():
            for _ in law(api.Empty(), timeout=0.3):
                pass
        expect_code(drain, grpc.StatusCode.DEADLINE_EXCEEDED, "stream deadline")
        return 0

    if mode == "watch":
        want = int(sys.argv[4])
        n = int(sys.argv[5]) if len(sys.argv) > 5 else 3
        last = -1
        got = 0
        for resp in law(api.Empty(), timeout=30):
            ids = [d.ID for d in resp.devices]
            if len(ids) != n or any(d.health != "Healthy" for d in resp.devices):
                fail("not a full healthy list of %d: %d devices" % (n, len(ids)))
            if n > 3 and any(len(i) > 63 for i in ids):
                fail("an ID over kubelet's 63 characters")
            if len(set(ids)) != n:
                fail("duplicate IDs in the list")
            if resp.devices[0].topology.nodes[0].ID != 1:
                fail("topology: %r" % resp.devices[0])
            gen = int(ids[0].split("-")[1])
            if gen <= last:
                fail("generation went from %d to %d" % (last, gen))
            last = gen
            got += 1
            if got == want:
                return 0
        fail("stream ended after %d messages" % got)

    if mode == "vanish":
        # Read two updates, then die without a word: no RST_STREAM, no GOAWAY.
        n = 0
        for _ in law(api.Empty(), timeout=30):
            n += 1
            if n == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        fail("stream ended early")

    fail("unknown mode %s" % mode)


if __name__ == "__main__":
    sys.exit(main())
