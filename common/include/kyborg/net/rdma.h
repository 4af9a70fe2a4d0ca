/* RDMA devices over the kernel's RDMA netlink (NETLINK_RDMA, the nldev
 * client that iproute2's `rdma` speaks): the netns mode of the RDMA
 * subsystem, the RDMA device whose port is a netdev, and moving an RDMA
 * device into another netns. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ky_error;
struct ky_nl;

/* `rdma system`'s netns mode: shared, every netns sees every RDMA device;
 * exclusive, a device belongs to one netns and is moved like a netdev. */
enum ky_rdma_netns_mode { KY_RDMA_NETNS_SHARED, KY_RDMA_NETNS_EXCLUSIVE };

#define KY_RDMA_NAME_MAX 64 /* IB_DEVICE_NAME_MAX */

struct ky_rdma_dev {
	uint32_t index;
	char name[KY_RDMA_NAME_MAX];
};

/* Whether the node has any RDMA device its netns can see (its
 * /sys/class/infiniband lists one): the test before any RDMA netlink, so
 * that a node without RDMA pays one opendir. */
bool ky_rdma_present(void);

/* An RDMA netlink socket in the calling thread's netns (ky_nl_close). */
int ky_rdma_open(struct ky_nl **out, struct ky_error **err);
int ky_rdma_netns_mode(struct ky_nl *nl, enum ky_rdma_netns_mode *out, struct ky_error **err);
/* Only while no netns but the initial one exists (the kernel's rule). */
int ky_rdma_set_netns_mode(struct ky_nl *nl, enum ky_rdma_netns_mode mode, struct ky_error **err);
/* The RDMA device with a port on the netdev ifindex of the socket's netns
 * (the kernel reports a port's netdev only to its own netns): -ENODEV when
 * none has. */
int ky_rdma_find_by_netdev(struct ky_nl *nl, int ifindex, struct ky_rdma_dev *out, struct ky_error **err);
/* The RDMA device called name among those the socket's netns sees: -ENODEV
 * when none. */
int ky_rdma_find_by_name(struct ky_nl *nl, const char *name, struct ky_rdma_dev *out, struct ky_error **err);
/* Moves the device into the netns netns_fd (exclusive mode only). The
 * kernel takes the calling thread's netns as the one the device leaves:
 * call it from there. -EOPNOTSUPP when its driver cannot (only drivers
 * that can disassociate their user contexts can: mlx4, mlx5, hns, irdma
 * in 6.1; not soft-RoCE). */
int ky_rdma_move_to_netns(struct ky_nl *nl, const struct ky_rdma_dev *dev, int netns_fd, struct ky_error **err);
