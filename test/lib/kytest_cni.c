/* CNI plugin fixtures; see kytest_cni.h. */
#include "kytest_cni.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "kyborg/base/exec.h"
#include "kytest.h"

extern char **environ;

void kyt_cni_scratch(const char *prefix, char **tmp, char *state_dir, char *ipam_dir, size_t size)
{
	*tmp = kyt_tmpdir(prefix);
	cr_assert_not_null(*tmp, "scratch directory %s", prefix);
	snprintf(state_dir, size, "%s/state", *tmp);
	snprintf(ipam_dir, size, "%s/ipam", *tmp);
}

void kyt_cni_scratch_free(char **tmp)
{
	if (*tmp)
		kyt_rmrf(*tmp);
	free(*tmp);
	*tmp = NULL;
}

int kyt_cni_run(const struct kyt_cni_call *c, cJSON **out)
{
	size_t n = 0;
	while (environ[n])
		n++;
	size_t extra = 0;
	while (c->env && c->env[extra])
		extra++;
	char **envp = calloc(n + extra + 8, sizeof(char *));
	char *owned[7] = { 0 };
	size_t k = 0, o = 0;
	for (size_t i = 0; i < n; i++) {
		/* The call's own entries replace the test's of the same name. */
		bool replaced = false;
		for (size_t e = 0; e < extra && !replaced; e++) {
			const char *eq = strchr(c->env[e], '=');
			size_t len = eq ? (size_t)(eq - c->env[e]) + 1 : strlen(c->env[e]);
			replaced = strncmp(environ[i], c->env[e], len) == 0;
		}
		if (!replaced && strncmp(environ[i], "CNI_", 4) != 0 && strncmp(environ[i], "KYBORG_FAULT=", 13) != 0)
			envp[k++] = environ[i];
	}
	const char *keys[] = { "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH", "KYBORG_FAULT" };
	const char *vals[] = { c->command, c->container_id, c->netns, c->ifname, c->path, c->fault };
	for (size_t i = 0; i < 6; i++)
		if (vals[i] && asprintf(&owned[o], "%s=%s", keys[i], vals[i]) >= 0)
			envp[k++] = owned[o++];
	for (size_t i = 0; i < extra; i++)
		envp[k++] = (char *)c->env[i];
	char *const argv[] = { "kyborg", NULL };
	struct ky_exec x = { .path = c->bin, .argv = argv, .envp = envp, .input = c->conf,
			     .input_len = c->conf ? strlen(c->conf) : 0,
			     .timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 60000 };
	char *text = NULL;
	int status = -1;
	int r = ky_exec_capture(&x, &text, NULL, &status, NULL);
	for (size_t i = 0; i < o; i++)
		free(owned[i]);
	free(envp);
	if (out)
		*out = text && *text ? cJSON_Parse(text) : NULL;
	free(text);
	return r < 0 ? r : status;
}

int kyt_cni_code(const cJSON *out)
{
	const cJSON *c = cJSON_GetObjectItem(out, "code");
	return cJSON_IsNumber(c) ? c->valueint : -1;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(FILE *m, const char *tag, const char *dir, bool ipam)
{
	DIR *d = dir ? opendir(dir) : NULL;
	if (!d)
		return;
	char *names[1024];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 1024) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (ipam && (!strcmp(e->d_name, "lock") || !strncmp(e->d_name, "last_reserved_ip", 16)))
			continue;
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmpstr);
	for (size_t i = 0; i < n; i++) {
		fprintf(m, "%s %s\n", tag, names[i]);
		free(names[i]);
	}
}

char *kyt_node_snapshot(const char *state_dir, const char *ipam_dir)
{
	char *buf = NULL, *json = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (kyt_run(&json, "ip", "-j", "link", "show", NULL) == 0 && json) {
		cJSON *doc = cJSON_Parse(json), *l;
		cJSON_ArrayForEach(l, doc)
		{
			bool up = false;
			cJSON *f;
			cJSON_ArrayForEach(f, cJSON_GetObjectItem(l, "flags"))
				up |= cJSON_IsString(f) && !strcmp(f->valuestring, "UP");
			fprintf(m, "link %s %s mtu=%d %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(l, "ifname")),
				cJSON_GetStringValue(cJSON_GetObjectItem(l, "address")) ?: "-",
				cJSON_GetObjectItem(l, "mtu") ? cJSON_GetObjectItem(l, "mtu")->valueint : 0,
				up ? "up" : "down");
		}
		cJSON_Delete(doc);
	}
	free(json);
	list_dir(m, "state", state_dir, false);
	if (ipam_dir) {
		DIR *d = opendir(ipam_dir);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/%s", ipam_dir, e->d_name);
			list_dir(m, "ipam", sub, true);
		}
		if (d)
			closedir(d);
	}
	fclose(m);
	return buf;
}

char *kyt_cni_compat_conf(const char *file, const struct kyt_compat *rt, const char *state_dir,
			  const char *ipam_dir, const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), KYTEST_DATA_DIR "/compat/%s", file);
	char *text = kyt_read_file(path);
	cr_assert_not_null(text, "%s", path);
	cJSON *c = cJSON_Parse(text);
	free(text);
	cr_assert_not_null(c, "%s is no JSON", file);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(c, "type"));
	cr_assert(type && strcmp(type, "kyborg") == 0, "%s: type %s", file, type ? type : "(none)");
	if (!cJSON_GetObjectItem(c, "name"))
		cJSON_AddStringToObject(c, "name", "compatnet");
	cJSON_AddStringToObject(c, "stateDir", state_dir);
	cJSON *ipam = cJSON_GetObjectItem(c, "ipam");
	const char *ipam_type = cJSON_GetStringValue(cJSON_GetObjectItem(ipam, "type"));
	if (ipam_type && strcmp(ipam_type, "host-local") == 0)
		cJSON_AddStringToObject(ipam, "dataDir", ipam_dir);
	const char *log = cJSON_GetStringValue(cJSON_GetObjectItem(c, "logFile"));
	if (log) {
		char moved[600];
		snprintf(moved, sizeof(moved), "%s/%s", dir, strrchr(log, '/') + 1);
		cJSON_ReplaceItemInObject(c, "logFile", cJSON_CreateString(moved));
	}
	if (rt && rt->device_id && !cJSON_GetObjectItem(c, "deviceID"))
		cJSON_AddStringToObject(c, "deviceID", rt->device_id);
	if (rt && rt->rc) {
		cJSON *rc = cJSON_Parse(rt->rc);
		cr_assert_not_null(rc, "runtimeConfig %s", rt->rc);
		cJSON_AddItemToObject(c, "runtimeConfig", rc);
	}
	if (rt && rt->type)
		cJSON_ReplaceItemInObject(c, "type", cJSON_CreateString(rt->type));
	if (rt && rt->extra) {
		cJSON *x = cJSON_Parse(rt->extra), *e;
		cr_assert_not_null(x, "extra %s", rt->extra);
		cJSON_ArrayForEach(e, x)
		{
			cJSON_DeleteItemFromObject(c, e->string);
			cJSON_AddItemToObject(c, e->string, cJSON_Duplicate(e, 1));
		}
		cJSON_Delete(x);
	}
	if (rt && rt->drop)
		cJSON_DeleteItemFromObject(c, rt->drop);
	char *out = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	return out;
}
