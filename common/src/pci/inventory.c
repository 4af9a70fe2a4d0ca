/* The node's inventory from a PCI list: a JSON document and a readable
 * table per family. Pure: the list comes from ky_pci_discover(). */
#include "kyborg/json/json.h"
#include "kyborg/pci/inventory.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/pci.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *const families[] = { "gpu", "fpga", "nic", "other" };

/* The PF a VF is shown under: listed, and naming the VF among its virtfns. */
static const struct ky_pci_dev *listed_pf(const struct ky_pci_list *list, const struct ky_pci_dev *vf)
{
	if (!ky_pci_is_vf(vf))
		return NULL;
	const struct ky_pci_dev *pf = ky_pci_list_find(list, vf->physfn);
	return pf && ky_pci_vf_index(pf, vf->addr) >= 0 ? pf : NULL;
}

/* ---- JSON ---- */

/* Takes item; false when it is NULL (allocation failed) or cannot be added. */
static bool add(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static cJSON *str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *int_or_null(int v)
{
	return v >= 0 ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *hex(unsigned v, int width)
{
	char buf[16];
	snprintf(buf, sizeof(buf), "%0*x", width, v);
	return cJSON_CreateString(buf);
}

/* NULL entries (holes among virtfns) become null. */
static cJSON *strv(char *const *v, size_t n)
{
	_cleanup_(cJSON_Deletep) cJSON *a = cJSON_CreateArray();
	if (!a)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		cJSON *item = str_or_null(v[i]);
		if (!item || !cJSON_AddItemToArray(a, item)) {
			cJSON_Delete(item);
			return NULL;
		}
	}
	return TAKE_PTR(a);
}

static cJSON *sriov_json(const struct ky_pci_dev *dev)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	bool ok = o && add(o, "total_vfs", cJSON_CreateNumber(dev->sriov_totalvfs)) &&
		  add(o, "num_vfs", int_or_null(dev->sriov_numvfs)) && add(o, "vfs", strv(dev->virtfns, dev->n_virtfns));
	return ok ? TAKE_PTR(o) : NULL;
}

static cJSON *dev_json(const struct ky_pci_list *list, const struct ky_pci_dev *dev)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	bool ok = o && add(o, "address", cJSON_CreateString(dev->addr)) &&
		  add(o, "family", cJSON_CreateString(ky_pci_family(dev))) && add(o, "vendor", hex(dev->vendor, 4)) &&
		  add(o, "device", hex(dev->device, 4)) && add(o, "vendor_name", str_or_null(dev->vendor_name)) &&
		  add(o, "device_name", str_or_null(dev->device_name)) && add(o, "subsystem_vendor", hex(dev->subsys_vendor, 4)) &&
		  add(o, "subsystem_device", hex(dev->subsys_device, 4)) && add(o, "class", hex(dev->class_code, 6)) &&
		  add(o, "driver", str_or_null(dev->driver)) && add(o, "numa_node", int_or_null(dev->numa_node)) &&
		  add(o, "iommu_group", int_or_null(dev->iommu_group)) &&
		  add(o, "netdevs", strv(dev->netdevs, dev->n_netdevs)) &&
		  add(o, "devnodes", strv(dev->devnodes, dev->n_devnodes));
	if (ok && dev->sriov_totalvfs >= 0)
		ok = add(o, "sriov", sriov_json(dev));
	if (ok && ky_pci_is_vf(dev)) {
		int idx = ky_pci_vf_index(ky_pci_list_find(list, dev->physfn), dev->addr);
		ok = add(o, "physfn", cJSON_CreateString(dev->physfn)) && add(o, "vf_index", int_or_null(idx));
	}
	return ok ? TAKE_PTR(o) : NULL;
}

