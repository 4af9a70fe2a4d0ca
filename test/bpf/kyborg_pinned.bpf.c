/* For tests: a tc program whose map asks libbpf to pin it by name
 * (LIBBPF_PIN_BY_NAME). libbpf's default pin root is /sys/fs/bpf, where
 * the map would outlive the attachment, or be another component's map
 * reused; the CNI must pin it inside the attachment's own directory. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kyt_pinned_map SEC(".maps");

SEC("tc")
int kyborg_count_pinned(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&kyt_pinned_map, &key);
	(void)skb;
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
