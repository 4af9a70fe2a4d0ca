/* A node's devices as the ResourceSlices of one pool (dra/dra_slices.c),
 * pure: the layout (sorted, split at 128, 64 with a taint), the objects
 * (checked with the API server's rules), their digests (blind to how the
 * server canonicalises what it stores) and the plan of writes with the
 * kubeletplugin helper's generation rule; and what the publisher keeps of
 * the server's slices (dra/dra_known.c). test_dra_publish runs the same
 * against the kube-apiserver stand-in. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dra_known.h"
#include "dra_slices.h"
#include "dra_validate.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"

TestSuite(dra_slices, .timeout = 30);

static const struct dra_pool pool_default = { .driver = "kyborg.io", .node = "node-a", .consumable = true,
					      .taints = true };

/* n VFs on buses 0x20.., 8 functions a slot, in reverse order of address
 * so that sorting is seen. */
static struct dra_dev *vfs(size_t n)
{
	struct dra_dev *d = calloc(n ? n : 1, sizeof(*d));
	cr_assert_not_null(d);
	for (size_t k = 0; k < n; k++) {
		size_t i = n - 1 - k;
		d[k] = (struct dra_dev){ .kind = DRA_KIND_VF, .vendor = 0x8086, .device = 0x1889, .numa_node = (int)(i % 2),
					 .iommu_group = (int)(100 + i), .vf_index = (int)(i % 64), .healthy = true,
					 .resource = "kyborg.io/sriov-vf", .driver = "iavf", .pf_name = "ens1f0",
					 .pcie_root = "pci0000:1f" };
		unsigned bus = (unsigned)(0x20 + i / 256) & 0xff, slot = (unsigned)(i / 8) % 32, fn = (unsigned)(i % 8);
		snprintf(d[k].addr, sizeof(d[k].addr), "0000:%02x:%02x.%u", bus, slot, fn);
		snprintf(d[k].pf_addr, sizeof(d[k].pf_addr), "0000:%02x:00.0", bus);
	}
	return d;
}

static struct dra_layout *layout(const struct dra_pool *pool, const struct dra_dev *d, size_t n)
{
	struct dra_layout *l = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(dra_layout_build(pool, d, n, &l, &e), 0, "%s", ky_error_msg(e));
	return l;
}

static cJSON *slice(const struct dra_pool *pool, const struct dra_layout *l, size_t i, int64_t gen)
{
	cJSON *s = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(dra_slice_json(pool, l, i, gen, "4f1c8d2e-uid", &s, &e), 0, "%s", ky_error_msg(e));
	cr_assert_eq(dra_check_slice(s, &e), 0, "slice %zu: %s", i, ky_error_msg(e));
	return s;
}

static const cJSON *get(const cJSON *j, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
		j = cJSON_GetObjectItemCaseSensitive(j, k);
	return j;
}

static const cJSON *devices_of(const cJSON *s)
{
	return get(s, "spec.devices");
}

static const struct dra_pool pool_untainted = { .driver = "kyborg.io", .node = "node-a", .consumable = true };

Test(dra_slices, three_hundred_devices_are_three_slices_of_one_pool_and_one_generation)
{
	struct dra_dev *d = vfs(300);
	struct dra_layout *l = layout(&pool_untainted, d, 300);
	cr_assert_eq(l->n, 300);
	cr_assert_eq(l->n_slices, 3);
	const int want[] = { 128, 128, 44 };
	char prev[DRA_NAME_MAX + 1] = "";
	size_t seen = 0;
	for (size_t i = 0; i < 3; i++) {
		cJSON *s = slice(&pool_untainted, l, i, 7);
		cr_assert_eq(cJSON_GetArraySize(devices_of(s)), want[i]);
		cr_assert_eq(get(s, "spec.pool.resourceSliceCount")->valuedouble, 3);
		cr_assert_eq(get(s, "spec.pool.generation")->valuedouble, 7);
		cr_assert_str_eq(get(s, "spec.pool.name")->valuestring, "node-a");
		cr_assert_str_eq(get(s, "spec.nodeName")->valuestring, "node-a");
		cr_assert_str_eq(get(s, "spec.driver")->valuestring, "kyborg.io");
		char gen_name[64];
		snprintf(gen_name, sizeof(gen_name), "%05zx-kyborg.io-node-a-", i);
		cr_assert_str_eq(get(s, "metadata.generateName")->valuestring, gen_name);
		const cJSON *ref = cJSON_GetArrayItem(get(s, "metadata.ownerReferences"), 0);
		cr_assert_str_eq(get(ref, "kind")->valuestring, "Node");
		cr_assert_str_eq(get(ref, "uid")->valuestring, "4f1c8d2e-uid");
		cr_assert(cJSON_IsTrue(get(ref, "controller")));
		/* Sorted by name across the whole pool: each name once. */
		const cJSON *dev;
		cJSON_ArrayForEach(dev, devices_of(s))
		{
			const char *name = get(dev, "name")->valuestring;
			cr_assert_gt(strcmp(name, prev), 0, "%s after %s", name, prev);
			snprintf(prev, sizeof(prev), "%s", name);
			seen++;
		}
		cJSON_Delete(s);
	}
	cr_assert_eq(seen, 300);
	dra_layout_free(l);

	/* Where unhealthy devices are tainted, 64 a slice: the API's limit
	 * for a slice holding a tainted device. */
	l = layout(&pool_default, d, 300);
	cr_assert_eq(l->n_slices, 5);
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq(l->first[i + 1] - l->first[i], i < 4 ? 64 : 44);
	dra_layout_free(l);
	free(d);
}

