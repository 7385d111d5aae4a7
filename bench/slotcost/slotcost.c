// SPDX-License-Identifier: GPL-2.0
/*
 * slotcost - load slotcost.bpf.o, attach the programs named on the command
 * line in that order (the order they run in on each event), wait for
 * SIGINT, print each one's run_cnt, run_time_ns and ns per run (with
 * kernel.bpf_stats_enabled=1).  Usage: slotcost OBJ PROG...
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *p;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: slotcost OBJ PROG...\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj)
		return 1;
	bpf_object__for_each_program(p, obj) {
		int want = 0;

		for (i = 2; i < argc; i++)
			want |= !strcmp(bpf_program__name(p), argv[i]);
		bpf_program__set_autoload(p, want);
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "slotcost: load failed\n");
		return 1;
	}
	for (i = 2; i < argc; i++) {
		p = bpf_object__find_program_by_name(obj, argv[i]);
		if (!p || !bpf_program__attach(p)) {
			fprintf(stderr, "slotcost: cannot attach %s\n", argv[i]);
			return 1;
		}
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	printf("attached\n");
	fflush(stdout);
	while (!stop)
		pause();
	for (i = 2; i < argc; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		p = bpf_object__find_program_by_name(obj, argv[i]);
		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			continue;
		printf("%s run_cnt=%llu run_time_ns=%llu ns_per_run=%.1f\n", argv[i],
		       (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns,
		       info.run_cnt ? (double)info.run_time_ns / info.run_cnt : 0.0);
	}
	bpf_object__close(obj);
	return 0;
}
