/* For tests: someone else's tc program, loaded by tc(8) itself ("sec
 * classifier"), that the CNI must leave alone on a hook it shares. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("classifier")
int kyborg_someone_else(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
