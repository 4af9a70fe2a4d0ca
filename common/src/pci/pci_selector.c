/* PCI selectors: the JSON object that chooses PCI functions by vendor,
 * device, driver, class, PF (name or address, with SRIOV-DP's VF ranges),
 * address, NUMA node, link type, ACPI index and RDMA, and its matching.
 * Shared by the device plugin's resources (both config schemas) and
 * kyborgctl's node profile. Pure. */
#include "kyborg/pci/pci_selector.h"
#include "kyborg/base/error.h"
#include "kyborg/base/strv.h"
#include "kyborg/json/json.h"
#include "kyborg/pci/pci.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const ky_pci_selector_keys[] = { "vendors",      "devices",   "drivers",   "classes",
					     "pfNames",      "rootDevices", "pciAddresses", "numaNodes",
					     "linkTypes",    "acpiIndexes", NULL };

void ky_pci_selector_release(struct ky_pci_selector *s)
{
	free(s->vendors);
	free(s->devices);
	free(s->classes);
	free(s->class_digits);
	ky_strv_free(s->drivers);
	for (size_t i = 0; i < s->n_pf_names; i++)
		ky_pci_vfset_release(&s->pf_names[i]);
	free(s->pf_names);
	for (size_t i = 0; i < s->n_root_devices; i++)
		ky_pci_vfset_release(&s->root_devices[i]);
	free(s->root_devices);
	ky_strv_free(s->pci_addresses);
	free(s->numa_nodes);
	free(s->link_types);
	ky_strv_free(s->acpi_indexes);
	*s = (struct ky_pci_selector){ 0 };
}

/* ---- link types, as the netlink library SRIOV-DP uses names them ---- */

static const struct {
	unsigned short type;
	const char *name;
} link_types[] = {
	{ 1, "ether" },	       { 2, "eether" },	       { 3, "ax25" },	      { 4, "pronet" },
	{ 5, "chaos" },	       { 6, "ieee802" },       { 7, "arcnet" },	      { 8, "atalk" },
	{ 15, "dlci" },	       { 19, "atm" },	       { 23, "metricom" },     { 24, "ieee1394" },
	{ 32, "infiniband" },  { 256, "slip" },	       { 257, "cslip" },      { 258, "slip6" },
	{ 259, "cslip6" },     { 260, "rsrvd" },       { 264, "adapt" },      { 270, "rose" },
	{ 271, "x25" },	       { 272, "hwx25" },       { 512, "ppp" },	      { 513, "hdlc" },
	{ 516, "lapb" },       { 517, "ddcmp" },       { 518, "rawhdlc" },    { 768, "ipip" },
	{ 769, "tunnel6" },    { 770, "frad" },	       { 771, "skip" },	      { 772, "loopback" },
	{ 773, "ltalk" },      { 774, "fddi" },	       { 775, "bif" },	      { 776, "sit" },
	{ 777, "ip/ddp" },     { 778, "gre" },	       { 779, "pimreg" },     { 780, "hippi" },
	{ 781, "ash" },	       { 782, "econet" },      { 783, "irda" },	      { 784, "fcpp" },
	{ 785, "fcal" },       { 786, "fcpl" },	       { 800, "tr" },	      { 801, "ieee802.11" },
	{ 802, "ieee802.11/prism" }, { 803, "ieee802.11/radiotap" }, { 804, "ieee802.15.4" },
	{ 65534, "none" },     { 65535, "void" },
};

const char *ky_pci_link_type_name(unsigned type)
{
	for (size_t i = 0; i < KY_ARRAY_SIZE(link_types); i++)
		if (link_types[i].type == type)
			return link_types[i].name;
	return NULL;
}

int ky_pci_link_type_parse(const char *name)
{
	for (size_t i = 0; i < KY_ARRAY_SIZE(link_types); i++)
		if (strcmp(link_types[i].name, name) == 0)
			return link_types[i].type;
	return -1;
}

/* ---- parsing ---- */

static int hex_value(const char *s, size_t digits, uint32_t *out)
{
	uint32_t v = 0;
	if (strlen(s) != digits)
		return -EINVAL;
	for (size_t i = 0; i < digits; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 16 + (uint32_t)(isdigit((unsigned char)s[i]) ? s[i] - '0' : (tolower((unsigned char)s[i]) - 'a' + 10));
	}
	*out = v;
	return 0;
}

