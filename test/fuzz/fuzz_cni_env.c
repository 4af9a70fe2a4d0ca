/* The CNI environment (cni/cni_env.c): the input is a block of "K=V"
 * strings separated by NULs, as the kernel hands a process its
 * environment. Checked: whatever is accepted for ADD, DEL and CHECK names
 * the attachment with a container ID and an interface name that each stay
 * one path component (they name state records, pin directories and the
 * pod's link), CNI_NETNS is absolute, the command is the one asked for, and
 * the attachment's state key reads back as the same pair. */
#include <errno.h>
#include <net/if.h>

#include "cni.h"
#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/net/netlink.h"
#include "kyborg/state/state_store.h"

#define MAX_VARS 64

static void assert_one_component(const char *what, const char *s)
{
	FUZZ_ASSERT(s && *s, "%s is empty", what);
	FUZZ_ASSERT(!strchr(s, '/'), "%s \"%s\" has a '/'", what, s);
	FUZZ_ASSERT(strcmp(s, ".") != 0 && strcmp(s, "..") != 0, "%s is \"%s\"", what, s);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		FUZZ_ASSERT(*p > 0x20 && *p != 0x7f, "%s \"%s\" has byte 0x%02x", what, s, *p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *block = fuzz_strndup(data, size);
	char *envp[MAX_VARS + 1];
	size_t n = 0;
	for (char *p = block; p < block + size && n < MAX_VARS; p += strlen(p) + 1)
		envp[n++] = p;
	envp[n] = NULL;

	struct ky_cni_env env;
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_cni_env_parse(envp, &env, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL, "env parse returned %d", r);
		FUZZ_ASSERT(ky_error_msg(err)[0], "refused without a message");
		/* The code travels on the error (SPEC.md: 4, invalid environment). */
		FUZZ_ASSERT(ky_cni_error_code(err) == KY_CNI_E_ENV, "refused with code %d", ky_cni_error_code(err));
		/* The message goes into the CNI error object and the log. */
		cJSON *e = ky_cni_error_json(NULL, err);
		FUZZ_ASSERT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "code")) == KY_CNI_E_ENV,
			    "error object with another code");
		char *s = cJSON_PrintUnformatted(e);
		FUZZ_ASSERT(s, "cannot print the error object");
		free(s);
		cJSON_Delete(e);
		return 0;
	}
	static const char *const names[] = { "ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC" };
	FUZZ_ASSERT(env.command && strcmp(env.command, names[env.cmd]) == 0, "command %s parsed as %s",
		    env.command, names[env.cmd]);
	FUZZ_ASSERT(!env.netns || env.netns[0] == '/', "CNI_NETNS not absolute: %s", env.netns);
	if (env.cmd == KY_CNI_ADD || env.cmd == KY_CNI_CHECK)
		FUZZ_ASSERT(env.netns, "no CNI_NETNS");
	if (env.cmd != KY_CNI_VERSION && env.cmd != KY_CNI_STATUS)
		FUZZ_ASSERT(env.path && *env.path, "no CNI_PATH");
	if (env.cmd != KY_CNI_ADD && env.cmd != KY_CNI_DEL && env.cmd != KY_CNI_CHECK)
		return 0;

	assert_one_component("CNI_CONTAINERID", env.container_id);
	assert_one_component("CNI_IFNAME", env.ifname);
	FUZZ_ASSERT(ky_cni_container_id_valid(env.container_id), "container ID %s", env.container_id);
	FUZZ_ASSERT(ky_ifname_valid(env.ifname) && strlen(env.ifname) < IFNAMSIZ, "ifname %s", env.ifname);
	/* I1 (issue 14): the kernel takes "net%d" as a template, so the link
	 * lands as net0 and rollback looks for net%d in vain. */
	FUZZ_ASSERT(!strchr(env.ifname, '%'), "ifname %s is a kernel name template", env.ifname);
	FUZZ_ASSERT(ky_cni_ifname_valid(env.ifname), "ifname %s outside the alphabet", env.ifname);

	char key[KY_STATE_KEY_MAX + 1], cid[KY_STATE_KEY_MAX + 1], ifn[KY_STATE_KEY_MAX + 1];
	r = ky_cni_state_key("kynet", env.container_id, env.ifname, key, sizeof(key));
	if (r == 0) {
		assert_one_component("state key", key);
		FUZZ_ASSERT(ky_state_key_valid(key), "state key %s", key);
		FUZZ_ASSERT(ky_cni_state_key_parse(key, "kynet", cid, sizeof(cid), ifn, sizeof(ifn)) == 0,
			    "state key %s does not parse", key);
		FUZZ_ASSERT(strcmp(cid, env.container_id) == 0 && strcmp(ifn, env.ifname) == 0,
			    "state key %s reads back as %s/%s", key, cid, ifn);
	} else {
		FUZZ_ASSERT(r == -ENAMETOOLONG, "state key: %d", r);
	}
	return 0;
}
