/* The devices' whole-device state beyond PCI discovery: a NIC PF's devlink
 * eswitch mode and a GPU's vendor state through its `read` program. */
#include "kyborg/node/node_apply.h"
#include "kyborg/net/devlink.h"
#include "kyborg/base/error.h"
#include "kyborg/base/exec.h"
#include "kyborg/pci/fpga.h"
#include "node_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64

int ky_node_run_program(char *const *argv, const char *addr, const char *state, int timeout_ms, char **out,
			struct ky_error **err)
{
	const char *args[MAX_ARGS + 2];
	size_t n = 0;
	while (argv[n] && n < MAX_ARGS) {
		args[n] = argv[n];
		n++;
	}
	if (argv[n])
		return ky_error_set(err, E2BIG, "%s: more than %d arguments", argv[0], MAX_ARGS);
	args[n++] = addr;
	args[n] = NULL;

	char env_addr[64];
	_cleanup_free_ char *env_state = NULL;
	snprintf(env_addr, sizeof(env_addr), "KYBORG_PCI_ADDRESS=%s", addr);
	if (state && asprintf(&env_state, "KYBORG_STATE=%s", state) < 0) {
		env_state = NULL;
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	char *envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", env_addr, env_state, NULL };

	struct ky_exec x = { .path = argv[0], .argv = (char *const *)args, .envp = envp, .timeout_ms = timeout_ms };
	_cleanup_free_ char *output = NULL;
	size_t len = 0;
	int status, r = ky_exec_capture(&x, &output, &len, &status, err);
	if (r < 0)
		return r; /* the message already names the program */
	if (status != 0)
		return ky_error_set(err, EIO, "%s %s exited with status %d", argv[0], addr, status);
	while (len > 0 && strchr(" \t\r\n", output[len - 1]))
		output[--len] = '\0';
	if (out)
		*out = TAKE_PTR(output);
	return 0;
}

static int note(char **dst, const struct ky_error *e)
{
	free(*dst);
	*dst = strdup(ky_error_msg(e));
	return *dst ? 0 : -ENOMEM;
}

int ky_node_read_current(struct ky_node_targets *t, struct ky_error **err)
{
	for (size_t i = 0; i < t->n; i++) {
		struct ky_node_target *tg = &t->t[i];
		const struct ky_profile_entry *e = tg->entry;
		_cleanup_error_ struct ky_error *rerr = NULL;
		int r = 0;
		if (e->kind == KY_PROFILE_NIC && e->eswitch != KY_ESWITCH_UNKNOWN) {
			if (ky_devlink_eswitch_get("pci", tg->dev->addr, &tg->cur.eswitch, &rerr) < 0) {
				tg->cur.eswitch = KY_ESWITCH_UNKNOWN;
				r = note(&tg->cur.eswitch_note, rerr);
			}
		} else if (e->kind == KY_PROFILE_GPU && e->has_command) {
			if (ky_node_run_program(e->command.read, tg->dev->addr, NULL, e->command.timeout_ms,
						&tg->cur.command_state, &rerr) < 0)
				r = note(&tg->cur.command_note, rerr);
		} else if (e->kind == KY_PROFILE_FPGA && e->has_image) {
			struct ky_fpga *f = NULL;
			if (ky_fpga_find(tg->dev->syspath, tg->dev->addr, &f, &rerr) < 0 ||
			    ky_fpga_loaded_id(f, &tg->cur.image_id, &rerr) < 0)
				r = note(&tg->cur.image_note, rerr);
			ky_fpga_free(f);
		}
		if (r < 0)
			return ky_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}
