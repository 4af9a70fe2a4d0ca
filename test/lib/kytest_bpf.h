/* BPF fixtures: follow a program by its pin and its id. A test that uses
 * them links libbpf itself (the plugin only dlopens it). */
#pragma once

#include <stdbool.h>
#include <linux/types.h>

/* The id of the program pinned at path, 0 when the pin is gone. */
__u32 kyt_bpf_pinned_prog_id(const char *path);

/* kyt_wait_until() condition: no program has the id *(__u32 *)arg any more. */
bool kyt_bpf_prog_gone(void *arg);
