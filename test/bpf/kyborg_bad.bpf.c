/* For tests: a tc program the verifier refuses (it reads packet data
 * without checking data_end), and a good one beside it. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int kyborg_unchecked_read(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	return data[12] == 0x08 ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int kyborg_fine(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
