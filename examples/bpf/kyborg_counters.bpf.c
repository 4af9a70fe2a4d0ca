/* Per-pod packet and byte counters on the pod's interface, inside its
 * netns: kyborg_count_ingress on tc ingress (packets to the pod),
 * kyborg_count_egress on tc egress (packets the pod sends), and
 * kyborg_count_xdp, the ingress counter as an XDP program. The CNI loads an
 * object once per pod, so programs of one object attached to both hooks
 * share one kyborg_counters map. They never change a packet's fate: the tc
 * programs return TC_ACT_UNSPEC, which lets the next filter on the hook
 * run (TC_ACT_OK would end the hook's filter chain there). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "kyborg_pod.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct kyborg_counter);
} kyborg_counters SEC(".maps");

static __always_inline void count(__u32 dir, __u64 bytes)
{
	struct kyborg_counter *c = bpf_map_lookup_elem(&kyborg_counters, &dir);
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, bytes);
	}
}

SEC("tc")
int kyborg_count_ingress(struct __sk_buff *skb)
{
	count(KYBORG_DIR_INGRESS, skb->len);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int kyborg_count_egress(struct __sk_buff *skb)
{
	count(KYBORG_DIR_EGRESS, skb->len);
	return TC_ACT_UNSPEC;
}

SEC("xdp")
int kyborg_count_xdp(struct xdp_md *ctx)
{
	count(KYBORG_DIR_INGRESS, (__u64)(ctx->data_end - ctx->data));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
