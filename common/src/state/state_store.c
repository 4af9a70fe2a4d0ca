/* The state store: <dir>/<key>.json records, replaced by rename from
 * <dir>/.<key>.tmp, serialised by flock on <dir>/.<key>.lock. */
#include "kyborg/state/state_store.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fault.h"
#include "kyborg/base/fileio.h"
#include "kyborg/json/json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A record larger than this is not something we wrote. */
#define RECORD_MAX (16u << 20)

struct ky_state_store {
	int dirfd;
	char *path;
};

struct ky_state_lock {
	struct ky_state_store *s;
	int fd;
	char key[];
};

enum name_kind { NAME_RECORD, NAME_TEMP, NAME_LOCK };

static void name_of(char *buf, size_t size, const char *key, enum name_kind kind)
{
	if (kind == NAME_RECORD)
		snprintf(buf, size, "%s.json", key);
	else
		snprintf(buf, size, ".%s.%s", key, kind == NAME_TEMP ? "tmp" : "lock");
}

#define NAME_SIZE (KY_STATE_KEY_MAX + 8)

/* Why a key is invalid, or NULL. */
static const char *key_problem(const char *key)
{
	if (!key || !*key)
		return "empty";
	if (key[0] == '.')
		return "starts with '.'";
	size_t n = 0;
	for (const char *p = key; *p; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  strchr("_.:@-", c);
		if (!ok)
			return "has a character outside [A-Za-z0-9_.:@-]";
		if (n >= KY_STATE_KEY_MAX)
			return "is longer than 200 characters";
	}
	return NULL;
}

bool ky_state_key_valid(const char *key)
{
	return !key_problem(key);
}

/* The key as it can be shown in a message: control bytes escaped, cut short. */
static const char *key_show(const char *key, char *buf, size_t size)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)key; p && *p && o + 8 < size; p++) {
		if (o >= 64) {
			o += snprintf(buf + o, size - o, "...");
			break;
		}
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			o += snprintf(buf + o, size - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o] = '\0';
	return buf;
}

static int check_key(const char *key, struct ky_error **err)
{
	const char *why = key_problem(key);
	char shown[96];
	if (why)
		return ky_error_set(err, EINVAL, "invalid state key \"%s\": %s", key_show(key, shown, sizeof(shown)),
				    why);
	return 0;
}

int ky_state_open(const char *dir, struct ky_state_store **out, struct ky_error **err)
{
	if (!dir || !*dir)
		return ky_error_set(err, EINVAL, "open state directory: empty path");
	/* The directory is there on every call but the first. Root writes
	 * and locks records in it, so it is never reached through a symlink
	 * and never one that others can write (they could plant links or
	 * records of their own there). */
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	_cleanup_close_ int fd = open(dir, flags);
	if (fd < 0 && errno == ENOENT) {
		int r = ky_mkdir_p(dir, 0700);
		if (r < 0)
			return ky_error_set(err, -r, "create state directory %s: %s", dir, strerror(-r));
		fd = open(dir, flags);
	}
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
		struct stat st;
		bool link = lstat(dir, &st) == 0 && S_ISLNK(st.st_mode);
		return ky_error_set(err, link ? ELOOP : ENOTDIR, "state directory %s is %s", dir,
				    link ? "a symbolic link" : "not a directory");
	}
	if (fd < 0)
		return ky_error_set(err, errno, "open state directory %s: %s", dir, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ky_error_set(err, errno, "stat state directory %s: %s", dir, strerror(errno));
	if (!ky_stat_trusted(&st))
		return ky_error_set(err, EPERM, "state directory %s is owned by uid %u with mode %04o: it must be "
				    "root's and not writable by group or others", dir, (unsigned)st.st_uid,
				    (unsigned)(st.st_mode & 07777));
	_cleanup_free_ struct ky_state_store *s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(dir)))
		return ky_error_set(err, ENOMEM, "open state directory %s: out of memory", dir);
	s->dirfd = TAKE_FD(fd);
	*out = TAKE_PTR(s);
	return 0;
}

void ky_state_close(struct ky_state_store *s)
{
	if (!s)
		return;
	close(s->dirfd);
	free(s->path);
	free(s);
}

