/* Delegating to the IPAM plugin (SPEC.md section 4): same config on stdin,
 * the CNI variables in the environment, its result or error on stdout. */
#include "cni.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/strv.h"
#include "kyborg/base/error.h"
#include "kyborg/base/exec.h"
#include "kyborg/base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define IPAM_TIMEOUT_MS 55000 /* dhcp may wait for a lease */
#define IPAM_MAX_OUTPUT (256u << 10)

static int build_env(const struct ky_cni_ipam_call *call, char ***out)
{
	size_t n = 0;
	while (call->environ && call->environ[n])
		n++;
	char **v = calloc(n + 8, sizeof(char *));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(call->environ[i], "CNI_", 4) != 0 && !(v[k++] = strdup(call->environ[i])))
			goto oom;
	const char *keys[] = { "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH" };
	const char *vals[] = { call->command, call->container_id, call->netns, call->ifname, call->args, call->cni_path };
	for (size_t i = 0; i < KY_ARRAY_SIZE(keys); i++)
		if (vals[i] && asprintf(&v[k++], "%s=%s", keys[i], vals[i]) < 0) {
			v[k - 1] = NULL;
			goto oom;
		}
	*out = v;
	return 0;
oom:
	ky_strv_free(v);
	return -ENOMEM;
}

static int run(const struct ky_cni_ipam_call *call, const char *bin, char *const *envp, const char *conf,
	       cJSON **answer, int *status, struct ky_error **err)
{
	char *const argv[] = { (char *)call->type, NULL };
	struct ky_exec x = {
		.path = bin, .argv = argv, .envp = envp, .input = conf, .input_len = strlen(conf),
		.timeout_ms = IPAM_TIMEOUT_MS, .max_output = IPAM_MAX_OUTPUT,
	};
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	int r = ky_exec_capture(&x, &out, &len, status, err);
	if (r < 0)
		return r;
	*answer = NULL;
	if (len > 0 && ky_json_parse(out, len, answer, NULL) < 0)
		*answer = NULL;
	return 0;
}

/* The highest version both we and the plugin speak, or NULL. */
static const char *negotiate(const struct ky_cni_ipam_call *call, const char *bin, char *const *envp)
{
	_cleanup_strv_free_ char **venv = NULL;
	struct ky_cni_ipam_call vc = *call;
	vc.command = "VERSION";
	if (build_env(&vc, &venv) < 0)
		return NULL;
	_cleanup_(cJSON_Deletep) cJSON *ans = NULL;
	int status = 0;
	(void)envp;
	if (run(&vc, bin, venv, "{\"cniVersion\":\"0.4.0\"}", &ans, &status, NULL) < 0 || status != 0)
		return NULL;
	for (int i = KY_CNI_NVERSIONS - 1; i >= 0; i--) {
		const cJSON *s;
		cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(ans, "supportedVersions"))
			if (cJSON_IsString(s) && strcmp(s->valuestring, ky_cni_versions[i]) == 0)
				return ky_cni_versions[i];
	}
	return NULL;
}

int ky_cni_ipam_exec(const struct ky_cni_ipam_call *call, cJSON **result, char **conf_sent, struct ky_error **err)
{
	_cleanup_free_ char *bin = NULL;
	int r = ky_exec_find(call->type, call->cni_path, &bin, err);
	if (r < 0)
		return ky_error_prefix(err, "IPAM %s", call->command);
	_cleanup_strv_free_ char **envp = NULL;
	if (build_env(call, &envp) < 0)
		return ky_error_set(err, ENOMEM, "IPAM %s: environment", call->command);

	_cleanup_free_ char *conf = strdup(call->conf);
	if (!conf)
		return ky_error_set(err, ENOMEM, "IPAM %s", call->command);
	for (int attempt = 0;; attempt++) {
		_cleanup_(cJSON_Deletep) cJSON *ans = NULL;
		int status = 0;
		r = run(call, bin, envp, conf, &ans, &status, err);
		if (r < 0)
			return ky_error_prefix(err, "IPAM %s %s", call->type, call->command);
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(ans, "code");
		if (status == 0 && !cJSON_IsNumber(code)) {
			if (result && strcmp(call->command, "ADD") == 0) {
				if (!cJSON_IsObject(ans))
					return ky_error_set(err, EPROTO, "IPAM %s ADD: no result on stdout", call->type);
				*result = TAKE_PTR(ans);
			}
			if (conf_sent)
				*conf_sent = TAKE_PTR(conf);
			return 0;
		}
		/* An IPAM plugin older than our cniVersion refuses it with code 1:
		 * ask what it speaks and send the config again in that version
		 * (its result is normalised whatever the version). */
		if (attempt == 0 && cJSON_IsNumber(code) && code->valueint == KY_CNI_E_VERSION) {
			const char *v = negotiate(call, bin, envp);
			_cleanup_(cJSON_Deletep) cJSON *doc = v ? cJSON_Parse(conf) : NULL;
			if (doc) {
				cJSON_ReplaceItemInObjectCaseSensitive(doc, "cniVersion", cJSON_CreateString(v));
				char *again = cJSON_PrintUnformatted(doc);
				if (again) {
					ky_debug("ipam-version", "plugin=%s version=%s", call->type, v);
					free(conf);
					conf = again;
					continue;
				}
			}
		}
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "msg"));
		const char *det = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "details"));
		return ky_error_set(err, EREMOTEIO, "IPAM %s %s failed (exit %d, code %d): %s%s%s", call->type,
				    call->command, status, cJSON_IsNumber(code) ? code->valueint : 0,
				    msg ? msg : "no error message", det && *det ? ": " : "", det ? det : "");
	}
}

int ky_cni_ipam_gc(const struct ky_cni_ipam_call *call, struct ky_error **err)
{
	_cleanup_free_ char *bin = NULL;
	int r = ky_exec_find(call->type, call->cni_path, &bin, err);
	if (r < 0)
		return ky_error_prefix(err, "IPAM GC");
	_cleanup_strv_free_ char **envp = NULL;
	if (build_env(call, &envp) < 0)
		return ky_error_set(err, ENOMEM, "IPAM GC: environment");
	const char *v = negotiate(call, bin, envp);
	if (!v || strcmp(v, "1.1.0") != 0) {
		ky_debug("ipam-gc-unsupported", "plugin=%s version=%s", call->type, v ? v : "unknown");
		return 1;
	}
	_cleanup_(cJSON_Deletep) cJSON *ans = NULL;
	int status = 0;
	if ((r = run(call, bin, envp, call->conf, &ans, &status, err)) < 0)
		return ky_error_prefix(err, "IPAM %s GC", call->type);
	if (status == 0)
		return 0;
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "msg"));
	return ky_error_set(err, EREMOTEIO, "IPAM %s GC failed (exit %d): %s", call->type, status,
			    msg ? msg : "no error message");
}
