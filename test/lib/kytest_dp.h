/* The device-plugin kubelet stand-in's ListAndWatch stream
 * (test/grpc/dp_kubelet.py watch): each message one JSON line on a pipe,
 * read with a deadline. The child is killed in teardown by
 * kyt_children_kill_all(). */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>

struct kyt_child;

struct kyt_dp_watcher {
	struct kyt_child *c;
	int fd; /* the pipe's read end: the caller closes it */
	char buf[65536];
	size_t len;
};

/* Starts /usr/bin/python3 script watch sock desc messages: it follows the
 * ListAndWatch stream of the plugin at sock for `messages` messages (desc:
 * the API's descriptor set). Asserts on failure. */
void kyt_dp_watch_start(struct kyt_dp_watcher *w, const char *script, const char *sock, const char *desc,
			int messages);
/* The next ListAndWatch message within timeout_ms (asserts otherwise); the
 * caller frees it. */
cJSON *kyt_dp_watch_next(struct kyt_dp_watcher *w, int timeout_ms);
