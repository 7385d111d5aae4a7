// SPDX-License-Identifier: GPL-2.0
/*
 * hookcount - attach every program of hookcount.bpf.o that this kernel
 * takes (each loaded on its own, so that one hook the kernel refuses costs
 * only itself), turn bpf_stats on, run a command, then print per program
 * its run count, run time and recursion misses over that command.
 *
 * Usage: hookcount OBJ CMD [ARG...]
 * Prints "hook NAME runs=N ns=N misses=N" or "hook NAME unavailable: why".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define MAX_PROGS 32

struct hook {
	char name[64];
	struct bpf_object *obj;
	int fd;
	const char *why;
};

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

/* Load and attach program number idx of obj_path alone; NULL why if it runs. */
static void hook_open(struct hook *h, const char *obj_path, int idx)
{
	struct bpf_program *p, *mine = NULL;
	int i = 0;

	h->fd = -1;
	h->obj = bpf_object__open_file(obj_path, NULL);
	if (!h->obj) {
		h->why = "cannot open the object";
		return;
	}
	bpf_object__for_each_program(p, h->obj) {
		bpf_program__set_autoload(p, i == idx);
		if (i++ == idx)
			mine = p;
	}
	snprintf(h->name, sizeof(h->name), "%s", bpf_program__name(mine));
	if (bpf_object__load(h->obj))
		h->why = "not loaded (no such function or hook here)";
	else if (!bpf_program__attach(mine))
		h->why = "loaded, not attached";
	else
		h->fd = bpf_program__fd(mine);
}

int main(int argc, char **argv)
{
	struct hook hooks[MAX_PROGS] = {};
	struct bpf_object *obj;
	struct bpf_program *p;
	int n = 0, stats_fd, status;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: hookcount OBJ CMD [ARG...]\n");
		return 2;
	}
	libbpf_set_print(quiet);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "hookcount: cannot open %s\n", argv[1]);
		return 1;
	}
	bpf_object__for_each_program(p, obj)
		n++;
	bpf_object__close(obj);
	if (n > MAX_PROGS) {
		fprintf(stderr, "hookcount: %d programs, at most %d\n", n, MAX_PROGS);
		return 1;
	}
	for (int i = 0; i < n; i++)
		hook_open(&hooks[i], argv[1], i);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "hookcount: cannot enable bpf_stats: %s\n", strerror(errno));
		return 1;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "hookcount: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		fprintf(stderr, "hookcount: cannot run %s\n", argv[2]);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (hooks[i].why || bpf_obj_get_info_by_fd(hooks[i].fd, &info, &len)) {
			printf("hook %s unavailable: %s\n", hooks[i].name,
			       hooks[i].why ? hooks[i].why : "no info");
			continue;
		}
		printf("hook %s runs=%llu ns=%llu misses=%llu\n", hooks[i].name,
		       (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns,
		       (unsigned long long)info.recursion_misses);
	}
	for (int i = 0; i < n; i++)
		bpf_object__close(hooks[i].obj);
	close(stats_fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
