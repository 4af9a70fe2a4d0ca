/* cls_bpf filters with hardware-offload flags, as raw rtnetlink messages:
 * libbpf's bpf_tc_attach() (1.1) sets no skip_sw or skip_hw and reads back
 * no in_hw, which a program required in hardware needs. Private to
 * common/src/bpf_prog.c; `nl` is a socket in the interface's netns. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ky_error;
struct ky_nl;

/* A cls_bpf filter as the kernel reports it. */
struct ky_tc_bpf_info {
	uint32_t prog_id;
	uint32_t gen_flags; /* TCA_CLS_FLAGS_* (skip_sw, skip_hw, in_hw, not_in_hw) */
};

/* Adds program prog_fd (prog_id, named `name`) in direct-action mode at
 * handle and prio of the hook, with the gen_flags given (skip_sw,
 * skip_hw or none); out is the filter the kernel echoed. -EEXIST when the
 * place is taken, the kernel's error (its extended ack in the message)
 * otherwise. */
int ky_tc_bpf_add(struct ky_nl *nl, int ifindex, bool egress, uint32_t handle, uint32_t prio, int prog_fd,
		  uint32_t prog_id, const char *name, uint32_t gen_flags, struct ky_tc_bpf_info *out,
		  struct ky_error **err);
/* The cls_bpf filter at handle and prio of the hook: 0, or -ENOENT when
 * there is none (no such filter, no clsact, no device). */
int ky_tc_bpf_get(struct ky_nl *nl, int ifindex, bool egress, uint32_t handle, uint32_t prio,
		  struct ky_tc_bpf_info *out, struct ky_error **err);
