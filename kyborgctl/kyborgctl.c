/* kyborgctl: the administrator's view of a Kyborg node and the call that
 * programs whole devices for a node's role. Parses the command line, asks
 * libkyborg, prints. Exit codes: 0 converged (status: success), 1 failed,
 * 2 usage error, 3 changes (plan) or changed (apply), 4 refused. */
#include "kyborg/json/json.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/inventory.h"
#include "kyborg/base/log.h"
#include "kyborg/node/node_apply.h"
#include "kyborg/node/node_converge.h"
#include "kyborg/node/node_plan.h"
#include "kyborg/node/node_profile.h"
#include "kyborg/node/node_status.h"
#include "kyborg/base/strv.h"
#include "kyborg/device/device_config.h"
#include "kyborg/pci/pci.h"
#include "kyborg/pci/pci_names.h"
#include "kyborg/state/paths.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KYBORG_VERSION
#define KYBORG_VERSION "unknown"
#endif

#ifndef KYBORG_FETCH_HELPER
#define KYBORG_FETCH_HELPER "/usr/libexec/kyborg/kyborg-fetch"
#endif

/* The device config both front ends read: where the DaemonSet mounts the
 * ConfigMap (manifests/daemonset.yaml, the device plugin's --config). */
#ifndef KYBORGCTL_DEVICE_CONFIG
#define KYBORGCTL_DEVICE_CONFIG "/etc/kyborg/device-plugin.json"
#endif

#define PROG "kyborgctl"

enum { EXIT_USAGE = 2, EXIT_CHANGES = 3, EXIT_REFUSED = 4 };


static void usage(FILE *f)
{
	fputs("Usage: " PROG " [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "Show what Kyborg sees on this Kubernetes node and program whole devices for its role.\n"
	      "\n"
	      "Commands:\n"
	      "  status [--json]        The node's GPUs, FPGAs and NICs (VFs under their PF)\n"
	      "  plan -f PROFILE        What apply would change, device by device; changes nothing\n"
	      "  apply -f PROFILE       Converge the node's devices to the profile\n"
	      "  help                   Show this help\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help             Show this help and exit\n"
	      "      --version          Show the version and exit\n"
	      "      --log-level LEVEL  error, warn (default), info or debug; logs go to stderr\n",
	      f);
}

static void status_usage(FILE *f)
{
	fputs("Usage: " PROG " status [--json] [--cni-state-dir DIR] [--kubelet-checkpoint FILE] [--state-dir DIR]\n"
	      "                 [--dra-state-dir DIR] [--device-config FILE]\n"
	      "\n"
	      "List the node's PCI accelerators: GPUs, FPGAs and NICs with their SR-IOV VFs,\n"
	      "with driver, NUMA node, IOMMU group, network interfaces, device nodes and\n"
	      "names (from pci.ids where installed); each NIC PF's eswitch mode, the\n"
	      "firmware versions the kernel reports, and per function the front end that\n"
	      "serves it (device plugin, DRA, none), its resource, and the pods, CNI\n"
	      "attachments and DRA claims that use it now.\n"
	      "\n"
	      "Options:\n"
	      "  -j, --json                  Print the inventory as JSON, every PCI function included\n"
	      "      --cni-state-dir DIR     The CNI plugin's records (default " KY_CNI_STATE_DIR_DEFAULT ")\n"
	      "      --kubelet-checkpoint F  Kubelet's device-plugin checkpoint\n"
	      "                              (default " KY_KUBELET_CHECKPOINT_DEFAULT ")\n"
	      "      --state-dir DIR         The device plugin's state (allocations), read without\n"
	      "                              kubelet's checkpoint (default " KY_DP_STATE_DIR_DEFAULT ")\n"
	      "      --dra-state-dir DIR     The DRA driver's state (its claims in DIR/dra-claims;\n"
	      "                              default " KY_DRA_STATE_DIR_DEFAULT ")\n"
	      "      --device-config FILE    The device config the front ends read, for which serves\n"
	      "                              what (default " KYBORGCTL_DEVICE_CONFIG "; when that\n"
	      "                              is missing the front ends are shown as unknown)\n"
	      "  -h, --help                  Show this help and exit\n",
	      f);
}

__attribute__((format(printf, 2, 3))) static int usage_error(const char *cmd, const char *fmt, ...)
{
	const char *sp = cmd ? " " : "", *name = cmd ? cmd : "";
	va_list ap;
	fprintf(stderr, PROG "%s%s: ", sp, name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG "%s%s --help'.\n", sp, name);
	return EXIT_USAGE;
}