static cJSON *summary_json(const struct ky_pci_list *list)
{
	double counts[KY_ARRAY_SIZE(families)] = { 0 }, vfs = 0;
	for (size_t i = 0; i < list->n; i++) {
		const char *fam = ky_pci_family(&list->devs[i]);
		for (size_t f = 0; f < KY_ARRAY_SIZE(families); f++)
			if (strcmp(fam, families[f]) == 0)
				counts[f]++;
		if (ky_pci_is_vf(&list->devs[i]))
			vfs++;
	}
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	bool ok = o && add(o, "total", cJSON_CreateNumber((double)list->n));
	for (size_t f = 0; ok && f < KY_ARRAY_SIZE(families); f++)
		ok = add(o, families[f], cJSON_CreateNumber(counts[f]));
	ok = ok && add(o, "vf", cJSON_CreateNumber(vfs));
	return ok ? TAKE_PTR(o) : NULL;
}

int ky_inventory_to_json(const struct ky_pci_list *list, cJSON **out, struct ky_error **err)
{
	static const struct ky_pci_list empty;
	if (!list)
		list = &empty;
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
	_cleanup_(cJSON_Deletep) cJSON *fns = cJSON_CreateArray();
	if (!doc || !fns)
		return ky_error_set(err, ENOMEM, "inventory JSON: out of memory");
	for (size_t i = 0; i < list->n; i++) {
		cJSON *d = dev_json(list, &list->devs[i]);
		if (!d || !cJSON_AddItemToArray(fns, d)) {
			cJSON_Delete(d);
			return ky_error_set(err, ENOMEM, "inventory JSON: out of memory");
		}
	}
	if (!add(doc, "pci_functions", TAKE_PTR(fns)) || !add(doc, "summary", summary_json(list)))
		return ky_error_set(err, ENOMEM, "inventory JSON: out of memory");
	*out = TAKE_PTR(doc);
	return 0;
}

/* ---- Text ---- */

enum { COL_ADDR, COL_ID, COL_DRIVER, COL_NUMA, COL_IOMMU, COL_NETDEV, COL_SRIOV, COL_NODES, COL_NAME, N_COLS };
/* Columns from COL_NETDEV on are shown only when some row fills them. */
#define N_ALWAYS_SHOWN COL_NETDEV

static const char *const col_heads[N_COLS] = {
	"ADDRESS", "ID", "DRIVER", "NUMA", "IOMMU", "NETDEV", "SR-IOV", "DEVICE NODES", "NAME",
};

struct row {
	char *cell[N_COLS]; /* NULL: empty */
};

struct table {
	struct row *rows;
	size_t n;
};

static void table_clear(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		for (size_t c = 0; c < N_COLS; c++)
			free(t->rows[i].cell[c]);
	free(t->rows);
	t->rows = NULL;
	t->n = 0;
}

static char *join(char *const *v, size_t n, const char *sep)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	for (size_t i = 0, k = 0; i < n; i++)
		if (v[i])
			fprintf(m, "%s%s", k++ ? sep : "", v[i]);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* asprintf that leaves no undefined pointer behind: NULL when it fails. */
__attribute__((format(printf, 1, 2))) static char *str_printf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

