/* A tc filter request on an interface's clsact hook, the header that the
 * flower rules (tc_flower.c) and the cls_bpf programs (tc_bpf.c) share.
 * Private to common/src/tc_*.c. */
#pragma once

#include <netlink/msg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* RTM_*TFILTER for handle at priority prio (0: the kernel's choice) of
 * the ingress or egress hook of ifindex; proto in host order (ETH_P_*).
 * NULL when out of memory. */
struct nl_msg *ky_tc_filter_msg(int type, int flags, int ifindex, bool egress, uint32_t handle, uint32_t prio,
				uint16_t proto);

struct ky_nl;
struct ky_error;
/* The first priority no filter of any kind holds on the hook, from hint
 * on by step (+1 or -1), among 64; the kernel's own answer to a query for
 * one place cannot tell a free priority from one that another kind of
 * filter holds, so this reads the hook's whole list. -EBUSY when none. */
int ky_tc_free_prio(struct ky_nl *nl, int ifindex, bool egress, uint32_t hint, int step, uint32_t *prio,
		    struct ky_error **err);