static int fail(const char *cmd, const struct ky_error *err)
{
	fprintf(stderr, PROG " %s: %s\n", cmd, ky_error_msg(err));
	return EXIT_FAILURE;
}

/* getopt's view of an option it refused: "-x" or "--long". */
static const char *bad_option(char **argv)
{
	return argv[optind - 1];
}

/* Which front end serves each function, from the device config: a
 * missing config at the default path leaves them unknown with a note (the
 * node may run neither front end), any other failure is the command's. */
static int read_served(const char *path, bool given, const struct ky_pci_list *list, struct ky_device_config **cfg,
		       struct ky_dev_served **served, char ***notes, size_t *n_notes, struct ky_error **err)
{
	_cleanup_error_ struct ky_error *cerr = NULL;
	int r = ky_node_served_read(path, list, cfg, served, &cerr);
	if (r == -ENOENT && !given)
		return ky_strv_append(notes, n_notes, "no device config at %s: front ends unknown", path) < 0 ?
			       ky_error_set(err, ENOMEM, "out of memory") :
			       0;
	if (r < 0) {
		ky_error_set(err, -r, "device config: %s", ky_error_msg(cerr));
		return r;
	}
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	enum { OPT_CNI_DIR = 256, OPT_CHECKPOINT, OPT_STATE_DIR, OPT_DRA_STATE_DIR, OPT_DEVICE_CONFIG };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "cni-state-dir", required_argument, NULL, OPT_CNI_DIR },
		{ "kubelet-checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "dra-state-dir", required_argument, NULL, OPT_DRA_STATE_DIR },
		{ "device-config", required_argument, NULL, OPT_DEVICE_CONFIG },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ky_usage_sources src = { .cni_state_dir = KY_CNI_STATE_DIR_DEFAULT,
					.kubelet_checkpoint = KY_KUBELET_CHECKPOINT_DEFAULT,
					.dp_state_dir = KY_DP_STATE_DIR_DEFAULT,
					.dra_state_dir = KY_DRA_STATE_DIR_DEFAULT };
	const char *device_config = KYBORGCTL_DEVICE_CONFIG;
	bool json = false, config_given = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case OPT_CNI_DIR:
			src.cni_state_dir = optarg;
			break;
		case OPT_CHECKPOINT:
			src.kubelet_checkpoint = optarg;
			break;
		case OPT_STATE_DIR:
			src.dp_state_dir = optarg;
			break;
		case OPT_DRA_STATE_DIR:
			src.dra_state_dir = optarg;
			break;
		case OPT_DEVICE_CONFIG:
			device_config = optarg;
			config_given = true;
			break;
		case 'h':
			status_usage(stdout);
			return EXIT_SUCCESS;
		case ':':
			return usage_error("status", "option '%s' needs a value", bad_option(argv));
		default:
			return usage_error("status", "unknown option '%s'", bad_option(argv));
		}
	}
	if (optind < argc)
		return usage_error("status", "unexpected argument '%s'", argv[optind]);

	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = NULL;
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *usage = NULL;
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = NULL;
	_cleanup_free_ struct ky_dev_served *served = NULL;
	_cleanup_(ky_strv_freep) char **notes = NULL;
	size_t n_notes = 0;
	struct ky_dev_live *live = NULL;
	if (ky_pci_discover(&list, &err) < 0 || ky_pci_names_fill(NULL, list, &err) < 0 ||
	    ky_node_usage_read(&src, &usage, &err) < 0 ||
	    read_served(device_config, config_given, list, &cfg, &served, &notes, &n_notes, &err) < 0 ||
	    ky_node_live_read(list, &live, &err) < 0)
		return fail("status", err);

	const struct ky_node_status st = {
		.list = list, .live = live, .usage = usage, .served = served, .notes = notes, .n_notes = n_notes,
	};
	int r;
	if (json) {
		_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
		_cleanup_free_ char *text = NULL;
		r = ky_node_status_json(&st, &doc, &err);
		if (r >= 0 && !(text = cJSON_Print(doc)))
			r = ky_error_set(&err, ENOMEM, "format JSON: out of memory");
		if (r >= 0)
			puts(text);
	} else {
		r = ky_node_status_write_text(&st, stdout, &err);
	}
	ky_node_live_free(live, list->n);
	if (r < 0)
		return fail("status", err);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ky_error_set(&err, EIO, "write to stdout failed");
		return fail("status", err);
	}
	return EXIT_SUCCESS;
}

