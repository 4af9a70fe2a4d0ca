/* Where the files that cross binaries live on a node by default: each
 * binary takes another path from its config or command line, and these
 * are the defaults the CNI plugin, the device plugin, the DRA driver and
 * kyborgctl agree on. */
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
/* The DRA driver's state: dra-claims/ (state/dra_record.h), beside the
 * device plugin's, sharing its image cache images/. */
#define KY_DRA_STATE_DIR_DEFAULT KY_DP_STATE_DIR_DEFAULT
/* Kubelet's plugin registration directory, and the directory under which
 * each DRA driver has its own (<dir>/<driver name>/dra.sock). */
#define KY_KUBELET_PLUGINS_REGISTRY_DEFAULT "/var/lib/kubelet/plugins_registry"
#define KY_KUBELET_PLUGINS_DEFAULT "/var/lib/kubelet/plugins"
/* Where CDI specs go (a tmpfs: a reboot empties it). */
#define KY_CDI_DIR_DEFAULT "/var/run/cdi"
