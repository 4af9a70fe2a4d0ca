/* PCI selectors: the JSON object that chooses PCI functions by vendor,
 * device, driver, class, PF name, address and NUMA node, and its matching.
 * Shared by the device plugin's resources and kyborgctl's node profile. */
#include "kyborg/pci/pci_selector.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/pci/pci.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ky_pci_selector_release(struct ky_pci_selector *s)
{
	free(s->vendors);
	free(s->devices);
	free(s->classes);
	free(s->class_digits);
	ky_strv_free(s->drivers);
	ky_strv_free(s->pf_names);
	ky_strv_free(s->pci_addresses);
	free(s->numa_nodes);
}


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

/* "vendors": ["10de", ...]: four hex digits each. */
static int get_ids(const struct ky_jnode *sel, const char *key, const char *what, uint16_t **out, size_t *n,
		   struct ky_error **err)
{
	struct ky_jnode arr, e;
	size_t len, i;
	int r = ky_json_array(sel, key, KY_JSON_NONEMPTY, &arr, &len, err);
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

static int get_classes(const struct ky_jnode *sel, struct ky_pci_selector *s, struct ky_error **err)
{
	struct ky_jnode arr, e;
	size_t len, i;
	int r = ky_json_array(sel, "classes", KY_JSON_NONEMPTY, &arr, &len, err);
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

static int get_strings(const struct ky_jnode *sel, const char *key, char ***out, size_t *n, struct ky_error **err)
{
	int r = ky_json_string_array(sel, key, KY_JSON_NONEMPTY, out, n, err);
	return r;
}

static int get_pf_names(const struct ky_jnode *sel, struct ky_pci_selector *s, struct ky_error **err)
{
	int r = get_strings(sel, "pfNames", &s->pf_names, &s->n_pf_names, err);
	if (r <= 0)
		return r;
	for (size_t i = 0; i < s->n_pf_names; i++) {
		const char *n = s->pf_names[i];
		if (strlen(n) > 15 || strchr(n, '/') || strpbrk(n, " \t\n")) {
			struct ky_jnode arr, e;
			ky_json_array(sel, "pfNames", 0, &arr, NULL, NULL);
			ky_json_index(&arr, i, &e);
			return ky_json_error(&e, err, "not an interface name (1 to 15 characters, no '/' or space)");
		}
	}
	return 1;
}

static int get_pci_addresses(const struct ky_jnode *sel, struct ky_pci_selector *s, struct ky_error **err)
{
	int r = get_strings(sel, "pciAddresses", &s->pci_addresses, &s->n_pci_addresses, err);
	if (r <= 0)
		return r;
	for (size_t i = 0; i < s->n_pci_addresses; i++) {
		char canon[KY_PCI_ADDR_LEN];
		if (ky_pci_addr_normalize(s->pci_addresses[i], canon) < 0) {
			struct ky_jnode arr, e;
			char q[64];
			ky_json_array(sel, "pciAddresses", 0, &arr, NULL, NULL);
			ky_json_index(&arr, i, &e);
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

static int get_numa_nodes(const struct ky_jnode *sel, struct ky_pci_selector *s, struct ky_error **err)
{
	struct ky_jnode arr, e;
	size_t len, i;
	int r = ky_json_array(sel, "numaNodes", KY_JSON_NONEMPTY, &arr, &len, err);
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

int ky_pci_selector_parse(const struct ky_jnode *obj, const char *key, struct ky_pci_selector *s,
			  struct ky_error **err)
{
	static const char *const keys[] = { "vendors", "devices", "drivers", "classes", "pfNames", "pciAddresses",
					    "numaNodes", NULL };
	struct ky_jnode sel;
	int r;
	if ((r = ky_json_object(obj, key, KY_JSON_REQUIRED, &sel, err)) < 0)
		return r;
	if ((r = ky_json_check_keys(&sel, keys, err)) < 0)
		return r;
	if (!sel.j->child)
		return ky_json_error(&sel, err, "needs at least one of vendors, devices, drivers, classes, pfNames, "
						"pciAddresses, numaNodes");
	if ((r = get_ids(&sel, "vendors", "vendor", &s->vendors, &s->n_vendors, err)) < 0 ||
	    (r = get_ids(&sel, "devices", "device", &s->devices, &s->n_devices, err)) < 0 ||
	    (r = get_strings(&sel, "drivers", &s->drivers, &s->n_drivers, err)) < 0 ||
	    (r = get_classes(&sel, s, err)) < 0 || (r = get_pf_names(&sel, s, err)) < 0 ||
	    (r = get_pci_addresses(&sel, s, err)) < 0 || (r = get_numa_nodes(&sel, s, err)) < 0)
		return r;
	return 0;
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

bool ky_pci_selector_equal(const struct ky_pci_selector *a, const struct ky_pci_selector *b)
{
	return MEM_EQ(a->vendors, a->n_vendors, b->vendors, b->n_vendors) &&
	       MEM_EQ(a->devices, a->n_devices, b->devices, b->n_devices) &&
	       MEM_EQ(a->classes, a->n_classes, b->classes, b->n_classes) &&
	       MEM_EQ(a->class_digits, a->n_classes, b->class_digits, b->n_classes) &&
	       strv_eq(a->drivers, a->n_drivers, b->drivers, b->n_drivers) &&
	       strv_eq(a->pf_names, a->n_pf_names, b->pf_names, b->n_pf_names) &&
	       strv_eq(a->pci_addresses, a->n_pci_addresses, b->pci_addresses, b->n_pci_addresses) &&
	       MEM_EQ(a->numa_nodes, a->n_numa_nodes, b->numa_nodes, b->n_numa_nodes);
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

static bool pf_name_matches(const struct ky_pci_selector *s, const struct ky_pci_dev *dev,
			    const struct ky_pci_list *all)
{
	if (!dev->physfn[0])
		return false;
	const struct ky_pci_dev *pf = all ? ky_pci_list_find(all, dev->physfn) : NULL;
	if (!pf)
		return false;
	for (size_t i = 0; i < pf->n_netdevs; i++)
		if (has_str(s->pf_names, s->n_pf_names, pf->netdevs[i]))
			return true;
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
	if (s->n_pf_names && !pf_name_matches(s, dev, all))
		return false;
	if (s->n_pci_addresses && !has_str(s->pci_addresses, s->n_pci_addresses, dev->addr))
		return false;
	if (s->n_numa_nodes) {
		bool found = false;
		for (size_t i = 0; i < s->n_numa_nodes; i++)
			found |= s->numa_nodes[i] == dev->numa_node;
		if (!found)
			return false;
	}
	return true;
}
