/* The CNI spec versions this plugin speaks, and version comparison. */
#include "cni.h"

#include <stdio.h>
#include <string.h>

const char *const ky_cni_versions[KY_CNI_NVERSIONS + 1] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL };

int ky_cni_version_index(const char *v)
{
	for (int i = 0; v && ky_cni_versions[i]; i++)
		if (strcmp(v, ky_cni_versions[i]) == 0)
			return i;
	return -1;
}

cJSON *ky_cni_version_info(void)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "cniVersion", ky_cni_versions[KY_CNI_V110]);
	cJSON_AddItemToObject(o, "supportedVersions", cJSON_CreateStringArray(ky_cni_versions, KY_CNI_NVERSIONS));
	return o;
}

static int parse3(const char *s, unsigned v[3])
{
	int n = 0;
	v[0] = v[1] = v[2] = 0;
	if (!s || sscanf(s, "%u.%u.%u%n", &v[0], &v[1], &v[2], &n) != 3 || s[n])
		return -1;
	return 0;
}

int ky_cni_version_cmp(const char *a, const char *b)
{
	unsigned va[3], vb[3];
	int ra = parse3(a, va), rb = parse3(b, vb);
	if (ra || rb)
		return ra - rb;
	for (int i = 0; i < 3; i++)
		if (va[i] != vb[i])
			return va[i] < vb[i] ? -1 : 1;
	return 0;
}
