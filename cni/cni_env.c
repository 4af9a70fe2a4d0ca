/* The CNI environment variables (SPEC.md "Parameters"): which each
 * command needs, and what a valid value looks like. Pure. */
#include "cni.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static const char *env_get(char *const envp[], const char *key)
{
	size_t n = strlen(key);
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], key, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

const char *ky_cni_env_get(char *const envp[], const char *key)
{
	return env_get(envp, key);
}

/* Letters, digits, '_', '.', '-', at most max bytes (from the first when
 * lead is set, a letter or digit first). */
static bool in_alphabet(const char *s, size_t max, bool lead)
{
	if (!s || !*s || (lead && !isalnum((unsigned char)s[0])) || strlen(s) > max)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

bool ky_cni_container_id_valid(const char *id)
{
	return in_alphabet(id, 128, true);
}

bool ky_cni_network_name_valid(const char *name)
{
	/* A leading letter or digit: "." and ".." are names too, and the
	 * network's name is a directory of its pins under bpffs. */
	return in_alphabet(name, 64, true);
}

bool ky_cni_ifname_valid(const char *name)
{
	return ky_ifname_valid(name) && in_alphabet(name, IFNAMSIZ - 1, false);
}

static const struct {
	const char *name;
	enum ky_cni_cmd cmd;
} commands[] = {
	{ "ADD", KY_CNI_ADD },       { "DEL", KY_CNI_DEL },       { "CHECK", KY_CNI_CHECK },
	{ "VERSION", KY_CNI_VERSION }, { "STATUS", KY_CNI_STATUS }, { "GC", KY_CNI_GC },
};

static int env_parse(char *const envp[], struct ky_cni_env *out, struct ky_error **err)
{
	memset(out, 0, sizeof(*out));
	out->command = env_get(envp, "CNI_COMMAND");
	if (!out->command || !*out->command)
		return ky_error_set(err, EINVAL, "CNI_COMMAND is not set");
	size_t i;
	for (i = 0; i < KY_ARRAY_SIZE(commands); i++)
		if (strcmp(out->command, commands[i].name) == 0)
			break;
	if (i == KY_ARRAY_SIZE(commands))
		return ky_error_set(err, EINVAL, "CNI_COMMAND: unknown command \"%.32s\"", out->command);
	out->cmd = commands[i].cmd;
	out->container_id = env_get(envp, "CNI_CONTAINERID");
	out->netns = env_get(envp, "CNI_NETNS");
	out->ifname = env_get(envp, "CNI_IFNAME");
	out->args = env_get(envp, "CNI_ARGS");
	out->path = env_get(envp, "CNI_PATH");
	if (out->netns && !*out->netns)
		out->netns = NULL;

	bool attach = out->cmd == KY_CNI_ADD || out->cmd == KY_CNI_DEL || out->cmd == KY_CNI_CHECK;
	if (attach) {
		if (!out->container_id || !*out->container_id)
			return ky_error_set(err, EINVAL, "CNI_CONTAINERID is not set");
		if (!ky_cni_container_id_valid(out->container_id))
			return ky_error_set(err, EINVAL, "CNI_CONTAINERID: invalid container ID \"%.80s\"",
					    out->container_id);
		if (!out->ifname || !*out->ifname)
			return ky_error_set(err, EINVAL, "CNI_IFNAME is not set");
		if (!ky_cni_ifname_valid(out->ifname))
			return ky_error_set(err, EINVAL, "CNI_IFNAME: invalid interface name \"%.32s\" (1 to 15 of "
					    "letters, digits, '_', '.', '-')", out->ifname);
	}
	/* DEL may come after the netns is gone: the runtime may then leave
	 * CNI_NETNS out. ADD and CHECK need it. */
	if ((out->cmd == KY_CNI_ADD || out->cmd == KY_CNI_CHECK) && !out->netns)
		return ky_error_set(err, EINVAL, "CNI_NETNS is not set");
	if (out->netns && out->netns[0] != '/')
		return ky_error_set(err, EINVAL, "CNI_NETNS: not an absolute path \"%.80s\"", out->netns);
	if (out->cmd != KY_CNI_VERSION && (!out->path || !*out->path) && out->cmd != KY_CNI_STATUS)
		return ky_error_set(err, EINVAL, "CNI_PATH is not set");
	return 0;
}

int ky_cni_env_parse(char *const envp[], struct ky_cni_env *out, struct ky_error **err)
{
	int r = env_parse(envp, out, err);
	if (r < 0 && err)
		ky_error_set_status(err, KY_CNI_E_ENV);
	return r;
}
