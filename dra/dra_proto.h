/* Short names for the protoc-c types of kubelet's DRA APIs (dra/proto):
 * v1 serves v1beta1 too, the messages being the same on the wire but for
 * v1's share_id, which a v1beta1 answer leaves empty (not written). */
#pragma once

#include "dra_health_v1alpha1.pb-c.h"
#include "dra_v1.pb-c.h"
#include "pluginregistration_v1.pb-c.h"

typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Claim dra_pb_claim;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Device dra_pb_device;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesRequest dra_pb_prepare_req;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesResponse dra_pb_prepare_resp;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesResponse__ClaimsEntry dra_pb_prepare_entry;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourceResponse dra_pb_prepare_claim;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourcesRequest dra_pb_unprepare_req;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourcesResponse dra_pb_unprepare_resp;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourcesResponse__ClaimsEntry dra_pb_unprepare_entry;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourceResponse dra_pb_unprepare_claim;

#define DRA_PB_PREFIX_V1 "/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/"
#define DRA_PB_PREFIX_V1BETA1 "/k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin/"
#define DRA_PB_HEALTH_WATCH "/v1alpha1.DRAResourceHealth/NodeWatchResources"
#define DRA_PB_REGISTRATION "/pluginregistration.Registration/"
