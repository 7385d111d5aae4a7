/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpfstats.h - what the kernel knows about our programs' losses and cost:
 * recursion misses, run counts and run time (with kernel.bpf_stats_enabled).
 */
#ifndef __BPFSTATS_H
#define __BPFSTATS_H

#include <stdint.h>

struct prog_stats {
	uint64_t recursion_misses;
	uint64_t run_cnt;
	uint64_t run_time_ns;
};

/* 0 or -errno. */
int prog_stats_read(int prog_fd, struct prog_stats *s);

/* Sum a per-CPU array of u64 counters, slot by slot: vals[n]. 0 or -errno. */
int percpu_counters_read(int map_fd, uint64_t *vals, int n);

#endif /* __BPFSTATS_H */