Test(dra_slices, the_same_devices_in_another_order_give_the_same_slices_byte_for_byte)
{
	struct dra_dev *a = vfs(200);
	struct dra_dev *b = vfs(200);
	/* b reversed. */
	for (size_t i = 0; i < 100; i++) {
		struct dra_dev t = b[i];
		b[i] = b[199 - i];
		b[199 - i] = t;
	}
	struct dra_layout *la = layout(&pool_default, a, 200), *lb = layout(&pool_default, b, 200);
	for (size_t i = 0; i < la->n_slices; i++) {
		cJSON *sa = slice(&pool_default, la, i, 1), *sb = slice(&pool_default, lb, i, 1);
		char *ta = cJSON_PrintUnformatted(sa), *tb = cJSON_PrintUnformatted(sb);
		cr_assert_str_eq(ta, tb);
		free(ta);
		free(tb);
		cJSON_Delete(sa);
		cJSON_Delete(sb);
	}
	dra_layout_free(la);
	dra_layout_free(lb);
	free(a);
	free(b);
}

Test(dra_slices, an_empty_pool_is_one_empty_slice)
{
	struct dra_layout *l = layout(&pool_default, NULL, 0);
	cr_assert_eq(l->n_slices, 1);
	cJSON *s = slice(&pool_default, l, 0, 1);
	cr_assert(cJSON_IsArray(devices_of(s)));
	cr_assert_eq(cJSON_GetArraySize(devices_of(s)), 0);
	cr_assert_eq(get(s, "spec.pool.resourceSliceCount")->valuedouble, 1);
	cJSON_Delete(s);
	dra_layout_free(l);
}

Test(dra_slices, a_device_published_twice_is_refused_by_name)
{
	struct dra_dev *d = vfs(3);
	d[2] = d[0];
	d[2].resource = "kyborg.io/other";
	struct dra_layout *l = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(dra_layout_build(&pool_default, d, 3, &l, &e), -EINVAL);
	cr_assert_null(l);
	cr_assert(strstr(ky_error_msg(e), "device vf-0000-20-00-2: published twice"), "%s", ky_error_msg(e));
	ky_error_free(e);
	free(d);
}

static struct dra_dev gpu(const char *addr, unsigned shares)
{
	struct dra_dev d = { .kind = DRA_KIND_GPU, .vendor = 0x10de, .device = 0x2330, .numa_node = 0, .iommu_group = 30,
			     .vf_index = -1, .healthy = true, .resource = "kyborg.io/gpu", .shares = shares };
	snprintf(d.addr, sizeof(d.addr), "%s", addr);
	return d;
}

