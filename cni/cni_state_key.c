/* State record keys for attachments: network, container and interface
 * escaped into one path component the state store accepts. Pure. */
#include "cni.h"
#include "kyborg/state/state_store.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int put_escaped(const char *s, char *out, size_t size, size_t *pos)
{
	for (size_t i = 0; s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool keep = isalnum(ch) || ch == '_' || ch == '-' || (ch == '.' && i > 0);
		size_t need = keep ? 1 : 3;
		if (*pos + need >= size)
			return -ENAMETOOLONG;
		if (keep)
			out[(*pos)++] = (char)ch;
		else
			*pos += (size_t)snprintf(out + *pos, size - *pos, "@%02x", ch);
	}
	return 0;
}

int ky_cni_state_key_prefix(const char *network, char *out, size_t size)
{
	size_t pos = 0;
	if (size > KY_STATE_KEY_MAX + 1)
		size = KY_STATE_KEY_MAX + 1;
	if (!network || !*network || put_escaped(network, out, size, &pos) < 0 || pos + 1 >= size)
		return -ENAMETOOLONG;
	out[pos++] = ':';
	out[pos] = '\0';
	return 0;
}

int ky_cni_state_key(const char *network, const char *container_id, const char *ifname, char *out, size_t size)
{
	if (size > KY_STATE_KEY_MAX + 1)
		size = KY_STATE_KEY_MAX + 1;
	int r = ky_cni_state_key_prefix(network, out, size);
	if (r < 0)
		return r;
	size_t pos = strlen(out);
	if (!container_id || !*container_id || !ifname || !*ifname)
		return -EINVAL;
	if (put_escaped(container_id, out, size, &pos) < 0 || pos + 1 >= size)
		return -ENAMETOOLONG;
	out[pos++] = ':';
	if (put_escaped(ifname, out, size, &pos) < 0)
		return -ENAMETOOLONG;
	out[pos] = '\0';
	return ky_state_key_valid(out) ? 0 : -EINVAL;
}

int ky_cni_device_key(const char *id, char *out, size_t size)
{
	static const char prefix[] = "device@";
	if (size > KY_STATE_KEY_MAX + 1)
		size = KY_STATE_KEY_MAX + 1;
	if (!id || !*id)
		return -EINVAL;
	if (size < sizeof(prefix))
		return -ENAMETOOLONG;
	memcpy(out, prefix, sizeof(prefix));
	size_t pos = sizeof(prefix) - 1;
	if (put_escaped(id, out, size, &pos) < 0)
		return -ENAMETOOLONG;
	out[pos] = '\0';
	return ky_state_key_valid(out) ? 0 : -EINVAL;
}

/* Undoes put_escaped() up to `stop` (or the end); the position after it. */
static const char *take_escaped(const char *s, char stop, char *out, size_t size, int *ret)
{
	size_t n = 0;
	for (; *s && *s != stop; s++) {
		char ch = *s;
		if (ch == '@') {
			unsigned v;
			if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]) ||
			    sscanf(s + 1, "%2x", &v) != 1) {
				*ret = -EINVAL;
				return s;
			}
			ch = (char)v;
			s += 2;
		}
		if (n + 1 >= size) {
			*ret = -ENAMETOOLONG;
			return s;
		}
		out[n++] = ch;
	}
	if (n == 0)
		*ret = -EINVAL;
	out[n] = '\0';
	return s;
}

int ky_cni_state_key_parse(const char *key, const char *network, char *container_id, size_t cid_size,
			   char *ifname, size_t ifname_size)
{
	char prefix[KY_STATE_KEY_MAX + 1];
	if (!key || ky_cni_state_key_prefix(network, prefix, sizeof(prefix)) < 0 ||
	    strncmp(key, prefix, strlen(prefix)) != 0)
		return -EINVAL;
	int ret = 0;
	const char *s = take_escaped(key + strlen(prefix), ':', container_id, cid_size, &ret);
	if (ret < 0)
		return ret;
	if (*s != ':')
		return -EINVAL;
	s = take_escaped(s + 1, '\0', ifname, ifname_size, &ret);
	return ret;
}
