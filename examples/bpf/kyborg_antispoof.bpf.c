/* Anti-spoofing for one pod, on tc egress of the pod's interface inside its
 * netns (the packets the pod sends): a frame leaves only with the pod's
 * source MAC and, per address family the pod has addresses in, one of its
 * source addresses; ARP only with the pod's sender MAC and IPv4. Everything
 * else is dropped and counted by reason in kyborg_drops. The pod's identity
 * comes from the kyborg_pod map, which the CNI ADD fills. What passes gets
 * TC_ACT_UNSPEC: the hook's next filter still runs (TC_ACT_OK would end
 * the chain there). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "kyborg_pod.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kyborg_pod);
} kyborg_pod SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KYBORG_DROP_NREASONS);
	__type(key, __u32);
	__type(value, __u64);
} kyborg_drops SEC(".maps");

/* ARP for Ethernet and IPv4 (linux/if_arp.h pulls in libc headers that a
 * BPF target has not, and leaves this part commented out anyway). */
struct arp_eth_ipv4 {
	__be16 ar_hrd, ar_pro;
	__u8 ar_hln, ar_pln;
	__be16 ar_op;
	__u8 sha[ETH_ALEN];
	__u8 spa[4];
	__u8 tha[ETH_ALEN];
	__u8 tpa[4];
} __attribute__((packed));

/* An 802.1Q / 802.1ad tag as it stands in a frame, after the MAC addresses. */
struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

static __always_inline int drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&kyborg_drops, &reason);
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_SHOT;
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

static __always_inline int ipv4_ok(const struct kyborg_pod *pod, __u32 saddr)
{
#pragma unroll
	for (int i = 0; i < KYBORG_POD_MAX_IPV4; i++)
		if (i < pod->n_ipv4 && pod->ipv4[i] == saddr)
			return 1;
	return 0;
}

static __always_inline int ipv6_eq(const __u8 *a, const __u8 *b)
{
#pragma unroll
	for (int k = 0; k < 16; k++)
		if (a[k] != b[k])
			return 0;
	return 1;
}

static __always_inline int ipv6_ok(const struct kyborg_pod *pod, const struct in6_addr *s)
{
	/* Link-local sources (neighbour discovery) and the unspecified one
	 * (duplicate address detection) are the pod's whatever IPAM gave. */
	if ((s->s6_addr[0] == 0xfe && (s->s6_addr[1] & 0xc0) == 0x80))
		return 1;
	if ((s->s6_addr32[0] | s->s6_addr32[1] | s->s6_addr32[2] | s->s6_addr32[3]) == 0)
		return 1;
#pragma unroll
	for (int i = 0; i < KYBORG_POD_MAX_IPV6; i++)
		if (i < pod->n_ipv6 && ipv6_eq(pod->ipv6[i], s->s6_addr))
			return 1;
	return 0;
}

SEC("tc")
int kyborg_antispoof(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 zero = 0;
	const struct kyborg_pod *pod = bpf_map_lookup_elem(&kyborg_pod, &zero);
	struct ethhdr *eth = data;
	if (!pod || (void *)(eth + 1) > end)
		return TC_ACT_UNSPEC;
	if (!mac_eq(eth->h_source, pod->mac))
		return drop(KYBORG_DROP_SRC_MAC);
	/* A VLAN device's tag travels beside the packet (skb->vlan_tci), but a
	 * pod with a raw socket can write tags into the frame itself: look
	 * through up to two (802.1ad, then 802.1Q), so no tag hides a forged
	 * source behind it, and drop a frame with more or a cut one. */
	__be16 proto = eth->h_proto;
	void *l3 = eth + 1;
#pragma unroll
	for (int i = 0; i < 3; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_tag *tag = l3;
		if (i == 2 || (void *)(tag + 1) > end)
			return drop(KYBORG_DROP_VLAN);
		proto = tag->proto;
		l3 = tag + 1;
	}
	switch (proto) {
	case bpf_htons(ETH_P_IP): {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > end)
			return TC_ACT_SHOT;
		if (pod->n_ipv4 && !ipv4_ok(pod, ip->saddr))
			return drop(KYBORG_DROP_SRC_IPV4);
		break;
	}
	case bpf_htons(ETH_P_IPV6): {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > end)
			return TC_ACT_SHOT;
		if (pod->n_ipv6 && !ipv6_ok(pod, &ip6->saddr))
			return drop(KYBORG_DROP_SRC_IPV6);
		break;
	}
	case bpf_htons(ETH_P_ARP): {
		struct arp_eth_ipv4 *arp = l3;
		if ((void *)(arp + 1) > end)
			return TC_ACT_UNSPEC; /* not Ethernet/IPv4 ARP: nothing to compare */
		__u32 spa;
		__builtin_memcpy(&spa, arp->spa, 4);
		if (!mac_eq(arp->sha, pod->mac) || (pod->n_ipv4 && !ipv4_ok(pod, spa)))
			return drop(KYBORG_DROP_ARP);
		break;
	}
	}
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