Test(dra_slices, shared_gpu_is_one_device_with_consumable_capacity_or_n_split_devices)
{
	struct dra_dev d[2] = { gpu("0000:3b:00.0", 4), gpu("0000:86:00.0", 0) };
	struct dra_layout *l = layout(&pool_default, d, 2);
	cr_assert_eq(l->n, 2);
	cJSON *s = slice(&pool_default, l, 0, 1);
	const cJSON *g = cJSON_GetArrayItem(devices_of(s), 0);
	cr_assert_str_eq(get(g, "name")->valuestring, "gpu-0000-3b-00-0");
	cr_assert(cJSON_IsTrue(get(g, "allowMultipleAllocations")));
	cr_assert_str_eq(get(g, "capacity.shares.value")->valuestring, "4");
	cr_assert_str_eq(get(g, "capacity.shares.requestPolicy.default")->valuestring, "1");
	cr_assert_str_eq(get(g, "capacity.shares.requestPolicy.validRange.min")->valuestring, "1");
	cr_assert_str_eq(get(g, "capacity.shares.requestPolicy.validRange.max")->valuestring, "4");
	cr_assert_str_eq(get(g, "capacity.shares.requestPolicy.validRange.step")->valuestring, "1");
	cr_assert_eq(dra_slice_features(s), DRA_FEATURE_CONSUMABLE);
	const cJSON *whole = cJSON_GetArrayItem(devices_of(s), 1);
	cr_assert_null(get(whole, "allowMultipleAllocations"));
	cr_assert_null(get(whole, "capacity"));
	cJSON_Delete(s);
	dra_layout_free(l);

	struct dra_pool split = pool_default;
	split.consumable = false;
	l = layout(&split, d, 2);
	cr_assert_eq(l->n, 5);
	s = slice(&split, l, 0, 1);
	for (int i = 0; i < 4; i++) {
		const cJSON *r = cJSON_GetArrayItem(devices_of(s), i);
		char want[32];
		snprintf(want, sizeof(want), "gpu-0000-3b-00-0-r%d", i);
		cr_assert_str_eq(get(r, "name")->valuestring, want);
		cr_assert_null(get(r, "allowMultipleAllocations"));
		cr_assert_eq(get(r, "attributes.replica.int")->valuedouble, i);
	}
	cr_assert_eq(dra_slice_features(s), 0);
	cJSON_Delete(s);
	dra_layout_free(l);
}

static void digests(const struct dra_pool *pool, const struct dra_layout *l, uint8_t (*out)[DRA_DIGEST_LEN])
{
	for (size_t i = 0; i < l->n_slices; i++) {
		cJSON *s = slice(pool, l, i, 1);
		dra_slice_digest(s, out[i]);
		cJSON_Delete(s);
	}
}

/* How many slices differ between two layouts of the same cut. */
static int changed_slices(const struct dra_pool *pool, const struct dra_layout *a, const struct dra_layout *b)
{
	cr_assert_eq(a->n_slices, b->n_slices);
	uint8_t(*da)[DRA_DIGEST_LEN] = calloc(a->n_slices, DRA_DIGEST_LEN);
	uint8_t(*db)[DRA_DIGEST_LEN] = calloc(b->n_slices, DRA_DIGEST_LEN);
	digests(pool, a, da);
	digests(pool, b, db);
	int n = 0;
	for (size_t i = 0; i < a->n_slices; i++)
		n += memcmp(da[i], db[i], DRA_DIGEST_LEN) != 0;
	free(da);
	free(db);
	return n;
}

Test(dra_slices, unhealthy_device_is_tainted_or_left_out_changing_its_slice_only)
{
	struct dra_dev *healthy = vfs(200);
	struct dra_dev *d = vfs(200);
	d[50].healthy = false;
	d[50].unhealthy_reason = "pf-down";
	char name[DRA_NAME_MAX + 1];
	dra_dev_name(&d[50], -1, name);

	struct dra_layout *before = layout(&pool_default, healthy, 200);
	struct dra_layout *l = layout(&pool_default, d, 200);
	cr_assert_eq(l->n, 200);
	cr_assert_eq(l->n_slices, 4);
	size_t tainted = 0;
	for (size_t i = 0; i < l->n_slices; i++) {
		cJSON *s = slice(&pool_default, l, i, 1);
		const cJSON *dev;
		cJSON_ArrayForEach(dev, devices_of(s))
		{
			const cJSON *t = get(dev, "taints");
			if (strcmp(get(dev, "name")->valuestring, name)) {
				cr_assert_null(t);
				continue;
			}
			tainted++;
			cr_assert_eq(cJSON_GetArraySize(t), 1);
			const cJSON *t0 = cJSON_GetArrayItem(t, 0);
			cr_assert_str_eq(get(t0, "key")->valuestring, "kyborg.io/unhealthy");
			cr_assert_str_eq(get(t0, "value")->valuestring, "pf-down");
			cr_assert_str_eq(get(t0, "effect")->valuestring, "NoSchedule");
			cr_assert_eq(dra_slice_features(s), DRA_FEATURE_TAINTS);
		}
		cJSON_Delete(s);
	}
	cr_assert_eq(tainted, 1);
	cr_assert_eq(changed_slices(&pool_default, before, l), 1, "a taint rewrites one slice");
	dra_layout_free(l);
	dra_layout_free(before);

	struct dra_pool omit = pool_default;
	omit.taints = false;
	before = layout(&omit, healthy, 200);
	l = layout(&omit, d, 200);
	cr_assert_eq(l->n, 199);
	cr_assert_eq(l->n_slices, 2);
	for (size_t i = 0; i < l->n; i++)
		cr_assert_str_neq(l->entries[i].name, name);
	cr_assert_eq(changed_slices(&omit, before, l), 1, "a device left out rewrites one slice");
	dra_layout_free(l);
	dra_layout_free(before);
	free(d);
	free(healthy);
}