static void converge_usage(FILE *f, const char *cmd)
{
	fprintf(f,
		"Usage: " PROG " %s -f PROFILE [OPTIONS]\n"
		"\n"
		"%s\n"
		"\n"
		"Options:\n"
		"  -f, --file PROFILE         The node profile (JSON; see docs/kyborgctl.md)\n"
		"  -j, --json                 Print the plan as JSON\n"
		"      --force                Change devices in use by pods or claims too (the plan\n"
		"                             names them)\n"
		"      --cni-state-dir DIR    The CNI plugin's records (default " KY_CNI_STATE_DIR_DEFAULT ")\n"
		"      --kubelet-checkpoint F Kubelet's device-plugin checkpoint, the pods using devices\n"
		"                             now (default " KY_KUBELET_CHECKPOINT_DEFAULT ");\n"
		"                             without it, the device plugin's allocations in the state dir\n"
		"      --state-dir DIR        Kyborg's state directory; FPGA images are cached in\n"
		"                             DIR/images (default " KY_DP_STATE_DIR_DEFAULT ")\n"
		"      --dra-state-dir DIR    The DRA driver's state: the claims it has prepared, in\n"
		"                             DIR/dra-claims (default " KY_DRA_STATE_DIR_DEFAULT ")\n"
		"      --fetch-helper PATH    Fetches images by URL (default " KYBORG_FETCH_HELPER ")\n"
		"      --changed-ok           Exit 0, not 3, when changes are made or planned (for a\n"
		"                             Kubernetes init container)\n"
		"  -h, --help                 Show this help and exit\n"
		"\n"
		"Exit status: 0 converged (nothing %s), 3 %s, 4 refused (bad profile, or a\n"
		"change would disrupt pods or claims without --force; nothing changed), 1 failed (the\n"
		"report says which change failed and what it left), 2 usage error.\n",
		cmd,
		strcmp(cmd, "plan") == 0 ? "Print what apply would change, device by device, whether a change takes\n"
					   "a device from running pods or claims, or needs a reboot. Changes nothing." :
					   "Converge the node's devices to the profile and print what changed. Running\n"
					   "it again changes nothing. Devices in use by pods are left alone without --force.",
		strcmp(cmd, "plan") == 0 ? "to change" : "changed",
		strcmp(cmd, "plan") == 0 ? "changes to make" : "changed");
}

struct converge_opts {
	const char *profile;
	bool json, force;
	struct ky_usage_sources usage;
	const char *state_dir;
	const char *fetch_helper;
	bool changed_ok;
};

static int exit_code(enum ky_plan_result r)
{
	switch (r) {
	case KY_PLAN_CONVERGED:
		return EXIT_SUCCESS;
	case KY_PLAN_CHANGES:
	case KY_PLAN_CHANGED:
		return EXIT_CHANGES;
	case KY_PLAN_REFUSED:
		return EXIT_REFUSED;
	case KY_PLAN_FAILED:
		break;
	}
	return EXIT_FAILURE;
}

static int print_plan(const struct ky_plan *plan, const struct ky_node_targets *t, bool applied, bool json,
		      struct ky_error **err)
{
	if (!json)
		return ky_plan_write_text(plan, t, applied, stdout, err);
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	if (ky_plan_to_json(plan, t, applied, &doc, err) < 0)
		return -ENOMEM;
	_cleanup_free_ char *text = cJSON_Print(doc);
	if (!text)
		return ky_error_set(err, ENOMEM, "format JSON: out of memory");
	puts(text);
	if (fflush(stdout) != 0 || ferror(stdout))
		return ky_error_set(err, EIO, "write to stdout failed");
	return 0;
}

/* plan and apply: the library decides, we print. A profile the node
 * cannot take is refused (exit 4) before any plan. */
static int converge(const char *cmd, const struct converge_opts *o, bool apply)
{
	_cleanup_error_ struct ky_error *err = NULL, *perr = NULL;
	_cleanup_free_ char *cache = NULL;
	_cleanup_(ky_converge_release) struct ky_converge c = { 0 };
	if (asprintf(&cache, "%s/images", o->state_dir) < 0) {
		cache = NULL;
		ky_error_set(&err, ENOMEM, "out of memory");
		return fail(cmd, err);
	}
	struct ky_converge_opts co = {
		.profile_path = o->profile,
		.apply = apply,
		.force = o->force,
		.usage = o->usage,
		.apply_opts = { .image_cache_dir = cache, .fetch_helper = o->fetch_helper },
		.lock_dir = o->state_dir,
	};
	int r = ky_node_converge(&co, &c, &err);
	if (!c.plan) {
		if (r != -EINVAL)
			return fail(cmd, err);
		fprintf(stderr, PROG " %s: refused: %s\n", cmd, ky_error_msg(err));
		return EXIT_REFUSED;
	}
	if (print_plan(c.plan, c.targets, apply, o->json, &perr) < 0)
		return fail(cmd, perr);
	if (r < 0)
		fprintf(stderr, PROG " %s: %s\n", cmd, ky_error_msg(err));
	return exit_code(ky_plan_result(c.plan, apply));
}

