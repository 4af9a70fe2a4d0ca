/* What the device targets share (fuzz_device_config.c, fuzz_device_sriovdp.c,
 * fuzz_dp_proto.c): a node of PCI functions built by hand, shaped like the
 * ones the device layer serves (a PF with four VFs, one unbound and one on
 * vfio-pci; a PF without VFs on the default route; an InfiniBand PF with an
 * RDMA device; GPUs of two vendors; an FPGA; a QuickAssist co-processor),
 * and the checks of an accepted devices config: the config itself, the
 * device lists it makes on that node, and what those devices give a
 * container (ky_device_allocate), as the device plugin and the DRA driver
 * use them. Static storage: never free the node. */
#pragma once

#include <ctype.h>
#include <errno.h>
#include <net/if_arp.h>

#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/device/device_alloc.h"
#include "kyborg/device/device_config.h"
#include "kyborg/device/device_list.h"
#include "kyborg/pci/pci.h"

enum {
	FN_PF0,      /* 0000:18:00.0 ens1f0, ice, 4 VFs */
	FN_PF1,      /* 0000:18:00.1 ens1f1, ice, no VFs, the default route */
	FN_VF0,      /* 0000:18:01.0 ens1f0v0, iavf */
	FN_VF1,      /* 0000:18:01.1 no driver: unhealthy */
	FN_VF2,      /* 0000:18:01.2 ens1f0v2, iavf */
	FN_VF3,      /* 0000:18:01.3 vfio-pci */
	FN_GPU0,     /* 0000:3b:00.0 NVIDIA 3D controller, NUMA 0 */
	FN_IB,       /* 0000:5e:00.0 ib0, mlx5_core, InfiniBand, mlx5_0 */
	FN_GPU1,     /* 0000:86:00.0 AMD VGA, NUMA 1 */
	FN_FPGA,     /* 0000:af:00.0 Intel PAC, dfl-pci */
	FN_QAT,      /* 0000:b1:00.0 QuickAssist (0b40), vfio-pci */
	FN_COUNT
};

static char *fn_pf0_net[] = { "ens1f0" }, *fn_pf1_net[] = { "ens1f1" }, *fn_ib_net[] = { "ib0" };
static char *fn_vf_net[4][1] = { { "ens1f0v0" }, { "ens1f0v1" }, { "ens1f0v2" }, { "ens1f0v3" } };
static char *fn_virtfns[] = { "0000:18:01.0", "0000:18:01.1", "0000:18:01.2", "0000:18:01.3" };
static char *fn_vf3_nodes[] = { "/dev/vfio/203", "/dev/vfio/vfio" };
static char *fn_gpu0_nodes[] = { "/dev/dri/card0", "/dev/dri/renderD128" };
static char *fn_gpu1_nodes[] = { "/dev/dri/card1", "/dev/dri/renderD129" };
static char *fn_fpga_nodes[] = { "/dev/dfl-fme.0", "/dev/dfl-port.0" };
static char *fn_ib_nodes[] = { "/dev/infiniband/issm0", "/dev/infiniband/umad0", "/dev/infiniband/uverbs0" };
static char *fn_ib_rdma[] = { "mlx5_0" };
static char *fn_qat_nodes[] = { "/dev/vfio/77" };
static char *fn_default_route[] = { "ens1f1" };

static struct ky_pci_dev fn_devs[FN_COUNT];
static const struct ky_pci_list fuzz_node = { fn_devs, FN_COUNT };
static const struct ky_device_host fuzz_host = {
	.nodes = KY_DEVICE_HOST_VHOST_NET | KY_DEVICE_HOST_TUN | KY_DEVICE_HOST_RDMA_CM,
	.default_route = fn_default_route,
	.n_default_route = 1,
};