Test(dra_slices, slice_index_is_read_back_from_generated_names_only)
{
	cr_assert_eq(dra_slice_index_len(1), 5);
	cr_assert_eq(dra_slice_index_len(0x100000), 5);
	cr_assert_eq(dra_slice_index_len(0x100001), 6);
	cr_assert_eq(dra_slice_index("00000-kyborg.io-node-a-x7k2p", 5), 0);
	cr_assert_eq(dra_slice_index("0002a-kyborg.io-node-a-x7k2p", 5), 42);
	/* The 1.34/1.35 helper's names, and other lengths, carry no index. */
	cr_assert_eq(dra_slice_index("node-a-kyborg.io-x7k2p", 5), -1);
	cr_assert_eq(dra_slice_index("0000-kyborg.io-node-a-x7k2p", 5), -1);
	cr_assert_eq(dra_slice_index("0000g-kyborg.io-node-a-x7k2p", 5), -1);
	cr_assert_eq(dra_slice_index("00000", 5), -1);
}

/* ---- digests ---- */

static void digest_of(const cJSON *s, uint8_t out[DRA_DIGEST_LEN])
{
	dra_slice_digest(s, out);
}

static cJSON *reparse(const char *text)
{
	cJSON *j = NULL;
	cr_assert_eq(ky_json_parse(text, strlen(text), &j, NULL), 0);
	return j;
}

