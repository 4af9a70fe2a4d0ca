/* GetPreferredAllocation's choice (must-include first, one NUMA node,
 * replicas packed or spread). Pure. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "dp.h"
#include "fake_node.h"
#include "kyborg/base/error.h"

static struct ky_device_config *cfg;
static struct ky_devlist *lists;

/* The GPUs go to kyborg.io/gpu (the first match) unless `spread` names
 * the same GPUs first. */
#define CONFIG(gpu_strategy)                                                                                   \
	"{\"resources\":["                                                                                      \
	"{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]},"                \
	"  \"sharing\":{\"replicas\":2,\"strategy\":\"" gpu_strategy "\"}},"                                     \
	"{\"name\":\"kyborg.io/fpga-nlb\",\"kind\":\"fpga\",\"selector\":{\"vendors\":[\"8086\"]}},"    \
	"{\"name\":\"kyborg.io/sriov-vf\",\"kind\":\"nic-vf\",\"selector\":{\"pfNames\":[\"ens1f0\"]}}]}"

enum { GPU, FPGA, VF };

static const char *config = CONFIG("pack");

static void build(void)
{
	_cleanup_error_ struct ky_error *err = NULL;
	if (cfg) {
		ky_devlists_free(lists, cfg->n_resources);
		ky_device_config_free(cfg);
	}
	cr_assert_eq(ky_device_config_parse(config, strlen(config), &cfg, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_devices_build(cfg, &fake_node, &lists, &err), 0, "%s", ky_error_msg(err));
}

static void setup(void)
{
	fake_node_init();
	build();
}

static void teardown(void)
{
	ky_devlists_free(lists, cfg->n_resources);
	ky_device_config_free(cfg);
	cfg = NULL;
	lists = NULL;
}

/* ---- GetPreferredAllocation ---- */

TestSuite(dp_preferred, .init = setup, .fini = teardown);

#define G0(i) "0000:3b:00.0::" #i
#define G1(i) "0000:86:00.0::" #i

static void assert_preferred(int res, const char *const *avail, size_t n_avail, const char *const *must,
			     size_t n_must, size_t size, const char *const *want, size_t n_want)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ const char **got = NULL;
	size_t n = 0;
	cr_assert_eq(dp_preferred(&cfg->resources[res], &lists[res], avail, n_avail, must, n_must, size, &got, &n,
				  &err),
		     0, "%s", ky_error_msg(err));
	cr_assert_eq(n, n_want, "%zu chosen, want %zu", n, n_want);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(got[i], want[i], "choice %zu", i);
}

Test(dp_preferred, must_include_comes_first_and_its_numa_node_is_filled)
{
	static const char *const avail[] = { G0(0), G0(1), G1(0), G1(1) }, *const must[] = { G1(1) };
	static const char *const want[] = { G1(1), G1(0) };
	assert_preferred(GPU, avail, 4, must, 1, 2, want, 2);
}

Test(dp_preferred, the_lowest_numa_node_that_holds_everything)
{
	static const char *const avail[] = { G0(0), G1(0), G0(1), G1(1) };
	static const char *const want[] = { G0(0), G0(1) };
	assert_preferred(GPU, avail, 4, NULL, 0, 2, want, 2);
}

Test(dp_preferred, a_node_that_holds_enough_beats_kubelet_order)
{
	static const char *const avail[] = { G0(0), G1(0), G1(1) };
	static const char *const want[] = { G1(0), G1(1) };
	assert_preferred(GPU, avail, 3, NULL, 0, 2, want, 2);
}

Test(dp_preferred, across_nodes_when_none_holds_enough)
{
	static const char *const avail[] = { G1(0), G0(0), G1(1) };
	static const char *const want[] = { G1(0), G1(1), G0(0) };
	assert_preferred(GPU, avail, 3, NULL, 0, 3, want, 3);
}

Test(dp_preferred, pack_fills_one_gpu_and_spread_takes_one_replica_of_each)
{
	fake_devs[FAKE_GPU1].numa_node = 0; /* both on one node: only the strategy decides */
	build();
	static const char *const avail[] = { G0(0), G0(1), G1(0), G1(1) };
	static const char *const packed[] = { G0(0), G0(1) }, *const spread[] = { G0(0), G1(0) };
	static const char *const must[] = { G1(1) };
	static const char *const packed_must[] = { G1(1), G1(0) }, *const spread_must[] = { G1(1), G0(0) };
	assert_preferred(GPU, avail, 4, NULL, 0, 2, packed, 2);
	assert_preferred(GPU, avail, 4, must, 1, 2, packed_must, 2);
	config = CONFIG("spread");
	build();
	config = CONFIG("pack");
	assert_preferred(GPU, avail, 4, NULL, 0, 2, spread, 2);
	assert_preferred(GPU, avail, 4, must, 1, 2, spread_must, 2);
}

Test(dp_preferred, unknown_and_unhealthy_devices_are_never_offered)
{
	fake_devs[FAKE_GPU0].driver = NULL;
	build();
	static const char *const avail[] = { "nope", G0(0), G0(1), G1(1) };
	static const char *const want[] = { G1(1) };
	assert_preferred(GPU, avail, 4, NULL, 0, 3, want, 1);
}

Test(dp_preferred, size_zero_or_all_must_include_returns_them)
{
	static const char *const avail[] = { G0(0), G0(1) }, *const must[] = { G0(1), G0(1) };
	static const char *const want[] = { G0(1) };
	assert_preferred(GPU, avail, 2, must, 2, 1, want, 1);
	assert_preferred(GPU, avail, 2, NULL, 0, 0, NULL, 0);
}

/* allocation_size is the peer's: INT32_MAX once sized two arrays of 16 GiB
 * each. Here a 1 GiB address-space limit makes such an allocation fail
 * (ENOMEM); under ASan, whose shadow needs the space, the sanitizer itself
 * refuses an allocation that size. */
Test(dp_preferred, a_huge_allocation_size_is_clamped_to_what_is_offered)
{
#if !defined(__SANITIZE_ADDRESS__)
	struct rlimit lim = { .rlim_cur = 1ul << 30, .rlim_max = 1ul << 30 };
	cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
#endif
	static const char *const avail[] = { G0(0), G0(1), G1(0) };
	static const char *const want[] = { G0(0), G0(1), G1(0) };
	assert_preferred(GPU, avail, 3, NULL, 0, 2147483647u, want, 3);
}
