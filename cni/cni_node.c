/* The node's settings for the plugin (cni.h, "cni_node.c"): the
 * directories network configs may name log files and BPF objects in, read
 * from the plugin's own environment. Pure. */
#include "cni.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/str.h"
#include "kyborg/base/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The ':'-separated absolute paths of value, or of fallback when value is
 * unset; an empty vector (refusing every path) when none is absolute. */
static int dir_list(const char *value, const char *fallback, char ***out)
{
	_cleanup_free_ char *copy = strdup(value ? value : fallback);
	_cleanup_strv_free_ char **v = calloc(1, sizeof(*v));
	size_t n = 0;
	if (!copy || !v)
		return -ENOMEM;
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
		if (d[0] == '/' && ky_strv_append(&v, &n, "%s", d) < 0)
			return -ENOMEM;
	*out = TAKE_PTR(v);
	return 0;
}

int ky_cni_node_from_env(char *const envp[], struct ky_cni_node *out)
{
	memset(out, 0, sizeof(*out));
	if (dir_list(ky_cni_env_get(envp, "KYBORG_CNI_LOG_DIRS"), KY_CNI_LOG_DIRS_DEFAULT, &out->log_dirs) < 0 ||
	    dir_list(ky_cni_env_get(envp, "KYBORG_BPF_OBJECT_DIRS"), KY_CNI_BPF_DIRS_DEFAULT, &out->bpf_dirs) < 0) {
		ky_cni_node_free(out);
		return -ENOMEM;
	}
	return 0;
}

void ky_cni_node_free(struct ky_cni_node *n)
{
	ky_strv_free(n->log_dirs);
	ky_strv_free(n->bpf_dirs);
	memset(n, 0, sizeof(*n));
}

bool ky_cni_path_allowed(char *const *dirs, const char *path)
{
	for (size_t i = 0; dirs && dirs[i]; i++)
		if (ky_path_beneath(path, dirs[i]))
			return true;
	return false;
}