Test(dra_slices, digest_ignores_what_the_server_canonicalises_and_sees_every_real_change)
{
	struct dra_dev d[2] = { gpu("0000:3b:00.0", 4), gpu("0000:86:00.0", 0) };
	d[1].healthy = false;
	struct dra_layout *l = layout(&pool_default, d, 2);
	cJSON *sent = slice(&pool_default, l, 0, 1);
	uint8_t want[DRA_DIGEST_LEN], got[DRA_DIGEST_LEN];
	digest_of(sent, want);

	/* As the server stores it: another generation, metadata of its own,
	 * quantities canonical ("4" sent as "4000m" reads back "4"), map keys
	 * sorted, a taint's timeAdded set, an unknown field, false for an
	 * absent allowMultipleAllocations. */
	const char *stored =
		"{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceSlice\","
		"\"metadata\":{\"name\":\"00000-kyborg.io-node-a-x7k2p\",\"uid\":\"u\",\"resourceVersion\":\"42\","
		"\"generation\":3},"
		"\"spec\":{\"devices\":[{\"allowMultipleAllocations\":true,\"attributes\":{"
		"\"deviceID\":{\"string\":\"2330\"},\"iommuGroup\":{\"int\":30},"
		"\"kind\":{\"string\":\"gpu\"},\"pciAddress\":{\"string\":\"0000:3b:00.0\"},"
		"\"resource.kubernetes.io/numaNode\":{\"int\":0},"
		"\"resource.kubernetes.io/pciBusID\":{\"string\":\"0000:3b:00.0\"},"
		"\"resourceName\":{\"string\":\"kyborg.io/gpu\"},\"shares\":{\"int\":4},"
		"\"vendorID\":{\"string\":\"10de\"}},"
		"\"capacity\":{\"shares\":{\"requestPolicy\":{\"default\":\"1000m\",\"validRange\":{\"max\":\"4\","
		"\"min\":\"1\",\"step\":\"1\"}},\"value\":\"4\"}},\"name\":\"gpu-0000-3b-00-0\"},"
		"{\"allowMultipleAllocations\":false,\"attributes\":{"
		"\"deviceID\":{\"string\":\"2330\"},\"iommuGroup\":{\"int\":30},"
		"\"kind\":{\"string\":\"gpu\"},\"pciAddress\":{\"string\":\"0000:86:00.0\"},"
		"\"resource.kubernetes.io/numaNode\":{\"int\":0},"
		"\"resource.kubernetes.io/pciBusID\":{\"string\":\"0000:86:00.0\"},"
		"\"resourceName\":{\"string\":\"kyborg.io/gpu\"},\"vendorID\":{\"string\":\"10de\"}},"
		"\"name\":\"gpu-0000-86-00-0\",\"futureField\":{\"x\":1},"
		"\"taints\":[{\"effect\":\"NoSchedule\",\"key\":\"kyborg.io/unhealthy\","
		"\"timeAdded\":\"2026-07-01T10:00:00Z\"}]}],"
		"\"driver\":\"kyborg.io\",\"nodeName\":\"node-a\",\"perDeviceNodeSelection\":null,"
		"\"pool\":{\"generation\":9,\"name\":\"node-a\",\"resourceSliceCount\":1}}}";
	cJSON *s = reparse(stored);
	digest_of(s, got);
	cr_assert_eq(memcmp(want, got, DRA_DIGEST_LEN), 0, "the stored form must read as unchanged");

	/* Real changes: a value, a capacity, a taint, a device, the count. */
	const char *changes[][2] = {
		{ "\"vendorID\":{\"string\":\"10de\"}},\"capacity\"", "\"vendorID\":{\"string\":\"10df\"}},\"capacity\"" },
		{ "\"value\":\"4\"", "\"value\":\"5\"" },
		{ ",\"taints\":[{\"effect\":\"NoSchedule\",\"key\":\"kyborg.io/unhealthy\","
		  "\"timeAdded\":\"2026-07-01T10:00:00Z\"}]",
		  "" },
		{ "\"name\":\"gpu-0000-86-00-0\"", "\"name\":\"gpu-0000-86-00-1\"" },
		{ "\"resourceSliceCount\":1", "\"resourceSliceCount\":2" },
		{ "\"allowMultipleAllocations\":true,", "" },
	};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		const char *at = strstr(stored, changes[i][0]);
		cr_assert_not_null(at, "%s", changes[i][0]);
		char *t = malloc(strlen(stored) + strlen(changes[i][1]) + 1);
		size_t pre = (size_t)(at - stored);
		memcpy(t, stored, pre);
		strcpy(t + pre, changes[i][1]);
		strcat(t, at + strlen(changes[i][0]));
		cJSON *c = reparse(t);
		digest_of(c, got);
		cr_assert_neq(memcmp(want, got, DRA_DIGEST_LEN), 0, "change %zu not seen", i);
		cJSON_Delete(c);
		free(t);
	}
	cJSON_Delete(s);
	cJSON_Delete(sent);
	dra_layout_free(l);
}

/* ---- the plan ---- */

static uint8_t D[4][DRA_DIGEST_LEN];

static void digests_init(void)
{
	for (int i = 0; i < 4; i++)
		memset(D[i], 0x10 + i, DRA_DIGEST_LEN);
}

static struct dra_slice_state st(const char *name, const char *pool, int64_t gen, int digest)
{
	struct dra_slice_state s = { .name = name, .pool = pool, .generation = gen };
	memset(s.digest, 0x10 + digest, DRA_DIGEST_LEN);
	return s;
}

static struct dra_plan plan(size_t n_desired, const struct dra_slice_state *a, size_t n)
{
	struct dra_plan p;
	cr_assert_eq(dra_plan_make("node-a", (const uint8_t(*)[DRA_DIGEST_LEN])D, n_desired, a, n, &p), 0);
	/* Deletes, then updates, then creates. */
	for (size_t i = 1; i < p.n; i++)
		cr_assert_leq(p.ops[i - 1].kind, p.ops[i].kind);
	cr_assert_eq(p.n, p.n_delete + p.n_update + p.n_create);
	return p;
}

Test(dra_slices, plan_creates_a_new_pool_at_generation_one)
{
	digests_init();
	struct dra_plan p = plan(3, NULL, 0);
	cr_assert_eq(p.n_create, 3);
	cr_assert_eq(p.n, 3);
	cr_assert_eq(p.generation, 1);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(p.ops[i].slice, i);
	dra_plan_release(&p);
}

Test(dra_slices, plan_for_unchanged_slices_is_empty)
{
	digests_init();
	struct dra_slice_state a[] = { st("00001-kyborg.io-node-a-bbbbb", "node-a", 4, 1),
				       st("00000-kyborg.io-node-a-aaaaa", "node-a", 4, 0) };
	struct dra_plan p = plan(2, a, 2);
	cr_assert_eq(p.n, 0);
	cr_assert_eq(p.generation, 4);
	dra_plan_release(&p);
}

