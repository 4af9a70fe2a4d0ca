/* The state store: JSON records keyed by name in one directory, written
 * atomically (durably by default) and serialised per key across processes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "kyborg/base/cleanup.h"

struct ky_error;

/* An open state directory. Locks taken from it must be released first. */
struct ky_state_store;
/* A held per-key lock: the only way to read-modify-write or delete a record. */
struct ky_state_lock;

enum ky_state_lock_flags {
	KY_STATE_NONBLOCK = 1 << 0, /* -EWOULDBLOCK instead of waiting */
	KY_STATE_EXISTING = 1 << 1, /* -ENOENT instead of creating a lock file that is not there */
};

#define KY_STATE_KEY_MAX 200

/* Opens `dir`, creating it and missing parents with mode 0700. -ELOOP when
 * it is a symbolic link, -ENOTDIR when not a directory, -EPERM when it is
 * not root's (or the caller's) or is writable by group or others. */
int ky_state_open(const char *dir, struct ky_state_store **out, struct ky_error **err);
void ky_state_close(struct ky_state_store *s);

/* Pure. A key is 1..KY_STATE_KEY_MAX characters of [A-Za-z0-9_.:@-] and does
 * not start with '.'. With '/' excluded a key is always one path component,
 * and the leading-dot rule keeps "." and ".." out and keeps keys apart from
 * the store's own hidden temp and lock files; "a..b" is therefore harmless
 * and accepted. */
bool ky_state_key_valid(const char *key);

/* Takes the key's lock (flock on <dir>/.<key>.lock), waiting unless
 * KY_STATE_NONBLOCK, which gives -EWOULDBLOCK while another holder has it.
 * KY_STATE_EXISTING gives -ENOENT, without creating anything, when the lock
 * file is not there: the cheap way to clean up after a holder that died
 * (taking and releasing the lock removes a lock file left behind).
 * Locks are per open file, so a second lock of the same key in the same
 * process waits like any other process would. A temp file left by a writer
 * that died is removed here. */
int ky_state_lock(struct ky_state_store *s, const char *key, int flags, struct ky_state_lock **out,
		  struct ky_error **err);
/* Releases the lock; when the key has no record, its lock file goes too, so
 * keys that were only probed leave nothing behind. */
void ky_state_unlock(struct ky_state_lock *l);
const char *ky_state_lock_key(const struct ky_state_lock *l);

/* Reads the record: -ENOENT when there is none, -EBADMSG with
 * "corrupt state record <path>: <why>" when it is not a JSON object. */
int ky_state_read(struct ky_state_lock *l, cJSON **out, struct ky_error **err);
/* Replaces the record atomically (temp file, fsync, rename, fsync of the
 * directory): readers see the old record or the new one, never a mix.
 * The record must be a JSON object (-EINVAL otherwise). */
int ky_state_write(struct ky_state_lock *l, const cJSON *rec, struct ky_error **err);
/* Replaces the record atomically but not durably: temp file and rename, no
 * fsync. Atomic against the death of any process (SIGKILL included): the
 * page cache outlives processes, so every reader, now or after the writer
 * died, sees the old record or the new one, never a mix. Not durable: after
 * a power loss or kernel crash the record may be the old one, missing, or on
 * file systems that do not flush a file renamed over another (XFS, ext4
 * without auto_da_alloc) empty. Only for records whose loss or tearing by a
 * crash the caller tolerates, e.g. a journal of kernel state that a reboot
 * wipes anyway; one ky_state_write afterwards makes the latest record
 * durable. Same errors as ky_state_write. */
int ky_state_write_fast(struct ky_state_lock *l, const cJSON *rec, struct ky_error **err);
/* When the record was last written (its file's mtime): 0, or -ENOENT when
 * there is none, or -errno. */
int ky_state_mtime(struct ky_state_lock *l, struct timespec *out);
/* Removes the record and any temp file; succeeds when there was none. The
 * lock file is removed by ky_state_unlock, not here: unlinking it while the
 * caller still holds the lock would let another process lock the key anew. */
int ky_state_delete(struct ky_state_lock *l, struct ky_error **err);
/* The same without the directory's fsync: the removal survives any
 * process's death, but a power loss or kernel crash may bring the record
 * back. Only for records whose return the caller tolerates. */
int ky_state_delete_fast(struct ky_state_lock *l, struct ky_error **err);

/* Lock-free read of a key's record, same results as ky_state_read. */
int ky_state_get(struct ky_state_store *s, const char *key, cJSON **out, struct ky_error **err);
/* The keys that have records, sorted; temp, lock and foreign files are not
 * keys. *keys is NULL when *n is 0. */
int ky_state_list(struct ky_state_store *s, char ***keys, size_t *n, struct ky_error **err);
void ky_state_keys_free(char **keys, size_t n);

KY_DEFINE_CLEANUP(struct ky_state_store, ky_state_close)
KY_DEFINE_CLEANUP(struct ky_state_lock, ky_state_unlock)