static int array_flags(int flags)
{
	return flags & KY_PCI_SELECTOR_LENIENT ? KY_JSON_NULLABLE : KY_JSON_NONEMPTY;
}

/* The list sel[key]: 1 with *arr and *len when present (and, lenient,
 * not empty), 0 when absent. */
static int get_array(const struct ky_jnode *sel, const char *key, int flags, struct ky_jnode *arr, size_t *len,
		     struct ky_error **err)
{
	int r = ky_json_array(sel, key, array_flags(flags), arr, len, err);
	return r > 0 && *len == 0 ? 0 : r;
}

/* "vendors": ["10de", ...]: four hex digits each. */
static int get_ids(const struct ky_jnode *sel, const char *key, const char *what, int flags, uint16_t **out,
		   size_t *n, struct ky_error **err)
{
	struct ky_jnode arr, e;
	size_t len, i;
	int r = get_array(sel, key, flags, &arr, &len, err);
	if (r <= 0)
		return r;
	uint16_t *v = calloc(len, sizeof(*v));
	if (!v)
		return ky_error_set(err, ENOMEM, "out of memory");
	ky_json_foreach(&arr, i, e)
	{
		const char *s;
		uint32_t x;
		if ((r = ky_json_string(&e, NULL, 0, &s, err)) < 0) {
			free(v);
			return r;
		}
		if (hex_value(s, 4, &x) < 0) {
			char q[64];
			free(v);
			return ky_json_error(&e, err, "not a %s ID of four hex digits: %s", what,
					     ky_json_quote(s, q, sizeof(q)));
		}
		v[i] = (uint16_t)x;
	}
	*out = v;
	*n = len;
	return 1;
}

static int get_classes(const struct ky_jnode *sel, int flags, struct ky_pci_selector *s, struct ky_error **err)
{
	struct ky_jnode arr, e;
	size_t len, i;
	int r = get_array(sel, "classes", flags, &arr, &len, err);
	if (r <= 0)
		return r;
	s->classes = calloc(len, sizeof(*s->classes));
	s->class_digits = calloc(len, sizeof(*s->class_digits));
	if (!s->classes || !s->class_digits)
		return ky_error_set(err, ENOMEM, "out of memory");
	s->n_classes = len;
	ky_json_foreach(&arr, i, e)
	{
		const char *str;
		if ((r = ky_json_string(&e, NULL, 0, &str, err)) < 0)
			return r;
		size_t d = strlen(str);
		if ((d != 2 && d != 4 && d != 6) || hex_value(str, d, &s->classes[i]) < 0) {
			char q[64];
			return ky_json_error(&e, err, "not a PCI class of 2, 4 or 6 hex digits: %s",
					     ky_json_quote(str, q, sizeof(q)));
		}
		s->class_digits[i] = (uint8_t)d;
	}
	return 1;
}

static int get_strings(const struct ky_jnode *sel, const char *key, int flags, char ***out, size_t *n,
		       struct ky_error **err)
{
	struct ky_jnode arr;
	size_t len;
	int r = get_array(sel, key, flags, &arr, &len, err);
	if (r <= 0)
		return r;
	return ky_json_string_array(sel, key, KY_JSON_NONEMPTY, out, n, err);
}

static void elem(const struct ky_jnode *sel, const char *key, size_t i, struct ky_jnode *out)
{
	struct ky_jnode arr;
	ky_json_array(sel, key, 0, &arr, NULL, NULL);
	ky_json_index(&arr, i, out);
}

/* pfNames and rootDevices: "<PF>[#ranges]", the PF an interface name or a
 * PCI address (made canonical). */