Test(dra_slices, one_changed_slice_is_one_update_at_the_same_generation)
{
	digests_init();
	struct dra_slice_state a[] = { st("00000-kyborg.io-node-a-aaaaa", "node-a", 4, 0),
				       st("00001-kyborg.io-node-a-bbbbb", "node-a", 4, 3) };
	struct dra_plan p = plan(2, a, 2);
	cr_assert_eq(p.n, 1);
	cr_assert_eq(p.ops[0].kind, DRA_OP_UPDATE);
	cr_assert_eq(p.ops[0].slice, 1);
	cr_assert_eq(p.ops[0].actual, 1);
	cr_assert_eq(p.generation, 4);
	dra_plan_release(&p);
}

Test(dra_slices, two_changed_slices_bump_the_generation_and_rewrite_every_slice)
{
	digests_init();
	struct dra_slice_state a[] = { st("00000-kyborg.io-node-a-aaaaa", "node-a", 4, 3),
				       st("00001-kyborg.io-node-a-bbbbb", "node-a", 4, 3),
				       st("00002-kyborg.io-node-a-ccccc", "node-a", 4, 2) };
	struct dra_plan p = plan(3, a, 3);
	cr_assert_eq(p.n_update, 3, "the unchanged one carries the new generation too");
	cr_assert_eq(p.generation, 5);
	dra_plan_release(&p);
}

Test(dra_slices, a_slice_kubelet_deleted_is_created_again_and_nothing_else_is_written)
{
	digests_init();
	struct dra_slice_state a[] = { st("00000-kyborg.io-node-a-aaaaa", "node-a", 2, 0),
				       st("00002-kyborg.io-node-a-ccccc", "node-a", 2, 2) };
	struct dra_plan p = plan(3, a, 2);
	cr_assert_eq(p.n, 1);
	cr_assert_eq(p.n_create, 1);
	cr_assert_eq(p.ops[0].slice, 1);
	cr_assert_eq(p.generation, 2, "beside slices that match, a create mixes nothing");
	dra_plan_release(&p);
}

Test(dra_slices, a_create_beside_an_update_bumps_the_generation)
{
	digests_init();
	struct dra_slice_state a[] = { st("00000-kyborg.io-node-a-aaaaa", "node-a", 2, 3),
				       st("00002-kyborg.io-node-a-ccccc", "node-a", 2, 2) };
	struct dra_plan p = plan(3, a, 2);
	cr_assert_eq(p.n_create, 1);
	cr_assert_eq(p.n_update, 2, "the matching slice carries the new generation too");
	cr_assert_eq(p.generation, 3);
	dra_plan_release(&p);
}

Test(dra_slices, a_pool_whose_slices_are_all_gone_starts_a_generation)
{
	digests_init();
	struct dra_slice_state a[] = { st("node-a-kyborg.io-x7k2p", "node-a", 4, 0) };
	struct dra_plan p = plan(2, a, 1);
	cr_assert_eq(p.n_delete, 1);
	cr_assert_eq(p.n_create, 2);
	cr_assert_eq(p.generation, 5);
	dra_plan_release(&p);
}

Test(dra_slices, obsolete_slices_are_deleted_first)
{
	digests_init();
	struct dra_slice_state a[] = {
		st("00000-kyborg.io-node-a-aaaaa", "node-a", 5, 0), /* current */
		st("00000-kyborg.io-node-a-zzzzz", "node-a", 5, 0), /* index taken */
		st("00001-kyborg.io-node-a-bbbbb", "node-a", 4, 1), /* older generation */
		st("node-a-kyborg.io-x7k2p", "node-a", 5, 1),       /* the 1.35 helper's name */
		st("00001-kyborg.io-node-a-ddddd", "node-b", 9, 1), /* another pool */
		st("00007-kyborg.io-node-a-eeeee", "node-a", 5, 1), /* index past the pool */
	};
	struct dra_plan p = plan(2, a, 6);
	cr_assert_eq(p.n_delete, 5);
	for (size_t i = 0; i < 5; i++)
		cr_assert_neq(p.ops[i].actual, 0);
	cr_assert_eq(p.n_create, 1);
	cr_assert_eq(p.ops[p.n - 1].slice, 1);
	/* Another pool's generation does not count, and the create beside
	 * the matching slice keeps the pool's: 5. */
	cr_assert_eq(p.generation, 5);
	dra_plan_release(&p);
}

