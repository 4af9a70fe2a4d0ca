/* Where the files that cross binaries live on a node by default: each
 * binary takes another path from its config or command line, and these
 * are the defaults the CNI plugin, the device plugin and kyborgctl agree
 * on. */
#pragma once

/* The CNI plugin's attachment records (its config's stateDir). */
#define KY_CNI_STATE_DIR_DEFAULT "/var/lib/cni/kyborg"
/* The device plugin's state: allocations/ (state/dp_record.h) and the
 * image cache images/, shared with kyborgctl. */
#define KY_DP_STATE_DIR_DEFAULT "/var/lib/kyborg"
/* Kubelet's device-plugin directory: its socket, ours beside it, and its
 * checkpoint of the devices it assigned to containers. */
#define KY_KUBELET_PLUGIN_DIR_DEFAULT "/var/lib/kubelet/device-plugins"
#define KY_KUBELET_CHECKPOINT_DEFAULT KY_KUBELET_PLUGIN_DIR_DEFAULT "/kubelet_internal_checkpoint"