static int get_vfsets(const struct ky_jnode *sel, const char *key, bool by_address, int flags,
		      struct ky_pci_vfset **out, size_t *n, struct ky_error **err)
{
	_cleanup_strv_free_ char **v = NULL;
	size_t len;
	int r = get_strings(sel, key, flags, &v, &len, err);
	if (r <= 0)
		return r;
	if (!(*out = calloc(len, sizeof(**out))))
		return ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < len; i++) {
		struct ky_pci_vfset *set = &(*out)[i];
		struct ky_jnode e;
		const char *problem = NULL;
		char q[96];
		*n = i + 1;
		if ((r = ky_pci_vfset_parse(v[i], set, &problem)) == -ENOMEM)
			return ky_error_set(err, ENOMEM, "out of memory");
		elem(sel, key, i, &e);
		if (r < 0)
			return ky_json_error(&e, err, "%s: %s", ky_json_quote(v[i], q, sizeof(q)), problem);
		if (by_address) {
			char canon[KY_PCI_ADDR_LEN];
			if (ky_pci_addr_normalize(set->pf, canon) < 0)
				return ky_json_error(&e, err, "not a PF's PCI address (DDDD:BB:SS.F[#ranges]): %s",
						     ky_json_quote(v[i], q, sizeof(q)));
			char *c = strdup(canon);
			if (!c)
				return ky_error_set(err, ENOMEM, "out of memory");
			free(set->pf);
			set->pf = c;
		} else if (strlen(set->pf) > 15 || strchr(set->pf, '/') || strpbrk(set->pf, " \t\n")) {
			return ky_json_error(&e, err, "not an interface name (1 to 15 characters, no '/' or space)%s",
					     strchr(v[i], '#') ? " before '#'" : "");
		}
	}
	return 1;
}

static int get_pci_addresses(const struct ky_jnode *sel, int flags, struct ky_pci_selector *s, struct ky_error **err)
{
	int r = get_strings(sel, "pciAddresses", flags, &s->pci_addresses, &s->n_pci_addresses, err);
	if (r <= 0)
		return r;
	for (size_t i = 0; i < s->n_pci_addresses; i++) {
		char canon[KY_PCI_ADDR_LEN];
		if (ky_pci_addr_normalize(s->pci_addresses[i], canon) < 0) {
			struct ky_jnode e;
			char q[64];
			elem(sel, "pciAddresses", i, &e);
			return ky_json_error(&e, err, "not a PCI address (DDDD:BB:SS.F): %s",
					     ky_json_quote(s->pci_addresses[i], q, sizeof(q)));
		}
		/* "18:01.0" is short for "0000:18:01.0": the canonical form can be longer. */
		char *c = strdup(canon);
		if (!c)
			return ky_error_set(err, ENOMEM, "out of memory");
		free(s->pci_addresses[i]);
		s->pci_addresses[i] = c;
	}
	return 1;
}

static int get_numa_nodes(const struct ky_jnode *sel, int flags, struct ky_pci_selector *s, struct ky_error **err)
{
	struct ky_jnode arr, e;
	size_t len, i;
	int r = get_array(sel, "numaNodes", flags, &arr, &len, err);
	if (r <= 0)
		return r;
	s->numa_nodes = calloc(len, sizeof(*s->numa_nodes));
	if (!s->numa_nodes)
		return ky_error_set(err, ENOMEM, "out of memory");
	s->n_numa_nodes = len;
	ky_json_foreach(&arr, i, e)
	{
		int64_t v;
		if ((r = ky_json_int(&e, NULL, 0, 0, 1023, &v, err)) < 0)
			return r;
		s->numa_nodes[i] = (int)v;
	}
	return 1;
}

static int get_link_types(const struct ky_jnode *sel, int flags, struct ky_pci_selector *s, struct ky_error **err)
{
	_cleanup_strv_free_ char **v = NULL;
	size_t len;
	int r = get_strings(sel, "linkTypes", flags, &v, &len, err);
	if (r <= 0)
		return r;
	if (!(s->link_types = calloc(len, sizeof(*s->link_types))))
		return ky_error_set(err, ENOMEM, "out of memory");
	s->n_link_types = len;
	for (size_t i = 0; i < len; i++) {
		int t = ky_pci_link_type_parse(v[i]);
		if (t < 0) {
			struct ky_jnode e;
			char q[64];
			elem(sel, "linkTypes", i, &e);
			return ky_json_error(&e, err, "not a link type (\"ether\", \"infiniband\", ...): %s",
					     ky_json_quote(v[i], q, sizeof(q)));
		}
		s->link_types[i] = (uint16_t)t;
	}
	return 1;
}