/* The plan reads only the digests of desired slices a server slice
 * stands for: the publisher builds no other (a slice only created needs
 * none), so a plan made with garbage there must be the same plan. */
Test(dra_slices, only_matched_slices_digests_are_read_by_the_plan)
{
	digests_init();
	struct dra_slice_state a[] = {
		st("00000-kyborg.io-node-a-aaaaa", "node-a", 5, 0),
		st("00000-kyborg.io-node-a-zzzzz", "node-a", 5, 0), /* index taken */
		st("00001-kyborg.io-node-a-bbbbb", "node-a", 4, 1), /* older generation */
		st("00003-kyborg.io-node-a-ddddd", "node-a", 5, 2),
		st("00002-kyborg.io-node-a-ccccc", "node-b", 9, 1), /* another pool */
	};
	bool need[4];
	cr_assert_eq(dra_plan_matched("node-a", 4, a, 5, need), 0);
	cr_assert(need[0] && !need[1] && !need[2] && need[3]);
	struct dra_plan before = plan(4, a, 5);
	memset(D[1], 0xee, DRA_DIGEST_LEN);
	memset(D[2], 0x77, DRA_DIGEST_LEN);
	struct dra_plan after = plan(4, a, 5);
	cr_assert_eq(before.n, after.n);
	cr_assert_eq(before.generation, after.generation);
	for (size_t i = 0; i < before.n; i++)
		cr_assert(before.ops[i].kind == after.ops[i].kind && before.ops[i].slice == after.ops[i].slice &&
			  before.ops[i].actual == after.ops[i].actual);
	dra_plan_release(&before);
	dra_plan_release(&after);
}

/* ---- what is known of the server's slices (dra/dra_known.c) ---- */

static const char *known_obj(const char *rv, int gen, const char *taint_value, const char *time)
{
	static char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"00000-kyborg.io-node-a-x\",\"uid\":\"u1\",\"resourceVersion\":\"%s\"},"
		 "\"spec\":{\"driver\":\"kyborg.io\",\"nodeName\":\"node-a\",\"pool\":{\"name\":\"node-a\","
		 "\"generation\":%d,\"resourceSliceCount\":1},\"devices\":[{\"name\":\"gpu-0\",\"taints\":[{\"key\":"
		 "\"kyborg.io/unhealthy\",\"value\":\"%s\",\"effect\":\"NoSchedule\"%s%s%s}]}]}}",
		 rv, gen, taint_value, time ? ",\"timeAdded\":\"" : "", time ? time : "", time ? "\"" : "");
	return buf;
}

Test(dra_slices, known_slice_ignores_an_older_state_and_takes_a_newer_one)
{
	struct dra_known k = { 0 };
	cJSON *o = reparse(known_obj("10", 3, "pf-down", NULL));
	cr_assert_eq(dra_known_upsert(&k, o), 0);
	cJSON_Delete(o);
	struct dra_known_slice *s = dra_known_get(&k, "00000-kyborg.io-node-a-x");
	cr_assert_not_null(s);
	cr_assert_str_eq(s->uid, "u1");
	cr_assert_eq(s->generation, 3);
	cr_assert_str_eq(s->pool, "node-a");
	/* A watch event the answer to a write overtook. */
	o = reparse(known_obj("9", 2, "pf-down", NULL));
	cr_assert_eq(dra_known_upsert(&k, o), 0);
	cJSON_Delete(o);
	cr_assert_str_eq(dra_known_get(&k, "00000-kyborg.io-node-a-x")->rv, "10");
	o = reparse(known_obj("11", 4, "pf-down", NULL));
	cr_assert_eq(dra_known_upsert(&k, o), 0);
	cJSON_Delete(o);
	cr_assert_eq(dra_known_get(&k, "00000-kyborg.io-node-a-x")->generation, 4);
	cr_assert_eq(dra_known_generation(&k, "node-a"), 4);
	cr_assert_eq(dra_known_generation(&k, "node-b"), 0);
	cr_assert_eq(k.n, 1);
	o = reparse("{\"metadata\":{}}");
	cr_assert_eq(dra_known_upsert(&k, o), -EINVAL);
	cJSON_Delete(o);
	dra_known_remove(&k, "00000-kyborg.io-node-a-x");
	cr_assert_eq(k.n, 0);
	dra_known_release(&k);
	unsigned long long n;
	cr_assert(dra_rv_parse("123", &n) && n == 123);
	cr_assert_not(dra_rv_parse("12a", &n));
	cr_assert_not(dra_rv_parse("", &n));
	cr_assert_not(dra_rv_parse(NULL, &n));
}