static inline void fuzz_node_init(void)
{
	struct ky_pci_dev *d = fn_devs;
	const struct ky_pci_dev none = { .numa_node = -1, .iommu_group = -1, .sriov_totalvfs = -1,
					 .sriov_numvfs = -1 };
	for (int i = 0; i < FN_COUNT; i++)
		d[i] = none;
	d[FN_PF0] = (struct ky_pci_dev){ .addr = "0000:18:00.0", .vendor = 0x8086, .device = 0x1592,
					 .class_code = 0x020000, .driver = "ice", .numa_node = 0, .iommu_group = 20,
					 .sriov_totalvfs = 8, .sriov_numvfs = 4, .virtfns = fn_virtfns, .n_virtfns = 4,
					 .netdevs = fn_pf0_net, .n_netdevs = 1, .acpi_index = "1",
					 .link_type = ARPHRD_ETHER };
	d[FN_PF1] = d[FN_PF0];
	memcpy(d[FN_PF1].addr, "0000:18:00.1", KY_PCI_ADDR_LEN);
	d[FN_PF1].sriov_numvfs = 0;
	d[FN_PF1].virtfns = NULL;
	d[FN_PF1].n_virtfns = 0;
	d[FN_PF1].netdevs = fn_pf1_net;
	d[FN_PF1].acpi_index = "2";
	for (int i = 0; i < 4; i++) {
		struct ky_pci_dev *v = &d[FN_VF0 + i];
		*v = (struct ky_pci_dev){ .vendor = 0x8086, .device = 0x1889, .class_code = 0x020000, .driver = "iavf",
					  .numa_node = 0, .iommu_group = 200 + i, .sriov_totalvfs = -1,
					  .sriov_numvfs = -1, .physfn = "0000:18:00.0", .netdevs = fn_vf_net[i],
					  .n_netdevs = 1, .link_type = ARPHRD_ETHER };
		snprintf(v->addr, KY_PCI_ADDR_LEN, "0000:18:01.%d", i);
	}
	d[FN_VF1].driver = NULL;
	d[FN_VF3].driver = "vfio-pci";
	d[FN_VF3].netdevs = NULL;
	d[FN_VF3].n_netdevs = 0;
	d[FN_VF3].link_type = 0;
	d[FN_VF3].devnodes = fn_vf3_nodes;
	d[FN_VF3].n_devnodes = 2;
	d[FN_GPU0] = (struct ky_pci_dev){ .addr = "0000:3b:00.0", .vendor = 0x10de, .device = 0x2330,
					  .class_code = 0x030200, .driver = "nvidia", .numa_node = 0, .iommu_group = 30,
					  .sriov_totalvfs = -1, .sriov_numvfs = -1, .devnodes = fn_gpu0_nodes,
					  .n_devnodes = 2 };
	d[FN_IB] = (struct ky_pci_dev){ .addr = "0000:5e:00.0", .vendor = 0x15b3, .device = 0x1017,
					.class_code = 0x020700, .driver = "mlx5_core", .numa_node = 1, .iommu_group = 50,
					.sriov_totalvfs = 0, .sriov_numvfs = 0, .netdevs = fn_ib_net, .n_netdevs = 1,
					.devnodes = fn_ib_nodes, .n_devnodes = 3, .link_type = ARPHRD_INFINIBAND,
					.rdma_devs = fn_ib_rdma, .n_rdma_devs = 1 };
	d[FN_GPU1] = (struct ky_pci_dev){ .addr = "0000:86:00.0", .vendor = 0x1002, .device = 0x740f,
					  .class_code = 0x030000, .driver = "amdgpu", .numa_node = 1, .iommu_group = 70,
					  .sriov_totalvfs = -1, .sriov_numvfs = -1, .devnodes = fn_gpu1_nodes,
					  .n_devnodes = 2 };
	d[FN_FPGA] = (struct ky_pci_dev){ .addr = "0000:af:00.0", .vendor = 0x8086, .device = 0x0b30,
					  .class_code = 0x120000, .driver = "dfl-pci", .numa_node = 1, .iommu_group = 90,
					  .sriov_totalvfs = -1, .sriov_numvfs = -1, .devnodes = fn_fpga_nodes,
					  .n_devnodes = 2 };
	d[FN_QAT] = (struct ky_pci_dev){ .addr = "0000:b1:00.0", .vendor = 0x8086, .device = 0x4940,
					 .class_code = 0x0b4000, .driver = "vfio-pci", .numa_node = 1, .iommu_group = 77,
					 .sriov_totalvfs = -1, .sriov_numvfs = -1, .devnodes = fn_qat_nodes,
					 .n_devnodes = 1 };
}