static bool wanted(const char *const *keys, const char *key)
{
	if (!keys)
		return true;
	for (; *keys; keys++)
		if (strcmp(*keys, key) == 0)
			return true;
	return false;
}

int ky_pci_selector_parse_fields(const struct ky_jnode *sel, const char *const *keys, int flags,
				 struct ky_pci_selector *s, struct ky_error **err)
{
	int r = 0;
#define FIELD(key, call)                                    \
	do {                                                \
		if (wanted(keys, key) && (r = (call)) < 0) \
			return r;                           \
	} while (0)
	FIELD("vendors", get_ids(sel, "vendors", "vendor", flags, &s->vendors, &s->n_vendors, err));
	FIELD("devices", get_ids(sel, "devices", "device", flags, &s->devices, &s->n_devices, err));
	FIELD("drivers", get_strings(sel, "drivers", flags, &s->drivers, &s->n_drivers, err));
	FIELD("classes", get_classes(sel, flags, s, err));
	FIELD("pfNames", get_vfsets(sel, "pfNames", false, flags, &s->pf_names, &s->n_pf_names, err));
	FIELD("rootDevices", get_vfsets(sel, "rootDevices", true, flags, &s->root_devices, &s->n_root_devices, err));
	FIELD("pciAddresses", get_pci_addresses(sel, flags, s, err));
	FIELD("numaNodes", get_numa_nodes(sel, flags, s, err));
	FIELD("linkTypes", get_link_types(sel, flags, s, err));
	FIELD("acpiIndexes", get_strings(sel, "acpiIndexes", flags, &s->acpi_indexes, &s->n_acpi_indexes, err));
#undef FIELD
	return 0;
}

bool ky_pci_selector_empty(const struct ky_pci_selector *s)
{
	return !s->n_vendors && !s->n_devices && !s->n_classes && !s->n_drivers && !s->n_pf_names &&
	       !s->n_root_devices && !s->n_pci_addresses && !s->n_numa_nodes && !s->n_link_types &&
	       !s->n_acpi_indexes && !s->rdma;
}

int ky_pci_selector_parse(const struct ky_jnode *obj, const char *key, struct ky_pci_selector *s,
			  struct ky_error **err)
{
	struct ky_jnode sel;
	int r;
	if ((r = ky_json_object(obj, key, KY_JSON_REQUIRED, &sel, err)) < 0)
		return r;
	if ((r = ky_json_check_keys(&sel, ky_pci_selector_keys, err)) < 0)
		return r;
	if (!sel.j->child)
		return ky_json_error(&sel, err, "needs at least one of vendors, devices, drivers, classes, pfNames, "
						"rootDevices, pciAddresses, numaNodes, linkTypes, acpiIndexes");
	return ky_pci_selector_parse_fields(&sel, NULL, 0, s, err);
}

static bool strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

#define MEM_EQ(a, na, b, nb) ((na) == (nb) && ((na) == 0 || memcmp((a), (b), (na) * sizeof(*(a))) == 0))

static bool vfsets_eq(const struct ky_pci_vfset *a, size_t na, const struct ky_pci_vfset *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].pf, b[i].pf) != 0 || !MEM_EQ(a[i].ranges, a[i].n_ranges, b[i].ranges, b[i].n_ranges))
			return false;
	return true;
}

bool ky_pci_selector_equal(const struct ky_pci_selector *a, const struct ky_pci_selector *b)
{
	return MEM_EQ(a->vendors, a->n_vendors, b->vendors, b->n_vendors) &&
	       MEM_EQ(a->devices, a->n_devices, b->devices, b->n_devices) &&
	       MEM_EQ(a->classes, a->n_classes, b->classes, b->n_classes) &&
	       MEM_EQ(a->class_digits, a->n_classes, b->class_digits, b->n_classes) &&
	       strv_eq(a->drivers, a->n_drivers, b->drivers, b->n_drivers) &&
	       vfsets_eq(a->pf_names, a->n_pf_names, b->pf_names, b->n_pf_names) &&
	       vfsets_eq(a->root_devices, a->n_root_devices, b->root_devices, b->n_root_devices) &&
	       strv_eq(a->pci_addresses, a->n_pci_addresses, b->pci_addresses, b->n_pci_addresses) &&
	       MEM_EQ(a->numa_nodes, a->n_numa_nodes, b->numa_nodes, b->n_numa_nodes) &&
	       MEM_EQ(a->link_types, a->n_link_types, b->link_types, b->n_link_types) &&
	       strv_eq(a->acpi_indexes, a->n_acpi_indexes, b->acpi_indexes, b->n_acpi_indexes) && a->rdma == b->rdma;
}

