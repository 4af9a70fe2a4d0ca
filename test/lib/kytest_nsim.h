/* netdevsim devices for the kernel tier (scripts/kernel-tier/): a PF with
 * simulated SR-IOV VFs made through /sys/bus/netdevsim, and its links and
 * VFs read back as iproute2 reports them. Only the tier's guest has the
 * driver; there is no udev there, so nothing waits for it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

struct kyt_nsim {
	unsigned id;        /* netdevsim<id> on the bus, unique to the process */
	char pf[16];        /* the PF port's netdev */
	char devlink[40];   /* "netdevsim/netdevsim<id>" */
};

/* Creates a one-port device in the caller's netns (its netdevs and its
 * devlink instance live there) and waits, with a deadline, for the PF's
 * netdev. Then sets num_vfs VFs (netdevsim allows at most 4). 0 or -errno. */
int kyt_nsim_new(struct kyt_nsim *n, unsigned num_vfs);
/* Deletes the device; safe on a zeroed or already deleted one. */
void kyt_nsim_del(struct kyt_nsim *n);
/* Writes sriov_numvfs: 0 or -errno as the driver answers (-EBUSY when
 * changing a non-zero count, -ENOMEM above the device's maximum). */
int kyt_nsim_set_num_vfs(const struct kyt_nsim *n, unsigned num_vfs);

/* The netdev of this device whose phys_port_name is port ("pf0vf1" for
 * VF 1's representor in switchdev mode), looked up with `ip -d -j link` in
 * the caller's netns, since sysfs there lists init_net's netdevs only. */
bool kyt_nsim_port_netdev(const struct kyt_nsim *n, const char *port, char *ifname, size_t size);

/* Entry `vf` of the "vfinfo_list" of `ip -j link show dev pf` (the caller
 * deletes it with cJSON_Delete), NULL when absent. */
struct cJSON *kyt_ip_vf(const char *pf, unsigned vf);
/* Number of entries in that list, -1 when the link is absent. */
int kyt_ip_vf_count(const char *pf);
