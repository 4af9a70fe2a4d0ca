/* A PF and some of its VFs as SRIOV-DP writes them in pfNames and
 * rootDevices: "ens1f0" or "ens1f0#0,2-7,9" (kyborg/pci/pci_selector.h).
 * SRIOV-DP reads a malformed range as "selects nothing" and says so only
 * on stdout; here it is an error with the reason. Pure. */
#include "kyborg/pci/pci_selector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ky_pci_vfset_release(struct ky_pci_vfset *v)
{
	free(v->pf);
	free(v->ranges);
	*v = (struct ky_pci_vfset){ 0 };
}

/* Decimal digits only (SRIOV-DP's strconv.Atoi would take a sign, which no
 * index has), at most KY_PCI_VF_INDEX_MAX. */
static int parse_index(const char *s, size_t len, unsigned *out)
{
	unsigned long v = 0;
	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > KY_PCI_VF_INDEX_MAX)
			return -ERANGE;
	}
	*out = (unsigned)v;
	return 0;
}

int ky_pci_vfset_parse(const char *s, struct ky_pci_vfset *out, const char **problem)
{
	const char *hash = strchr(s, '#');
	size_t pf_len = hash ? (size_t)(hash - s) : strlen(s);
	if (pf_len == 0) {
		*problem = "nothing before '#': write <PF>#<first>-<last>";
		return -EINVAL;
	}
	if (!(out->pf = strndup(s, pf_len)))
		return -ENOMEM;
	if (!hash)
		return 0;
	const char *p = hash + 1;
	if (strchr(p, '#')) {
		*problem = "more than one '#'";
		return -EINVAL;
	}
	if (!*p) {
		*problem = "no VF index after '#': write <PF>#<first>-<last>[,<index>...]";
		return -EINVAL;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		const char *dash = memchr(p, '-', len);
		struct ky_pci_vf_range r;
		int k;
		if (dash) {
			size_t a = (size_t)(dash - p);
			if (memchr(dash + 1, '-', len - a - 1)) {
				*problem = "a range has one '-' between two VF indexes";
				return -EINVAL;
			}
			if ((k = parse_index(p, a, &r.first)) < 0 || (k = parse_index(dash + 1, len - a - 1, &r.last)) < 0) {
				*problem = k == -ERANGE ? "a VF index above 65535"
							: "a range is <first>-<last>, both decimal VF indexes";
				return -EINVAL;
			}
			if (r.first > r.last) {
				*problem = "a range runs backwards (its first VF index is above its last)";
				return -EINVAL;
			}
		} else {
			if ((k = parse_index(p, len, &r.first)) < 0) {
				*problem = k == -ERANGE ? "a VF index above 65535"
							: "after '#' come decimal VF indexes and ranges, separated by ','";
				return -EINVAL;
			}
			r.last = r.first;
		}
		struct ky_pci_vf_range *nr = realloc(out->ranges, (out->n_ranges + 1) * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		out->ranges = nr;
		out->ranges[out->n_ranges++] = r;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

bool ky_pci_vfset_takes(const struct ky_pci_vfset *v, unsigned index)
{
	if (!v->n_ranges)
		return true;
	for (size_t i = 0; i < v->n_ranges; i++)
		if (index >= v->ranges[i].first && index <= v->ranges[i].last)
			return true;
	return false;
}

char *ky_pci_vfset_ranges_text(const struct ky_pci_vfset *v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < v->n_ranges; i++) {
		const struct ky_pci_vf_range *r = &v->ranges[i];
		if (r->first == r->last)
			fprintf(f, "%s%u", i ? "," : "", r->first);
		else
			fprintf(f, "%s%u-%u", i ? "," : "", r->first, r->last);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
