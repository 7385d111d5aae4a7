// SPDX-License-Identifier: GPL-2.0
/*
 * bpfstats.c - read the loss and cost figures of our BPF programs and maps
 * so that nothing is lost silently: bpf_prog_info's recursion_misses is the
 * kernel's count of runs it skipped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfstats.h"

int prog_stats_read(int prog_fd, struct prog_stats *s)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	s->recursion_misses = info.recursion_misses;
	s->run_cnt = info.run_cnt;
	s->run_time_ns = info.run_time_ns;
	return 0;
}

int percpu_counters_read(int map_fd, uint64_t *vals, int n)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *per;

	if (ncpu <= 0)
		return -EINVAL;
	per = calloc(ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		__u32 key = i;

		vals[i] = 0;
		if (bpf_map_lookup_elem(map_fd, &key, per)) {
			free(per);
			return -errno;
		}
		for (int c = 0; c < ncpu; c++)
			vals[i] += per[c];
	}
	free(per);
	return 0;
}
