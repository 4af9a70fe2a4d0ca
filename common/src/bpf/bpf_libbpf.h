/* libbpf, loaded on first use with dlopen("libbpf.so.1"): a binary that
 * links libkyborg maps libbpf (and libelf and libz under it) only when it
 * really works with BPF. The CNI plugin is exec'd twice per pod and most
 * pods have no programs: linking libbpf would cost every one of them its
 * start-up (see docs/bpf.md). Private to common/src/bpf/. */
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct ky_error;

#define KY_LIBBPF_FUNCS(X)                                                                                   \
	X(libbpf_set_print)                                                                                  \
	X(bpf_object__open_mem)                                                                              \
	X(bpf_object__load)                                                                                  \
	X(bpf_object__close)                                                                                 \
	X(bpf_object__next_program)                                                                          \
	X(bpf_object__next_map)                                                                              \
	X(bpf_object__find_program_by_name)                                                                  \
	X(bpf_object__find_map_by_name)                                                                      \
	X(bpf_program__set_autoload)                                                                         \
	X(bpf_program__autoload)                                                                             \
	X(bpf_program__name)                                                                                 \
	X(bpf_program__fd)                                                                                   \
	X(bpf_program__type)                                                                                 \
	X(bpf_program__set_ifindex)                                                                          \
	X(bpf_map__set_ifindex)                                                                              \
	X(bpf_map__name)                                                                                     \
	X(bpf_map__pin_path)                                                                                 \
	X(bpf_map__fd)                                                                                       \
	X(bpf_map__value_size)                                                                               \
	X(bpf_map_update_elem)                                                                               \
	X(bpf_obj_pin)                                                                                       \
	X(bpf_obj_get)                                                                                       \
	X(bpf_obj_get_info_by_fd)                                                                            \
	X(bpf_prog_get_fd_by_id)                                                                             \
	X(bpf_tc_hook_create)                                                                                \
	X(bpf_tc_hook_destroy)                                                                               \
	X(bpf_tc_attach)                                                                                     \
	X(bpf_tc_detach)                                                                                     \
	X(bpf_tc_query)                                                                                      \
	X(bpf_xdp_attach)                                                                                    \
	X(bpf_xdp_query_id)

struct ky_libbpf {
#define KY_LIBBPF_PTR(f) __typeof__(&f) f;
	KY_LIBBPF_FUNCS(KY_LIBBPF_PTR)
#undef KY_LIBBPF_PTR
};

/* The table, loaded once per process; -ENOENT (libbpf is not installed) or
 * -ENOSYS (a symbol is missing) with a message naming it. */
int ky_libbpf_get(const struct ky_libbpf **out, struct ky_error **err);
/* The last lines libbpf logged (the verifier's complaint), "" when none;
 * cleared by ky_libbpf_log_reset. */
const char *ky_libbpf_log_tail(void);
void ky_libbpf_log_reset(void);
