/* BPF fixtures; see kytest_bpf.h. */
#include "kytest_bpf.h"

#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

__u32 kyt_bpf_pinned_prog_id(const char *path)
{
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	memset(&info, 0, sizeof(info));
	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0, "info of %s", path);
	close(fd);
	return info.id;
}

bool kyt_bpf_prog_gone(void *arg)
{
	int fd = bpf_prog_get_fd_by_id(*(__u32 *)arg);
	if (fd >= 0)
		close(fd);
	return fd < 0;
}
