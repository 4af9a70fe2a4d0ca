/* CNI results: normalising what an IPAM plugin returned, writing ours in
 * the version the runtime asked for, and the spec's error object. Pure. */
#include "cni.h"
#include "kyborg/base/error.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

int ky_cni_result_from_ipam(const cJSON *ipam, int iface, cJSON **out, struct ky_error **err)
{
	if (!cJSON_IsObject(ipam))
		return ky_error_set(err, EINVAL, "IPAM result is not an object");
	_cleanup_(cJSON_Deletep) cJSON *res = cJSON_CreateObject();
	cJSON *ips = cJSON_AddArrayToObject(res, "ips");
	const cJSON *ip;
	size_t i = 0;
	cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(ipam, "ips"))
	{
		const char *a = ky_cni_result_str(ip, "address"), *gw = ky_cni_result_str(ip, "gateway");
		struct ky_cidr c;
		struct ky_ip g;
		if (!a || ky_parse_cidr(a, &c) < 0)
			return ky_error_set(err, EINVAL, "IPAM result: ips[%zu].address: not an address with prefix", i);
		if (gw && (ky_parse_ip(gw, &g) < 0 || g.family != c.ip.family))
			return ky_error_set(err, EINVAL, "IPAM result: ips[%zu].gateway: not an address of the same family",
					    i);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "address", a);
		if (gw)
			cJSON_AddStringToObject(o, "gateway", gw);
		cJSON_AddNumberToObject(o, "interface", iface);
		cJSON_AddItemToArray(ips, o);
		i++;
	}
	cJSON *routes = cJSON_AddArrayToObject(res, "routes");
	const cJSON *rt;
	i = 0;
	cJSON_ArrayForEach(rt, cJSON_GetObjectItemCaseSensitive(ipam, "routes"))
	{
		const char *dst = ky_cni_result_str(rt, "dst"), *gw = ky_cni_result_str(rt, "gw");
		struct ky_cidr c;
		struct ky_ip g;
		if (!dst || ky_parse_cidr(dst, &c) < 0)
			return ky_error_set(err, EINVAL, "IPAM result: routes[%zu].dst: not a CIDR", i);
		if (gw && (ky_parse_ip(gw, &g) < 0 || g.family != c.ip.family))
			return ky_error_set(err, EINVAL, "IPAM result: routes[%zu].gw: not an address of the same family", i);
		cJSON_AddItemToArray(routes, cJSON_Duplicate(rt, 1));
		i++;
	}
	const cJSON *dns = cJSON_GetObjectItemCaseSensitive(ipam, "dns");
	cJSON_AddItemToObject(res, "dns", cJSON_IsObject(dns) ? cJSON_Duplicate(dns, 1) : cJSON_CreateObject());
	*out = TAKE_PTR(res);
	return 0;
}

static void keep_only(cJSON *o, const char *const keys[])
{
	cJSON *it = o ? o->child : NULL;
	while (it) {
		cJSON *next = it->next;
		bool keep = false;
		for (size_t i = 0; keys[i]; i++)
			if (it->string && strcmp(it->string, keys[i]) == 0)
				keep = true;
		if (!keep)
			cJSON_Delete(cJSON_DetachItemViaPointer(o, it));
		it = next;
	}
}

cJSON *ky_cni_result_convert(const cJSON *res, int version)
{
	cJSON *out = cJSON_Duplicate(res, 1);
	if (!out)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(out, "cniVersion");
	/* cniVersion first, as runtimes print it. */
	cJSON *v = cJSON_CreateString(ky_cni_versions[version]);
	cJSON_AddItemToObject(out, "cniVersion", v);
	cJSON_DetachItemViaPointer(out, v);
	v->next = out->child;
	if (out->child) {
		v->prev = out->child->prev;
		out->child->prev = v;
	} else {
		v->prev = v;
	}
	out->child = v;

	if (version < KY_CNI_V110) {
		/* mtu, socketPath and pciID on interfaces and the route
		 * attributes beyond dst/gw arrived with 1.1.0. */
		static const char *const if_keys[] = { "name", "mac", "sandbox", NULL };
		static const char *const rt_keys[] = { "dst", "gw", NULL };
		cJSON *e;
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(out, "interfaces"))
			keep_only(e, if_keys);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(out, "routes"))
			keep_only(e, rt_keys);
	}
	if (version < KY_CNI_V100) {
		/* 0.3.x and 0.4.0 name each IP's family as "version". */
		cJSON *ip;
		cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(out, "ips"))
		{
			const char *a = ky_cni_result_str(ip, "address");
			struct ky_cidr c;
			bool v6 = a && ky_parse_cidr(a, &c) == 0 && c.ip.family != AF_INET;
			cJSON_AddStringToObject(ip, "version", v6 ? "6" : "4");
		}
	}
	return out;
}

int ky_cni_error_code(const struct ky_error *err)
{
	int code = ky_error_status(err);
	return code ? code : KY_CNI_E_INTERNAL;
}

cJSON *ky_cni_error_json(const char *cni_version, const struct ky_error *err)
{
	const char *details = strerror(ky_error_code(err));
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "cniVersion", cni_version ? cni_version : ky_cni_versions[KY_CNI_V110]);
	cJSON_AddNumberToObject(o, "code", ky_cni_error_code(err));
	cJSON_AddStringToObject(o, "msg", ky_error_msg(err));
	if (details && *details)
		cJSON_AddStringToObject(o, "details", details);
	return o;
}