/* No byte the log or a terminal would take for a line end or an escape. */
static inline void fuzz_assert_printable(const char *what, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f, "%s with raw byte 0x%02x: %s", what, *p, s);
}

/* A refused config: one clean error, nothing handed out. */
static inline void fuzz_check_refused(int r, const struct ky_device_config *cfg, const struct ky_error *err)
{
	FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM, "parse returned %d: %s", r, ky_error_msg(err));
	FUZZ_ASSERT(!cfg, "a config with a failure");
	FUZZ_ASSERT(ky_error_msg(err)[0], "refused without a message");
	fuzz_assert_printable("error message", ky_error_msg(err));
}

static inline void fuzz_check_resource(const struct ky_device_config *cfg, size_t i)
{
	const struct ky_device_resource *r = &cfg->resources[i];
	const bool sriovdp = r->schema == KY_DEVICE_SCHEMA_SRIOVDP;
	FUZZ_ASSERT(r->schema == cfg->schema, "resources[%zu] of another schema", i);
	FUZZ_ASSERT(r->name && r->path, "resources[%zu] has no name or path", i);
	const char *problem = ky_device_resource_name_problem(r->name);
	FUZZ_ASSERT(!problem, "resource name %s: %s", r->name, problem);
	for (size_t k = 0; k < i; k++)
		FUZZ_ASSERT(strcmp(cfg->resources[k].name, r->name) != 0, "resources[%zu] repeats %s", i, r->name);
	if (sriovdp)
		FUZZ_ASSERT(r->kind == KY_DEVICE_NET || r->kind == KY_DEVICE_ACCEL, "SRIOV-DP kind %d", (int)r->kind);
	else
		FUZZ_ASSERT(r->kind == KY_DEVICE_GPU || r->kind == KY_DEVICE_FPGA || r->kind == KY_DEVICE_NIC_VF,
			    "kind %d", (int)r->kind);
	FUZZ_ASSERT(strcmp(ky_device_kind_name(r->kind), "unknown") != 0, "kind %d has no name", (int)r->kind);
	FUZZ_ASSERT(r->frontend == KY_FRONTEND_DEVICE_PLUGIN || (!sriovdp && r->frontend == KY_FRONTEND_DRA),
		    "frontend %d", (int)r->frontend);
	FUZZ_ASSERT(r->n_selectors >= 1 && r->n_selectors <= (sriovdp ? KY_DEVICE_MAX_SELECTORS : 1u) && r->selectors,
		    "%zu selectors", r->n_selectors);
	for (size_t s = 0; s < r->n_selectors; s++) {
		FUZZ_ASSERT(r->selectors[s].path, "selector %zu without a path", s);
		FUZZ_ASSERT(!r->selectors[s].vhost_net || r->kind == KY_DEVICE_NET, "needVhostNet for %s",
			    ky_device_kind_name(r->kind));
	}
	FUZZ_ASSERT(r->replicas >= 1 && r->replicas <= KY_DEVICE_MAX_REPLICAS, "replicas %u", r->replicas);
	FUZZ_ASSERT(r->replicas == 1 || r->kind == KY_DEVICE_GPU, "replicas %u for %s", r->replicas,
		    ky_device_kind_name(r->kind));
	FUZZ_ASSERT(ky_device_resource_shared(r) == (r->replicas > 1), "shared without replicas");
	FUZZ_ASSERT(!r->has_bitstream || r->kind == KY_DEVICE_FPGA, "bitstream for %s", ky_device_kind_name(r->kind));
	FUZZ_ASSERT(ky_device_resource_programs(r) == r->has_bitstream, "programs without a bitstream");
	if (r->has_bitstream) {
		const struct ky_image_spec *s = &r->bitstream;
		FUZZ_ASSERT(s->id && *s->id, "bitstream without id");
		FUZZ_ASSERT(!s->path != !s->url, "bitstream path and url");
		FUZZ_ASSERT(!s->path || s->path[0] == '/', "bitstream path %s", s->path);
		FUZZ_ASSERT(ky_sha256_hex_valid(s->sha256), "bitstream sha256 %s", s->sha256);
	}
	FUZZ_ASSERT(!r->program || (r->has_bitstream && r->n_program > 0 && r->program[0][0] == '/'),
		    "loader command without a bitstream or by relative path");
	for (size_t k = 0; k < r->n_program; k++)
		FUZZ_ASSERT(r->program[k], "program[%zu] is NULL", k);
	FUZZ_ASSERT(!r->n_info || sriovdp, "additionalInfo in kyborg's schema");
	for (size_t k = 0; k < r->n_info; k++) {
		FUZZ_ASSERT(r->info[k].device, "additionalInfo %zu without a key", k);
		for (size_t j = 0; j < r->info[k].n_kvs; j++)
			FUZZ_ASSERT(r->info[k].kvs[j].key && r->info[k].kvs[j].value, "additionalInfo pair %zu", j);
	}

	/* The names made of the resource name: the environment name users
	 * read (SRIOV-DP keeps '-'), CDI names and their annotation. */
	_cleanup_free_ char *cdi = ky_device_cdi_name(r->name, "0000:3b:00.0::1");
	FUZZ_ASSERT(cdi, "no CDI name for %s", r->name);
	_cleanup_free_ char *ann = ky_device_cdi_annotation_key(r->name);
	FUZZ_ASSERT(ann && strncmp(ann, KY_DEVICE_CDI_ANNOTATION_PREFIX, strlen(KY_DEVICE_CDI_ANNOTATION_PREFIX)) == 0 &&
			    !strchr(ann + strlen(KY_DEVICE_CDI_ANNOTATION_PREFIX), '/'),
		    "CDI annotation key %s", ann);
	FUZZ_ASSERT(ky_device_resource_equal(r, r), "resources[%zu] differs from itself", i);
	for (size_t k = 0; k < i; k++)
		FUZZ_ASSERT(!ky_device_resource_equal(r, &cfg->resources[k]), "resources[%zu] equals resources[%zu]", i, k);
}

