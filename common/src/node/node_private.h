/* Internals shared by kyborgctl's node files (node_state.c, node_apply.c). */
#pragma once

struct ky_error;

/* Runs an admin-configured program without a shell: argv (argv[0] an
 * absolute path) with the device's PCI address appended, a minimal
 * environment carrying KYBORG_PCI_ADDRESS (and KYBORG_STATE when state is
 * not NULL), stdout captured into *out (trailing white space trimmed; out
 * may be NULL). A non-zero exit is -EIO naming the status. */
int ky_node_run_program(char *const *argv, const char *addr, const char *state, int timeout_ms, char **out,
			struct ky_error **err);
