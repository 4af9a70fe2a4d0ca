/* Network fixtures over iproute2; see kytest_net.h. */
#include "kytest_net.h"
#include "kytest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kyt_private_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	/* Loopback comes up so tests may use it like any namespace's. */
	return kyt_run(NULL, "ip", "link", "set", "lo", "up", NULL) == 0 ? 0 : -EIO;
}

int kyt_netns_add(char *name, size_t size)
{
	kyt_unique_name(name, size, "kyns");
	return kyt_run(NULL, "ip", "netns", "add", name, NULL) == 0 ? 0 : -EIO;
}

void kyt_netns_del(const char *name)
{
	if (name && *name)
		kyt_run(NULL, "ip", "netns", "del", name, NULL);
}

const char *kyt_netns_path(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "/var/run/netns/%s", name);
	return buf;
}

int kyt_veth_add(char *a, char *b, size_t size)
{
	kyt_unique_name(a, size, "kyva");
	kyt_unique_name(b, size, "kyvb");
	return kyt_run(NULL, "ip", "link", "add", a, "type", "veth", "peer", "name", b, NULL) == 0 ? 0 : -EIO;
}

bool kyt_ip_link(const char *netns, const char *ifname, struct kyt_ip_link *out)
{
	char *json = NULL;
	int r;
	if (netns)
		r = kyt_run(&json, "ip", "-j", "-n", netns, "link", "show", "dev", ifname, NULL);
	else
		r = kyt_run(&json, "ip", "-j", "link", "show", "dev", ifname, NULL);
	if (r != 0 || !json) {
		free(json);
		return false;
	}
	cJSON *doc = cJSON_Parse(json);
	free(json);
	cJSON *l = cJSON_GetArrayItem(doc, 0);
	bool ok = l != NULL;
	if (ok) {
		memset(out, 0, sizeof(*out));
		out->ifindex = cJSON_GetObjectItem(l, "ifindex") ? cJSON_GetObjectItem(l, "ifindex")->valueint : 0;
		out->mtu = cJSON_GetObjectItem(l, "mtu") ? (unsigned)cJSON_GetObjectItem(l, "mtu")->valueint : 0;
		const cJSON *addr = cJSON_GetObjectItem(l, "address");
		if (cJSON_IsString(addr))
			snprintf(out->address, sizeof(out->address), "%s", addr->valuestring);
		const cJSON *flags = cJSON_GetObjectItem(l, "flags"), *f;
		cJSON_ArrayForEach(f, flags)
			if (cJSON_IsString(f) && strcmp(f->valuestring, "UP") == 0)
				out->up = true;
	}
	cJSON_Delete(doc);
	return ok;
}