static int unlink_name(struct ky_state_store *s, const char *key, enum name_kind kind)
{
	char name[NAME_SIZE];
	name_of(name, sizeof(name), key, kind);
	if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Opens and flocks the lock file, then checks that the path still names the
 * file we locked: a holder that unlinks it (unlock of a key with no record)
 * does so under the flock, so a waiter that wakes on the old inode retries on
 * a fresh one, and no two processes ever hold the key at once. */
static int lock_file(struct ky_state_store *s, const char *name, int flags, int *out)
{
	for (;;) {
		_cleanup_close_ int fd = openat(s->dirfd, name,
						O_RDWR | ((flags & KY_STATE_EXISTING) ? 0 : O_CREAT) | O_NOFOLLOW |
							O_CLOEXEC | O_NOCTTY,
						0600);
		if (fd < 0)
			return -errno;
		int op = LOCK_EX | ((flags & KY_STATE_NONBLOCK) ? LOCK_NB : 0);
		while (flock(fd, op) < 0)
			if (errno != EINTR)
				return -errno;
		struct stat held, now;
		if (fstat(fd, &held) < 0)
			return -errno;
		if (fstatat(s->dirfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT && (flags & KY_STATE_EXISTING))
				return -ENOENT; /* its holder removed it: nothing left to clean */
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
			*out = TAKE_FD(fd);
			return 0;
		}
	}
}

int ky_state_lock(struct ky_state_store *s, const char *key, int flags, struct ky_state_lock **out,
		  struct ky_error **err)
{
	int r = check_key(key, err);
	if (r < 0)
		return r;
	size_t len = strlen(key);
	_cleanup_free_ struct ky_state_lock *l = calloc(1, sizeof(*l) + len + 1);
	if (!l)
		return ky_error_set(err, ENOMEM, "lock state key %s: out of memory", key);
	memcpy(l->key, key, len + 1);
	l->s = s;

	char name[NAME_SIZE];
	name_of(name, sizeof(name), key, NAME_LOCK);
	r = lock_file(s, name, flags, &l->fd);
	if (r == -EWOULDBLOCK)
		return ky_error_set(err, EWOULDBLOCK, "state key %s is locked by another holder", key);
	if (r == -ENOENT && (flags & KY_STATE_EXISTING))
		return ky_error_set(err, ENOENT, "state key %s has no lock file", key);
	if (r < 0)
		return ky_error_set(err, -r, "lock %s/%s: %s", s->path, name, strerror(-r));
	/* Only a holder writes the temp file, so one seen now is a dead writer's. */
	r = unlink_name(s, key, NAME_TEMP);
	if (r < 0) {
		close(l->fd);
		return ky_error_set(err, -r, "remove stale temp of state key %s in %s: %s", key, s->path,
				    strerror(-r));
	}
	*out = TAKE_PTR(l);
	return 0;
}

void ky_state_unlock(struct ky_state_lock *l)
{
	if (!l)
		return;
	char name[NAME_SIZE];
	struct stat st;
	name_of(name, sizeof(name), l->key, NAME_RECORD);
	/* Unlinked while still held: see lock_file(). */
	if (fstatat(l->s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		unlink_name(l->s, l->key, NAME_LOCK);
	close(l->fd);
	free(l);
}

const char *ky_state_lock_key(const struct ky_state_lock *l)
{
	return l->key;
}

static int read_record(struct ky_state_store *s, const char *key, cJSON **out, struct ky_error **err)
{
	char name[NAME_SIZE];
	name_of(name, sizeof(name), key, NAME_RECORD);
	_cleanup_close_ int fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		return ky_error_set(err, ENOENT, "no state record %s/%s", s->path, name);
	if (fd < 0)
		return ky_error_set(err, errno, "open state record %s/%s: %s", s->path, name, strerror(errno));

	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = ky_read_all(fd, RECORD_MAX, &buf, &len);
	if (r == -EFBIG)
		return ky_error_set(err, EBADMSG, "corrupt state record %s/%s: larger than %u bytes", s->path,
				    name, RECORD_MAX);
	if (r < 0)
		return ky_error_set(err, -r, "read state record %s/%s: %s", s->path, name, strerror(-r));
	if (len == 0)
		return ky_error_set(err, EBADMSG, "corrupt state record %s/%s: empty file", s->path, name);
	if (strlen(buf) != len)
		return ky_error_set(err, EBADMSG, "corrupt state record %s/%s: NUL byte at offset %zu", s->path,
				    name, strlen(buf));
	const char *end = NULL;
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_ParseWithOpts(buf, &end, 1);
	if (!doc)
		return ky_error_set(err, EBADMSG, "corrupt state record %s/%s: invalid JSON at offset %zu",
				    s->path, name, end ? (size_t)(end - buf) : (size_t)0);
	if (!cJSON_IsObject(doc))
		return ky_error_set(err, EBADMSG, "corrupt state record %s/%s: not a JSON object", s->path,
				    name);
	*out = TAKE_PTR(doc);
	return 0;
}

int ky_state_read(struct ky_state_lock *l, cJSON **out, struct ky_error **err)
{
	return read_record(l->s, l->key, out, err);
}

int ky_state_get(struct ky_state_store *s, const char *key, cJSON **out, struct ky_error **err)
{
	int r = check_key(key, err);
	if (r < 0)
		return r;
	return read_record(s, key, out, err);
}

/* The temp file, then rename over the record (kyborg/base/fileio.h says
 * why a reader never sees a mix, and what durability adds). */
static int write_record(struct ky_state_lock *l, const cJSON *rec, bool durable, struct ky_error **err)
{
	struct ky_state_store *s = l->s;
	char tmp[NAME_SIZE], name[NAME_SIZE];
	name_of(tmp, sizeof(tmp), l->key, NAME_TEMP);
	name_of(name, sizeof(name), l->key, NAME_RECORD);
	if (!cJSON_IsObject(rec))
		return ky_error_set(err, EINVAL, "write state record %s/%s: not a JSON object", s->path, name);
	_cleanup_free_ char *text = cJSON_PrintUnformatted(rec);
	_cleanup_free_ char *line = NULL;
	if (!text || asprintf(&line, "%s\n", text) < 0)
		return ky_error_set(err, ENOMEM, "write state record %s/%s: out of memory", s->path, name);
	return ky_write_atomic_at(s->dirfd, s->path, tmp, name, line, strlen(line), 0600,
				  durable ? KY_WRITE_DURABLE : 0, err);
}

int ky_state_write(struct ky_state_lock *l, const cJSON *rec, struct ky_error **err)
{
	return write_record(l, rec, true, err);
}

int ky_state_write_fast(struct ky_state_lock *l, const cJSON *rec, struct ky_error **err)
{
	return write_record(l, rec, false, err);
}

int ky_state_mtime(struct ky_state_lock *l, struct timespec *out)
{
	char name[NAME_SIZE];
	struct stat st;
	name_of(name, sizeof(name), l->key, NAME_RECORD);
	if (fstatat(l->s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	*out = st.st_mtim;
	return 0;
}

static int delete_record(struct ky_state_lock *l, bool durable, struct ky_error **err)
{
	struct ky_state_store *s = l->s;
	int r = unlink_name(s, l->key, NAME_RECORD);
	if (r == 0)
		r = unlink_name(s, l->key, NAME_TEMP);
	if (r < 0)
		return ky_error_set(err, -r, "delete state record %s in %s: %s", l->key, s->path, strerror(-r));
	if (durable && fsync(s->dirfd) < 0)
		return ky_error_set(err, errno, "sync state directory %s: %s", s->path, strerror(errno));
	return 0;
}

int ky_state_delete(struct ky_state_lock *l, struct ky_error **err)
{
	return delete_record(l, true, err);
}

int ky_state_delete_fast(struct ky_state_lock *l, struct ky_error **err)
{
	return delete_record(l, false, err);
}

/* Whether a directory entry is a record, not a temp, lock or foreign file. */
static bool is_record_name(const char *name, size_t *keylen)
{
	char key[NAME_SIZE];
	size_t n = strlen(name);
	if (n <= 5 || n - 5 > KY_STATE_KEY_MAX || strcmp(name + n - 5, ".json") != 0)
		return false;
	memcpy(key, name, n - 5);
	key[n - 5] = '\0';
	*keylen = n - 5;
	return ky_state_key_valid(key);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ky_state_list(struct ky_state_store *s, char ***keys, size_t *n, struct ky_error **err)
{
	/* A fresh open, not a dup: a dup would share the directory offset. */
	int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ky_error_set(err, errno, "list state directory %s: %s", s->path, strerror(errno));
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return ky_error_set(err, errno, "list state directory %s: %s", s->path, strerror(errno));
	}
	char **v = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de)
			break;
		size_t klen;
		if (!is_record_name(de->d_name, &klen))
			continue;
		if (len == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(v[len] = strndup(de->d_name, klen)))
			goto oom;
		len++;
	}
	if (errno) {
		int e = errno;
		ky_state_keys_free(v, len);
		return ky_error_set(err, e, "list state directory %s: %s", s->path, strerror(e));
	}
	if (len)
		qsort(v, len, sizeof(*v), cmp_str);
	*keys = v;
	*n = len;
	return 0;
oom:
	ky_state_keys_free(v, len);
	return ky_error_set(err, ENOMEM, "list state directory %s: out of memory", s->path);
}

void ky_state_keys_free(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}
