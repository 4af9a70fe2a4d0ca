/* Map layouts shared by Kyborg's per-pod BPF programs, the CNI plugin that
 * fills them and whoever reads them (bpftool, the demo). Included by BPF C
 * (clang -target bpf, with <linux/types.h>) and by user space alike: fixed
 * widths only, no pointers, explicit padding.
 *
 * kyborg_pod    ARRAY, 1 entry, key __u32 0, value struct kyborg_pod:
 *               the pod's identity, written by the CNI ADD before it
 *               attaches a program, so one object serves every pod.
 * kyborg_drops  ARRAY, KYBORG_DROP_NREASONS entries, key __u32 reason
 *               (enum kyborg_drop_reason), value __u64 packets dropped.
 * kyborg_counters ARRAY, 2 entries, key __u32 KYBORG_DIR_INGRESS (0: to the
 *               pod) or KYBORG_DIR_EGRESS (1: from the pod), value
 *               struct kyborg_counter. */
#ifndef KYBORG_POD_H
#define KYBORG_POD_H

#include <linux/types.h>

#define KYBORG_POD_MAP "kyborg_pod"
#define KYBORG_POD_MAX_IPV4 4
#define KYBORG_POD_MAX_IPV6 4

struct kyborg_pod {
	__u8 mac[6];          /* the pod interface's MAC */
	__u8 n_ipv4;          /* valid entries of ipv4[] */
	__u8 n_ipv6;          /* valid entries of ipv6[] */
	__u32 ifindex;        /* the interface's index inside the pod netns */
	__u32 ipv4[KYBORG_POD_MAX_IPV4];     /* network byte order */
	__u8 ipv6[KYBORG_POD_MAX_IPV6][16];  /* network byte order */
};

enum kyborg_drop_reason {
	KYBORG_DROP_SRC_MAC = 0,  /* Ethernet source is not the pod's MAC */
	KYBORG_DROP_SRC_IPV4 = 1, /* IPv4 source is none of the pod's */
	KYBORG_DROP_SRC_IPV6 = 2, /* IPv6 source is none of the pod's (nor link-local, nor ::) */
	KYBORG_DROP_ARP = 3,      /* ARP sender MAC or IPv4 is not the pod's */
	KYBORG_DROP_VLAN = 4,     /* more than two VLAN tags in the frame, or a cut one */
	KYBORG_DROP_NREASONS = 5,
};

enum kyborg_dir {
	KYBORG_DIR_INGRESS = 0, /* tc ingress / XDP on the pod interface: packets to the pod */
	KYBORG_DIR_EGRESS = 1,  /* tc egress on the pod interface: packets the pod sends */
};

struct kyborg_counter {
	__u64 packets;
	__u64 bytes;
};

#endif
