/* kyborg: the CNI plugin's front end. Reads the CNI environment and the
 * network config, runs the verb in libkyborg_cni, and prints the result or
 * the spec's error object on stdout; logs never go to stdout. */
#include "cni.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_CONFIG (1u << 20)

extern char **environ;

static void print_json(cJSON *j)
{
	char *s = cJSON_Print(j);
	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
	fflush(stdout);
}

static int report(struct ky_cni *c, const struct ky_error *err)
{
	const char *v = c->conf.cni_version && ky_cni_version_index(c->conf.cni_version) >= 0 ? c->conf.cni_version
											     : NULL;
	ky_log_err(KY_LOG_ERROR, "failed", err, "command=%s code=%d", c->env.command ? c->env.command : "?",
		   ky_cni_error_code(err));
	cJSON *j = ky_cni_error_json(v, err);
	print_json(j);
	cJSON_Delete(j);
	return 1;
}

/* kyborg --check-config: the network config on stdin parsed as ADD would
 * parse it once the runtime has added the device, touching nothing. What the anchors' users run before switching the type;
 * check_manifests runs every config of ours through it. */
static int check_config(void)
{
	struct ky_cni c = { .environ = environ };
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *input = NULL;
	int r = ky_read_all(STDIN_FILENO, MAX_CONFIG, &input, &c.input_len);
	if (r < 0) {
		ky_error_set(&err, -r, "read network config from stdin: %s", strerror(-r));
		ky_error_set_status(&err, KY_CNI_E_IO);
	} else if (ky_cni_conf_parse_template(input, c.input_len, &c.conf, &err) == 0) {
		for (size_t i = 0; i < c.conf.n_notes; i++)
			fprintf(stderr, "kyborg: %s\n", c.conf.notes[i]);
		ky_cni_conf_free(&c.conf);
		return 0;
	}
	cJSON *j = ky_cni_error_json(NULL, err);
	print_json(j);
	cJSON_Delete(j);
	ky_cni_conf_free(&c.conf);
	return 1;
}

int main(int argc, char **argv)
{
	struct ky_cni c = { .environ = environ };
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *input = NULL;
	int r;

	if (argc == 2 && strcmp(argv[1], "--check-config") == 0)
		return check_config();
	if (ky_cni_env_parse(environ, &c.env, &err) < 0)
		return report(&c, err);
	if ((r = ky_read_all(STDIN_FILENO, MAX_CONFIG, &input, &c.input_len)) < 0) {
		ky_error_set(&err, -r, "read network config from stdin: %s", strerror(-r));
		ky_error_set_status(&err, KY_CNI_E_IO);
		return report(&c, err);
	}
	c.input = input;
	if (c.env.cmd == KY_CNI_VERSION) {
		/* The runtime may send its version, or nothing at all. */
		cJSON *info = ky_cni_version_info();
		print_json(info);
		cJSON_Delete(info);
		return 0;
	}
	if (ky_cni_conf_parse(input, c.input_len, c.env.cmd, &c.conf, &err) < 0 ||
	    ky_cni_conf_apply_args(&c.conf, c.env.cmd, c.env.args, &err) < 0) {
		r = report(&c, err);
		ky_cni_conf_free(&c.conf);
		return r;
	}
	enum ky_log_level level = c.conf.log_level_value;
	/* A log we cannot or may not open must not fail the pod (nor a DEL):
	 * stderr will do, and says why. */
	if (ky_cni_node_from_env(environ, &c.node) < 0) {
		ky_error_set(&err, ENOMEM, "out of memory");
		r = report(&c, err);
		ky_cni_conf_free(&c.conf);
		return r;
	}
	const char *log_file = c.conf.log_file;
	if (log_file && !ky_cni_path_allowed(c.node.log_dirs, log_file)) {
		ky_error_set(&err, EPERM, "logFile: %s is not in a directory the node allows (KYBORG_CNI_LOG_DIRS, "
			     "default " KY_CNI_LOG_DIRS_DEFAULT ")", log_file);
		log_file = NULL;
	} else if (ky_log_open("kyborg", log_file, level, &err) < 0) {
		ky_error_prefix(&err, "logFile");
		log_file = NULL;
	}
	if (!log_file) {
		ky_log_open("kyborg", NULL, level, NULL);
		if (err)
			ky_log_err(KY_LOG_WARN, "log-file-refused", err, "command=%s", c.env.command);
		ky_error_clear(&err);
	}
	for (size_t i = 0; i < c.conf.n_notes; i++) {
		char q[512];
		ky_warn("config-left-aside", "command=%s container=%s what=%s", c.env.command,
			c.env.container_id ? c.env.container_id : "", ky_log_quote(c.conf.notes[i], q, sizeof(q)));
	}

	switch (c.env.cmd) {
	case KY_CNI_ADD: r = ky_cni_add(&c, &err); break;
	case KY_CNI_DEL: r = ky_cni_del(&c, &err); break;
	case KY_CNI_CHECK: r = ky_cni_check(&c, &err); break;
	case KY_CNI_GC: r = ky_cni_gc(&c, &err); break;
	case KY_CNI_STATUS: r = ky_cni_status(&c, &err); break;
	default: r = 0; break;
	}
	if (r < 0)
		r = report(&c, err);
	else if (c.output)
		print_json(c.output);
	cJSON_Delete(c.output);
	ky_cni_conf_free(&c.conf);
	ky_cni_node_free(&c.node);
	ky_log_close();
	return r < 0 ? 1 : r;
}