/* ---- Matching ---- */

static bool has_u16(const uint16_t *v, size_t n, uint16_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static bool has_str(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static bool class_matches(const struct ky_pci_selector *s, uint32_t class_code)
{
	for (size_t i = 0; i < s->n_classes; i++) {
		unsigned shift = (unsigned)(6 - s->class_digits[i]) * 4;
		if ((class_code >> shift) == s->classes[i])
			return true;
	}
	return false;
}

static bool pf_has_name(const struct ky_pci_dev *pf, const char *name)
{
	for (size_t i = 0; i < pf->n_netdevs; i++)
		if (strcasecmp(pf->netdevs[i], name) == 0)
			return true;
	return false;
}

/* SRIOV-DP's getItem: the first entry that names the PF decides, by its
 * ranges; a function that is not a VF has no PF and is never taken. */
static bool pf_name_matches(const struct ky_pci_selector *s, const struct ky_pci_dev *dev, const struct ky_pci_dev *pf)
{
	if (!pf)
		return false;
	for (size_t i = 0; i < s->n_pf_names; i++)
		if (pf_has_name(pf, s->pf_names[i].pf)) {
			if (!s->pf_names[i].n_ranges)
				return true;
			int idx = ky_pci_vf_index(pf, dev->addr);
			return idx >= 0 && ky_pci_vfset_takes(&s->pf_names[i], (unsigned)idx);
		}
	return false;
}

static bool root_device_matches(const struct ky_pci_selector *s, const struct ky_pci_dev *dev,
				const struct ky_pci_dev *pf)
{
	if (!dev->physfn[0])
		return false;
	for (size_t i = 0; i < s->n_root_devices; i++)
		if (strcmp(s->root_devices[i].pf, dev->physfn) == 0) {
			if (!s->root_devices[i].n_ranges)
				return true;
			int idx = pf ? ky_pci_vf_index(pf, dev->addr) : -1;
			return idx >= 0 && ky_pci_vfset_takes(&s->root_devices[i], (unsigned)idx);
		}
	return false;
}

bool ky_pci_selector_matches(const struct ky_pci_selector *s, const struct ky_pci_dev *dev,
			     const struct ky_pci_list *all)
{
	if (s->n_vendors && !has_u16(s->vendors, s->n_vendors, dev->vendor))
		return false;
	if (s->n_devices && !has_u16(s->devices, s->n_devices, dev->device))
		return false;
	/* An unbound function still matches a drivers selector: its driver
	 * went away (or is being swapped), and kubelet must hear that it is
	 * Unhealthy rather than lose it. */
	if (s->n_drivers && dev->driver && !has_str(s->drivers, s->n_drivers, dev->driver))
		return false;
	if (s->n_classes && !class_matches(s, dev->class_code))
		return false;
	if (s->n_pci_addresses && !has_str(s->pci_addresses, s->n_pci_addresses, dev->addr))
		return false;
	if (s->n_acpi_indexes && !has_str(s->acpi_indexes, s->n_acpi_indexes, dev->acpi_index))
		return false;
	if (s->n_numa_nodes) {
		bool found = false;
		for (size_t i = 0; i < s->n_numa_nodes; i++)
			found |= s->numa_nodes[i] == dev->numa_node;
		if (!found)
			return false;
	}
	if (s->rdma && !dev->n_rdma_devs)
		return false;
	const struct ky_pci_dev *pf = dev->physfn[0] && all ? ky_pci_list_find(all, dev->physfn) : NULL;
	if (s->n_pf_names && !pf_name_matches(s, dev, pf))
		return false;
	if (s->n_root_devices && !root_device_matches(s, dev, pf))
		return false;
	if (s->n_link_types) {
		/* A VF without an interface of its own (bound to vfio-pci, or
		 * moved into a pod) has its PF's link type, as SRIOV-DP reads it. */
		unsigned type = dev->link_type ? dev->link_type : pf ? pf->link_type : 0;
		if (!type || !has_u16(s->link_types, s->n_link_types, (uint16_t)type))
			return false;
	}
	return true;
}

/* ---- What names nothing ---- */

static int note_vfsets(const struct ky_pci_vfset *sets, size_t n, const char *key, bool by_address,
		       const struct ky_pci_list *all, char ***notes, size_t *n_notes)
{
	for (size_t i = 0; i < n; i++) {
		const struct ky_pci_vfset *v = &sets[i];
		int r = 0;
		for (size_t j = 0; j < i && r == 0; j++) {
			if (by_address ? strcmp(sets[j].pf, v->pf) != 0 : strcasecmp(sets[j].pf, v->pf) != 0)
				continue;
			/* SRIOV-DP takes the first entry that names a PF and never
			 * looks at a later one. */
			_cleanup_free_ char *a = ky_pci_vfset_ranges_text(&sets[j]);
			_cleanup_free_ char *b = ky_pci_vfset_ranges_text(v);
			if (!a || !b)
				return -ENOMEM;
			if (!sets[j].n_ranges)
				r = ky_strv_append(notes, n_notes, "%s[%zu]: ignored: %s[%zu] takes every VF of %s already",
						   key, i, key, j, v->pf);
			else
				r = ky_strv_append(notes, n_notes,
						   "%s[%zu]: ignored: %s[%zu] names %s already, and only the first entry "
						   "for a PF counts (as in SRIOV-DP): write \"%s#%s%s%s\"",
						   key, i, key, j, v->pf, sets[j].pf, a, *b ? "," : "", b);
			if (r == 0)
				r = 1;
		}
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		const struct ky_pci_dev *pf = NULL;
		for (size_t k = 0; k < all->n && !pf; k++) {
			const struct ky_pci_dev *d = &all->devs[k];
			if (by_address ? strcmp(d->addr, v->pf) == 0 : pf_has_name(d, v->pf))
				pf = d;
		}
		size_t vfs = 0, taken = 0;
		for (size_t k = 0; pf && k < pf->n_virtfns; k++) {
			if (!pf->virtfns[k])
				continue;
			vfs++;
			taken += ky_pci_vfset_takes(v, (unsigned)k);
		}
		if (!pf)
			r = ky_strv_append(notes, n_notes, by_address ? "%s[%zu]: no PCI function %s on this node"
								     : "%s[%zu]: no PCI function has the interface %s",
					   key, i, v->pf);
		else if (!vfs)
			r = ky_strv_append(notes, n_notes, "%s[%zu]: %s (%s) has no VFs", key, i, v->pf, pf->addr);
		else if (!taken) {
			_cleanup_free_ char *ranges = ky_pci_vfset_ranges_text(v);
			r = ky_strv_append(notes, n_notes, "%s[%zu]: %s has VFs 0-%zu; #%s takes none of them", key, i,
					   v->pf, pf->n_virtfns - 1, ranges ? ranges : "?");
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int ky_pci_selector_notes(const struct ky_pci_selector *s, const struct ky_pci_list *all, char ***notes,
			  size_t *n_notes)
{
	int r;
	if ((r = note_vfsets(s->pf_names, s->n_pf_names, "pfNames", false, all, notes, n_notes)) < 0 ||
	    (r = note_vfsets(s->root_devices, s->n_root_devices, "rootDevices", true, all, notes, n_notes)) < 0)
		return r;
	for (size_t i = 0; i < s->n_pci_addresses; i++)
		if (!ky_pci_list_find(all, s->pci_addresses[i]) &&
		    (r = ky_strv_append(notes, n_notes, "pciAddresses[%zu]: no PCI function %s on this node", i,
					s->pci_addresses[i])) < 0)
			return r;
	return 0;
}
