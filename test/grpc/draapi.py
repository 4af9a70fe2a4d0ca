"""Message classes of dra/proto/*.proto (kubelet's plugin registration, DRA
v1 and v1beta1, DRA health v1alpha1 and v1), built at run time from the
FileDescriptorSet protoc-c wrote (no protoc or grpc-tools needed).

load(desc) returns an object with one namespace per API, since the packages
share message names (Device, Claim, ...):
  api.reg       pluginregistration            (PluginInfo, InfoRequest, ...)
  api.v1        k8s.io.kubelet.pkg.apis.dra.v1
  api.v1beta1   k8s.io.kubelet.pkg.apis.dra.v1beta1
  api.health    {"v1alpha1": ns, "v1": ns}    (dra-health)
Each namespace also has .package (the proto package) and, for enums, the
enum value names and numbers as attributes (HEALTHY, ...)."""
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

REG = "pluginregistration"
DRA_V1 = "k8s.io.kubelet.pkg.apis.dra.v1"
DRA_V1BETA1 = "k8s.io.kubelet.pkg.apis.dra.v1beta1"
HEALTH = ("v1alpha1", "v1")


class Namespace:
    def __init__(self, package):
        self.package = package


def _prototype(factory, desc):
    # protobuf >= 4.21 has GetMessageClass; older ones GetPrototype.
    get = getattr(message_factory, "GetMessageClass", None)
    return get(desc) if get else factory.GetPrototype(desc)


def load(desc_path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(desc_path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    spaces = {}
    for fd in fds.file:
        ns = spaces.setdefault(fd.package, Namespace(fd.package))
        for m in fd.message_type:
            setattr(ns, m.name, _prototype(factory, pool.FindMessageTypeByName(fd.package + "." + m.name)))
        for e in fd.enum_type:
            for v in e.value:
                setattr(ns, v.name, v.number)
            setattr(ns, e.name + "_names", {v.number: v.name for v in e.value})

    class Api:
        pass

    api = Api()
    api.reg = spaces[REG]
    api.v1 = spaces[DRA_V1]
    api.v1beta1 = spaces[DRA_V1BETA1]
    api.health = {v: spaces[v] for v in HEALTH if v in spaces}
    return api