static int table_add(struct table *t, const struct ky_pci_list *list, const struct ky_pci_dev *dev, bool under_pf)
{
	struct row *nr = realloc(t->rows, (t->n + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	t->rows = nr;
	struct row *r = &t->rows[t->n++];
	memset(r, 0, sizeof(*r));

	char **c = r->cell;
	bool oom = !(c[COL_ADDR] = str_printf("%s%s", under_pf ? "  " : "", dev->addr)) ||
		   !(c[COL_ID] = str_printf("%04x:%04x", dev->vendor, dev->device));
	if (dev->driver)
		oom |= !(c[COL_DRIVER] = strdup(dev->driver));
	if (dev->numa_node >= 0)
		oom |= !(c[COL_NUMA] = str_printf("%d", dev->numa_node));
	if (dev->iommu_group >= 0)
		oom |= !(c[COL_IOMMU] = str_printf("%d", dev->iommu_group));
	if (dev->n_netdevs)
		oom |= !(c[COL_NETDEV] = join(dev->netdevs, dev->n_netdevs, ","));
	if (under_pf) {
		int idx = ky_pci_vf_index(ky_pci_list_find(list, dev->physfn), dev->addr);
		oom |= !(c[COL_SRIOV] = str_printf("vf %d", idx));
	} else if (dev->sriov_totalvfs >= 0) {
		oom |= !(c[COL_SRIOV] = str_printf("%d/%d VFs", dev->sriov_numvfs < 0 ? 0 : dev->sriov_numvfs,
						   dev->sriov_totalvfs));
	}
	if (dev->n_devnodes)
		oom |= !(c[COL_NODES] = join(dev->devnodes, dev->n_devnodes, ", "));
	if (dev->vendor_name || dev->device_name)
		oom |= !(c[COL_NAME] = str_printf("%s%s%s", dev->vendor_name ? dev->vendor_name : "",
						  dev->vendor_name && dev->device_name ? " " : "",
						  dev->device_name ? dev->device_name : ""));
	return oom ? -ENOMEM : 0;
}

/* Rows of one family: each PF followed by its listed VFs in virtfn order. */
static int table_fill(struct table *t, const struct ky_pci_list *list, const char *family)
{
	for (size_t i = 0; i < list->n; i++) {
		const struct ky_pci_dev *dev = &list->devs[i];
		if (strcmp(ky_pci_family(dev), family) != 0 || listed_pf(list, dev))
			continue;
		int r = table_add(t, list, dev, false);
		if (r < 0)
			return r;
		for (size_t v = 0; v < dev->n_virtfns; v++) {
			const struct ky_pci_dev *vf = dev->virtfns[v] ? ky_pci_list_find(list, dev->virtfns[v]) : NULL;
			if (!vf || listed_pf(list, vf) != dev)
				continue;
			if ((r = table_add(t, list, vf, true)) < 0)
				return r;
		}
	}
	return 0;
}

static void table_print(const struct table *t, FILE *f)
{
	size_t width[N_COLS];
	bool shown[N_COLS];
	size_t last = 0;
	for (size_t c = 0; c < N_COLS; c++) {
		width[c] = strlen(col_heads[c]);
		shown[c] = c < N_ALWAYS_SHOWN;
		for (size_t i = 0; i < t->n; i++) {
			const char *s = t->rows[i].cell[c];
			if (!s)
				continue;
			shown[c] = true;
			if (strlen(s) > width[c])
				width[c] = strlen(s);
		}
		if (shown[c])
			last = c;
	}
	for (size_t i = 0; i <= t->n; i++) {
		fputs("  ", f);
		for (size_t c = 0; c <= last; c++) {
			if (!shown[c])
				continue;
			const char *s = i == 0 ? col_heads[c] : t->rows[i - 1].cell[c];
			if (!s)
				s = "-";
			if (c == last)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%-*s  ", (int)width[c], s);
		}
	}
}

int ky_inventory_write_text(const struct ky_pci_list *list, FILE *f, struct ky_error **err)
{
	static const struct ky_pci_list empty;
	static const char *const titles[] = { "GPUs", "FPGAs", "NICs" };
	if (!list)
		list = &empty;

	size_t shown = 0;
	for (size_t fam = 0; fam < KY_ARRAY_SIZE(titles); fam++) {
		_cleanup_(table_clear) struct table t = { 0 };
		if (table_fill(&t, list, families[fam]) < 0)
			return ky_error_set(err, ENOMEM, "inventory text: out of memory");
		if (t.n == 0) {
			fprintf(f, "%s: none\n", titles[fam]);
		} else {
			fprintf(f, "%s: %zu\n", titles[fam], t.n);
			table_print(&t, f);
		}
		fputc('\n', f);
		shown += t.n;
	}
	fprintf(f, "Other PCI functions: %zu\n", list->n - shown);

	if (fflush(f) != 0 || ferror(f))
		return ky_error_set(err, EIO, "write inventory: %s", strerror(errno ? errno : EIO));
	return 0;
}