static inline bool fuzz_in_list(const struct ky_devlist *l, const struct ky_pci_dev *p)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->devs[i].pci == p)
			return true;
	return false;
}

/* What a container gets for devs (the first n of a list): refused exactly
 * when one is unhealthy; the resource's environment variable names every
 * function; device nodes only under /dev; a CDI name per ID. */
static inline void fuzz_check_allocation(const struct ky_device_resource *r, const struct ky_devlist *l,
					 const char *const *ids, size_t n, bool with_cdi)
{
	bool all_good = true;
	for (size_t k = 0; k < n; k++) {
		const struct ky_device *d = ky_devlist_find(l, ids[k]);
		all_good &= d && d->healthy;
	}
	struct ky_device_alloc a = { 0 };
	_cleanup_error_ struct ky_error *err = NULL;
	int ret = ky_device_allocate(r, l, ids, n, with_cdi, &a, &err);
	if (ret < 0) {
		FUZZ_ASSERT(!all_good || ret == -ENOMEM, "refused good devices: %s", ky_error_msg(err));
		FUZZ_ASSERT(ret == -EINVAL || ret == -ENOMEM, "ky_device_allocate returned %d", ret);
		fuzz_assert_printable("allocation error", ky_error_msg(err));
		return;
	}
	FUZZ_ASSERT(all_good, "allocated an unknown or unhealthy device");
	FUZZ_ASSERT(a.n_envs >= 1 && strncmp(a.envs[0].key, "PCIDEVICE_", 10) == 0, "first env %s",
		    a.n_envs ? a.envs[0].key : "none");
	const bool sriovdp = r->schema == KY_DEVICE_SCHEMA_SRIOVDP;
	for (size_t k = 0; k < a.n_envs; k++)
		for (const char *p = a.envs[k].key; *p; p++)
			FUZZ_ASSERT(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' ||
					    (sriovdp && *p == '-'),
				    "environment name %s (from %s)", a.envs[k].key, r->name);
	const char *visible = a.envs[0].value;
	for (size_t k = 0; k < n; k++)
		FUZZ_ASSERT(strstr(visible, ky_devlist_find(l, ids[k])->pci->addr), "%s=%s does not name %s",
			    a.envs[0].key, visible, ids[k]);
	for (size_t k = 0; k < a.n_specs; k++)
		FUZZ_ASSERT(!strncmp(a.specs[k].host_path, "/dev/", 5) && !strstr(a.specs[k].host_path, "..") &&
				    !strcmp(a.specs[k].host_path, a.specs[k].container_path),
			    "device spec %s", a.specs[k].host_path);
	for (size_t k = 0; k < a.n_specs; k++)
		for (size_t j = 0; j < k; j++)
			FUZZ_ASSERT(strcmp(a.specs[k].host_path, a.specs[j].host_path) != 0, "device spec %s twice",
				    a.specs[k].host_path);
	FUZZ_ASSERT(a.n_cdi_devices == (with_cdi ? n : 0), "%zu CDI names for %zu devices", a.n_cdi_devices, n);
	for (size_t k = 0; k < a.n_annotations; k++)
		FUZZ_ASSERT(a.annotations[k].key && a.annotations[k].value, "annotation %zu", k);
	/* _INFO, where there is one, is JSON. Not the first variable: the
	 * resource's own list, which a resource named "..._INFO" (SRIOV-DP
	 * allows [A-Za-z0-9_]) ends like one (a harness mistake once, kept as
	 * found-info-named-resource). */
	for (size_t k = 1; k < a.n_envs; k++) {
		size_t kl = strlen(a.envs[k].key);
		if (kl > 5 && strcmp(a.envs[k].key + kl - 5, "_INFO") == 0) {
			cJSON *j = cJSON_Parse(a.envs[k].value);
			FUZZ_ASSERT(cJSON_IsObject(j), "%s is no JSON object: %s", a.envs[k].key, a.envs[k].value);
			cJSON_Delete(j);
		}
	}
	ky_device_alloc_release(&a);
}