static int cmd_converge(int argc, char **argv, bool apply)
{
	enum { OPT_FORCE = 256, OPT_CNI_DIR, OPT_CHECKPOINT, OPT_STATE_DIR, OPT_DRA_STATE_DIR, OPT_FETCH_HELPER,
	       OPT_CHANGED_OK };
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "cni-state-dir", required_argument, NULL, OPT_CNI_DIR },
		{ "kubelet-checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "dra-state-dir", required_argument, NULL, OPT_DRA_STATE_DIR },
		{ "fetch-helper", required_argument, NULL, OPT_FETCH_HELPER },
		{ "changed-ok", no_argument, NULL, OPT_CHANGED_OK },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cmd = apply ? "apply" : "plan";
	struct converge_opts o = {
		.usage = { .cni_state_dir = KY_CNI_STATE_DIR_DEFAULT,
			   .kubelet_checkpoint = KY_KUBELET_CHECKPOINT_DEFAULT,
			   .dra_state_dir = KY_DRA_STATE_DIR_DEFAULT },
		.state_dir = KY_DP_STATE_DIR_DEFAULT,
		.fetch_helper = KYBORG_FETCH_HELPER,
	};
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":f:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.profile = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case OPT_FORCE:
			o.force = true;
			break;
		case OPT_CNI_DIR:
			o.usage.cni_state_dir = optarg;
			break;
		case OPT_CHECKPOINT:
			o.usage.kubelet_checkpoint = optarg;
			break;
		case OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case OPT_DRA_STATE_DIR:
			o.usage.dra_state_dir = optarg;
			break;
		case OPT_CHANGED_OK:
			o.changed_ok = true;
			break;
		case OPT_FETCH_HELPER:
			if (optarg[0] != '/')
				return usage_error(cmd, "--fetch-helper must be an absolute path");
			o.fetch_helper = optarg;
			break;
		case 'h':
			converge_usage(stdout, cmd);
			return EXIT_SUCCESS;
		case ':':
			return usage_error(cmd, "option '%s' needs a value", bad_option(argv));
		default:
			return usage_error(cmd, "unknown option '%s'", bad_option(argv));
		}
	}
	if (optind < argc)
		return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (!o.profile)
		return usage_error(cmd, "needs a profile: -f PROFILE");
	o.usage.dp_state_dir = o.state_dir;
	int code = converge(cmd, &o, apply);
	return code == EXIT_CHANGES && o.changed_ok ? EXIT_SUCCESS : code;
}

static int cmd_plan(int argc, char **argv)
{
	return cmd_converge(argc, argv, false);
}

static int cmd_apply(int argc, char **argv)
{
	return cmd_converge(argc, argv, true);
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return EXIT_SUCCESS;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "status", cmd_status },
	{ "plan", cmd_plan },
	{ "apply", cmd_apply },
	{ "help", cmd_help },
};

int main(int argc, char **argv)
{
	enum { OPT_VERSION = 256, OPT_LOG_LEVEL };
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ 0 },
	};
	enum ky_log_level level = KY_LOG_WARN;
	int c;

	opterr = 0; /* our messages, with the exit code a usage error deserves */
	/* "+": options after the command word are the command's. */
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case OPT_VERSION:
			puts(PROG " " KYBORG_VERSION);
			return EXIT_SUCCESS;
		case OPT_LOG_LEVEL:
			if (ky_log_level_parse(optarg, &level) < 0)
				return usage_error(NULL, "unknown log level '%s'", optarg);
			break;
		case ':':
			return usage_error(NULL, "option '%s' needs a value", bad_option(argv));
		default:
			return usage_error(NULL, "unknown option '%s'", bad_option(argv));
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	ky_log_open(PROG, NULL, level, NULL);

	const char *name = argv[optind];
	for (size_t i = 0; i < KY_ARRAY_SIZE(commands); i++)
		if (strcmp(name, commands[i].name) == 0)
			return commands[i].run(argc - optind, argv + optind);
	return usage_error(NULL, "unknown command '%s'", name);
}