Test(dra_slices, numbers_beyond_int64_are_no_generation_and_keep_their_own_digest)
{
	/* Fuzz finding F4: the server's numbers were cast to int64_t, which is
	 * undefined from 2^63 (UBSan) and on x86 gives INT64_MIN for all of
	 * them: a generation of 1e19 read as INT64_MIN, and an int attribute
	 * of 1e19 digested like one of -2^63. */
	struct dra_known k = { 0 };
	char text[1024];
	snprintf(text, sizeof(text), "%s", known_obj("10", 3, "pf-down", NULL));
	char *g = strstr(text, "\"generation\":3");
	cr_assert_not_null(g);
	memmove(g + 17, g + 14, strlen(g + 14) + 1);
	memcpy(g + 13, "1e19", 4);
	cJSON *o = reparse(text);
	cr_assert_eq(dra_known_upsert(&k, o), 0);
	cJSON_Delete(o);
	cr_assert_eq(dra_known_get(&k, "00000-kyborg.io-node-a-x")->generation, 0);
	dra_known_release(&k);

	uint8_t a[DRA_DIGEST_LEN], b[DRA_DIGEST_LEN];
	const char *fmt = "{\"spec\":{\"devices\":[{\"name\":\"d\",\"attributes\":{\"n\":{\"int\":%s}}}]}}";
	snprintf(text, sizeof(text), fmt, "1e19");
	o = reparse(text);
	digest_of(o, a);
	cJSON_Delete(o);
	snprintf(text, sizeof(text), fmt, "-9223372036854775808");
	o = reparse(text);
	digest_of(o, b);
	cJSON_Delete(o);
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0, "1e19 digested as -2^63");
}

Test(dra_slices, an_attribute_that_is_no_object_is_digested_as_no_value)
{
	/* Fuzz finding F8 (k8s_watch): a slice from the server whose
	 * attribute is an array had its members' keys compared, and an
	 * array's members have none: strcmp(NULL), the driver killed by a
	 * slice anyone allowed to write slices could write. */
	uint8_t a[DRA_DIGEST_LEN], b[DRA_DIGEST_LEN], c[DRA_DIGEST_LEN];
	const char *fmt = "{\"spec\":{\"devices\":[{\"name\":\"d\",\"attributes\":{\"n\":%s}}]}}";
	char text[256];
	snprintf(text, sizeof(text), fmt, "[{\"string\":\"x\"},\"string\"]");
	cJSON *o = reparse(text);
	digest_of(o, a);
	cJSON_Delete(o);
	snprintf(text, sizeof(text), fmt, "{}");
	o = reparse(text);
	digest_of(o, b);
	cJSON_Delete(o);
	snprintf(text, sizeof(text), fmt, "{\"string\":\"x\"}");
	o = reparse(text);
	digest_of(o, c);
	cJSON_Delete(o);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0, "an array is no value, as an empty object is");
	cr_assert_neq(memcmp(a, c, sizeof(a)), 0, "and not the string it holds");
}

Test(dra_slices, known_taint_time_goes_with_an_update_of_the_same_taint_only)
{
	struct dra_known k = { 0 };
	cJSON *o = reparse(known_obj("10", 1, "pf-down", "2026-07-01T10:00:00Z"));
	cr_assert_eq(dra_known_upsert(&k, o), 0);
	cJSON_Delete(o);
	const struct dra_known_slice *s = dra_known_get(&k, "00000-kyborg.io-node-a-x");
	cr_assert_eq(s->n_times, 1);

	cJSON *same = reparse(known_obj("10", 2, "pf-down", NULL));
	dra_known_copy_taint_times(s, same);
	const cJSON *t = cJSON_GetArrayItem(get(cJSON_GetArrayItem(get(same, "spec.devices"), 0), "taints"), 0);
	cr_assert_str_eq(get(t, "timeAdded")->valuestring, "2026-07-01T10:00:00Z");
	cJSON_Delete(same);

	cJSON *other = reparse(known_obj("10", 2, "driver-unbound", NULL));
	dra_known_copy_taint_times(s, other);
	t = cJSON_GetArrayItem(get(cJSON_GetArrayItem(get(other, "spec.devices"), 0), "taints"), 0);
	cr_assert_null(get(t, "timeAdded"), "another reason is another taint: the server stamps it");
	cJSON_Delete(other);
	dra_known_release(&k);
}