/* The lists an accepted config makes on the node: each function in at most
 * one list (the first resource that matches), of a kind the resource takes,
 * in (address, replica) order with IDs kubelet accepts, found by ID; GPU
 * replicas as configured; DRA names that parse back. Then what the first
 * devices of each list give a container, and the notes. */
static inline void fuzz_check_devices(const struct ky_device_config *cfg)
{
	struct ky_devlist *lists = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_devices_build_host(cfg, &fuzz_node, &fuzz_host, &lists, &err);
	FUZZ_ASSERT(r == 0, "device lists: %s", ky_error_msg(err));
	for (size_t p = 0; p < fuzz_node.n; p++) {
		const struct ky_pci_dev *pci = &fuzz_node.devs[p];
		size_t holders = 0;
		for (size_t k = 0; k < cfg->n_resources; k++) {
			bool in = fuzz_in_list(&lists[k], pci);
			holders += in;
			int sel = ky_device_resource_match(&cfg->resources[k], pci, &fuzz_node, &fuzz_host);
			if (in)
				FUZZ_ASSERT(sel >= 0, "%s listed for %s, which does not match it", pci->addr,
					    cfg->resources[k].name);
			if (holders == 0)
				FUZZ_ASSERT(sel < 0, "%s matches %s but is not listed", pci->addr, cfg->resources[k].name);
		}
		FUZZ_ASSERT(holders <= 1, "%s in %zu lists", pci->addr, holders);
	}
	for (size_t k = 0; k < cfg->n_resources; k++) {
		const struct ky_device_resource *res = &cfg->resources[k];
		const struct ky_devlist *l = &lists[k];
		for (size_t i = 0; i < l->n; i++) {
			const struct ky_device *d = &l->devs[i];
			FUZZ_ASSERT(strlen(d->id) <= KY_DEVICE_MAX_ID_LEN, "device ID %s", d->id);
			FUZZ_ASSERT(ky_devlist_find(l, d->id) == d, "%s not found by its ID", d->id);
			FUZZ_ASSERT(ky_devlist_find_pci(l, d->pci->addr) == d - (d->replica > 0 ? d->replica : 0),
				    "%s: the first entry of its function is not found", d->id);
			FUZZ_ASSERT(d->healthy == (d->pci->driver != NULL), "%s healthy %d", d->id, d->healthy);
			FUZZ_ASSERT(d->selector < res->n_selectors, "%s taken by selector %u", d->id, d->selector);
			FUZZ_ASSERT(res->kind != KY_DEVICE_NIC_VF || ky_pci_is_vf(d->pci), "%s is no VF", d->id);
			FUZZ_ASSERT((d->replica >= 0) == (res->replicas > 1) && d->replica < (int)res->replicas,
				    "%s replica %d of %u", d->id, d->replica, res->replicas);
			if (i > 0) {
				const struct ky_device *e = &l->devs[i - 1];
				int c = strcmp(e->pci->addr, d->pci->addr);
				FUZZ_ASSERT(c < 0 || (c == 0 && e->replica + 1 == d->replica), "%s after %s", d->id, e->id);
			}
			if (d->replica <= 0) {
				char name[KY_DEVICE_DRA_NAME_MAX], addr[KY_PCI_ADDR_LEN];
				enum ky_device_kind kind;
				int rep;
				ky_device_dra_name(res->kind, d->pci->addr, -1, name);
				FUZZ_ASSERT(ky_device_dra_name_parse(name, &kind, addr, &rep) == 0 &&
						    kind == res->kind && !strcmp(addr, d->pci->addr) && rep == -1,
					    "DRA name %s does not read back", name);
			}
		}
		FUZZ_ASSERT(ky_devlist_find(l, "0000:18:01.0::01") == NULL, "a replica with a leading zero found");
		/* The first three IDs, a repeat, and one the node never had. */
		const char *ids[5];
		size_t n = 0;
		for (size_t i = 0; i < l->n && n < 3; i++)
			ids[n++] = l->devs[i].id;
		fuzz_check_allocation(res, l, ids, n, k & 1);
		if (n) {
			ids[n++] = ids[0];
			fuzz_check_allocation(res, l, ids, n, !(k & 1));
		}
		ids[n++] = "0000:ff:1f.7";
		fuzz_check_allocation(res, l, ids, n, true);
	}
	_cleanup_strv_free_ char **notes = NULL;
	size_t n_notes = 0;
	FUZZ_ASSERT(ky_devices_notes(cfg, &fuzz_node, lists, &notes, &n_notes) == 0, "notes: out of memory");
	for (size_t i = 0; i < n_notes; i++)
		FUZZ_ASSERT(notes[i] && notes[i][0], "note %zu empty", i);
	ky_devlists_free(lists, cfg->n_resources);
}

/* An accepted config: decoded as the house decodes JSON, its resources as
 * the binaries rely on them, its warnings one line each. */
static inline void fuzz_check_config(const uint8_t *data, size_t size, const struct ky_device_config *cfg)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	FUZZ_ASSERT(ky_json_parse((const char *)data, size, &doc, NULL) == 0, "accepted, yet not JSON");
	fuzz_assert_decoded(data, size, doc);
	FUZZ_ASSERT(cfg->schema == KY_DEVICE_SCHEMA_SRIOVDP || cfg->n_resources > 0,
		    "accepted a config without resources");
	FUZZ_ASSERT(cfg->n_resources > 0 || cfg->n_warnings > 0, "no resources, and no word of it");
	for (size_t i = 0; i < cfg->n_warnings; i++) {
		FUZZ_ASSERT(cfg->warnings[i] && cfg->warnings[i][0], "warning %zu empty", i);
		fuzz_assert_printable("warning", cfg->warnings[i]);
	}
	for (size_t i = 0; i < cfg->n_resources; i++)
		fuzz_check_resource(cfg, i);
	fuzz_check_devices(cfg);
}
