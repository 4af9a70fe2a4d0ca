/* PCI vendor and device names from pci.ids: one pass over the database
 * for a whole list. The format: "VVVV  vendor" at the start of a line,
 * "\tDDDD  device" under it, "\t\t..." subsystems, and from "C xx" on the
 * device classes, which we do not need. */
#include "kyborg/pci/pci_names.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/pci.h"
#include "kyborg/base/hex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "VVVV  name": the ID and where the name starts, or -1. */
static int parse_id(const char *s, const char **name)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int d = ky_hex_digit(s[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	if (s[4] != ' ')
		return -1;
	*name = s + 4;
	while (**name == ' ')
		(*name)++;
	return **name ? v : -1;
}

static int set_name(char **dst, const char *name)
{
	if (*dst)
		return 0;
	*dst = strndup(name, strcspn(name, "\r\n"));
	return *dst ? 0 : -ENOMEM;
}

int ky_pci_names_fill(const char *path, struct ky_pci_list *list, struct ky_error **err)
{
	static const char *const defaults[] = KY_PCI_IDS_PATHS;
	_cleanup_fclose_ FILE *f = NULL;
	if (path) {
		if (!(f = fopen(path, "re")))
			return errno == ENOENT ? 0 : ky_error_set(err, errno, "open %s: %m", path);
	} else {
		for (size_t i = 0; defaults[i] && !f; i++)
			f = fopen(defaults[i], "re");
		if (!f)
			return 0;
	}
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int vendor = -1;
	bool wanted = false; /* some function has the current vendor */
	while (getline(&line, &cap, f) >= 0) {
		const char *name;
		int id;
		if (line[0] == 'C' && line[1] == ' ')
			break;
		if (line[0] != '\t') {
			vendor = parse_id(line, &name);
			wanted = false;
			for (size_t i = 0; vendor >= 0 && i < list->n; i++) {
				if (list->devs[i].vendor != vendor)
					continue;
				wanted = true;
				if (set_name(&list->devs[i].vendor_name, name) < 0)
					return ky_error_set(err, ENOMEM, "out of memory");
			}
			continue;
		}
		if (!wanted || line[1] == '\t' || (id = parse_id(line + 1, &name)) < 0)
			continue;
		for (size_t i = 0; i < list->n; i++)
			if (list->devs[i].vendor == vendor && list->devs[i].device == id &&
			    set_name(&list->devs[i].device_name, name) < 0)
				return ky_error_set(err, ENOMEM, "out of memory");
	}
	if (ferror(f))
		return ky_error_set(err, EIO, "read PCI ID database: %m");
	return 0;
}
