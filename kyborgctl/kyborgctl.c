/* kyborgctl: the administrator's view of a Kyborg node. Parses the command
 * line, asks libkyborg, prints; exit 0 on success, 1 on failure, 2 on a
 * usage error. */
#include "kyborg/json.h"
#include "kyborg/cleanup.h"
#include "kyborg/error.h"
#include "kyborg/inventory.h"
#include "kyborg/log.h"
#include "kyborg/pci.h"

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

#define PROG "kyborgctl"

enum { EXIT_USAGE = 2 };


static void usage(FILE *f)
{
	fputs("Usage: " PROG " [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "Show what Kyborg sees on this Kubernetes node.\n"
	      "\n"
	      "Commands:\n"
	      "  status [--json]        The node's GPUs, FPGAs and NICs (VFs under their PF)\n"
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
	fputs("Usage: " PROG " status [--json]\n"
	      "\n"
	      "List the node's PCI accelerators: GPUs, FPGAs and NICs with their SR-IOV VFs,\n"
	      "with driver, NUMA node, IOMMU group, network interfaces and device nodes.\n"
	      "\n"
	      "Options:\n"
	      "  -j, --json   Print the inventory as JSON, every PCI function included\n"
	      "  -h, --help   Show this help and exit\n",
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

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			status_usage(stdout);
			return EXIT_SUCCESS;
		default:
			return usage_error("status", "unknown option '%s'", bad_option(argv));
		}
	}
	if (optind < argc)
		return usage_error("status", "unexpected argument '%s'", argv[optind]);

	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = NULL;
	if (ky_pci_discover(&list, &err) < 0)
		return fail("status", err);

	if (json) {
		_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
		if (ky_inventory_to_json(list, &doc, &err) < 0)
			return fail("status", err);
		_cleanup_free_ char *text = cJSON_Print(doc);
		if (!text) {
			ky_error_set(&err, ENOMEM, "format JSON: out of memory");
			return fail("status", err);
		}
		puts(text);
	} else if (ky_inventory_write_text(list, stdout, &err) < 0) {
		return fail("status", err);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ky_error_set(&err, EIO, "write to stdout failed");
		return fail("status", err);
	}
	return EXIT_SUCCESS;
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
