// SPDX-License-Identifier: GPL-2.0
/*
 * test_cgroups.c - cgroup paths to workload names (every runtime's naming),
 * the id -> path cache over a directory tree made here (any file system:
 * the ids are inode numbers), and the mountinfo parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups.h"
#include "unit.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "1b2c3d4e-0000-4111-8222-333344445555"
#define UID_ "1b2c3d4e_0000_4111_8222_333344445555"

static void test_names(void)
{
	static const struct {
		const char *path, *want;
	} cases[] = {
		{ "/", "" },
		{ "", "" },
		{ "/system.slice/nginx.service", "nginx.service" },
		{ "/system.slice/nginx.service/worker", "nginx.service" },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
		  "foo.service" },
		{ "/user.slice/user-1000.slice/session-3.scope", "session-3.scope" },
		{ "/system.slice", "system.slice" },
		{ "/tcpphase-test/plain", "plain" },
		/* docker: systemd and cgroupfs drivers */
		{ "/system.slice/docker-" HEX64 ".scope", "docker:0123456789ab" },
		{ "/docker/" HEX64, "docker:0123456789ab" },
		/* containerd, CRI-O, podman */
		{ "/system.slice/cri-containerd-" HEX64 ".scope", "containerd:0123456789ab" },
		{ "/machine.slice/crio-" HEX64 ".scope", "crio:0123456789ab" },
		{ "/machine.slice/libpod-" HEX64 ".scope", "podman:0123456789ab" },
		{ "/machine.slice/libpod-" HEX64 ".scope/container", "podman:0123456789ab" },
		/* not a container: conmon, a short id, capitals */
		{ "/machine.slice/libpod-conmon-" HEX64 ".scope", "libpod-conmon-" HEX64 ".scope" },
		{ "/system.slice/docker-0123.scope", "docker-0123.scope" },
		/* Kubernetes, systemd driver: QoS classes, with and without a container */
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		  ".slice/cri-containerd-" HEX64 ".scope",
		  "pod:" UID "/containerd:0123456789ab" },
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		  ".slice/crio-" HEX64 ".scope",
		  "pod:" UID "/crio:0123456789ab" },
		{ "/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" HEX64 ".scope",
		  "pod:" UID "/docker:0123456789ab" },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice",
		  "pod:" UID },
		{ "/kubepods.slice/kubepods-burstable.slice", "kubepods-burstable.slice" },
		/* Kubernetes, cgroupfs driver */
		{ "/kubepods/burstable/pod" UID "/" HEX64, "pod:" UID "/container:0123456789ab" },
		{ "/kubepods/pod" UID "/" HEX64, "pod:" UID "/container:0123456789ab" },
		/* a pod-like name outside kubepods is not a pod */
		{ "/podcast", "podcast" },
		/* a service inside a container is the container's */
		{ "/system.slice/docker-" HEX64 ".scope/system.slice/nginx.service",
		  "docker:0123456789ab" },
		{ "//system.slice//nginx.service/", "nginx.service" },
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cg_workload_name(cases[i].path, buf, sizeof(buf));

		if (!ASSERT_STREQ(buf, cases[i].want, cases[i].path))
			continue;
		ASSERT_EQ(n, strlen(cases[i].want), "length");
	}
	/* cut to the buffer, always terminated */
	ASSERT_EQ(cg_workload_name("/system.slice/nginx.service", buf, 6), 5, "cut");
	ASSERT_STREQ(buf, "nginx", "cut name");
	ASSERT_EQ(cg_workload_name("/x", buf, 0), 0, "no room");
}

static char root[256];

static void mkdirs(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	ASSERT_OK(mkdir(p, 0755), p);
}

static uint64_t ino(const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	if (stat(p, &st))
		return 0;
	return st.st_ino;
}

static void test_cache(void)
{
	struct cgroups *c;
	uint64_t svc, pod, late, gone;
	char p[512], buf[32];

	snprintf(root, sizeof(root), "/tmp/test_cgroups.XXXXXX");
	if (!ASSERT_OK_PTR(mkdtemp(root), "mkdtemp"))
		return;
	mkdirs("/system.slice");
	mkdirs("/system.slice/web.service");
	mkdirs("/kubepods.slice");
	mkdirs("/kubepods.slice/kubepods-pod" UID_ ".slice");
	mkdirs("/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" HEX64 ".scope");
	mkdirs("/gone");
	svc = ino("/system.slice/web.service");
	pod = ino("/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" HEX64 ".scope");
	gone = ino("/gone");
	c = cg_new(root);
	if (!ASSERT_OK_PTR(c, "cg_new"))
		return;

	if (SUBTEST("resolved by one walk")) {
		ASSERT_STREQ(cg_path(c, svc), "/system.slice/web.service", "service path");
		ASSERT_STREQ(cg_workload(c, svc), "web.service", "service workload");
		ASSERT_EQ(cg_walks(c), 1, "one walk");
		ASSERT_STREQ(cg_path(c, pod),
			     "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" HEX64
			     ".scope",
			     "container path");
		ASSERT_STREQ(cg_workload(c, pod), "pod:" UID "/containerd:0123456789ab",
			     "container workload");
		ASSERT_STREQ(cg_path(c, ino("")), "/", "root");
		ASSERT_NULL(cg_workload(c, ino("")), "root has no workload");
		ASSERT_EQ(cg_walks(c), 1, "still one walk");
		ASSERT_NULL(cg_path(c, 0), "id 0");
		ASSERT_EQ(cg_walks(c), 1, "id 0 walks nothing");
	}

	if (SUBTEST("a new cgroup: one more walk")) {
		mkdirs("/system.slice/late.service");
		late = ino("/system.slice/late.service");
		ASSERT_STREQ(cg_path(c, late), "/system.slice/late.service", "late path");
		ASSERT_EQ(cg_walks(c), 2, "second walk");
	}

	/* last of the walks: tmpfs reuses a removed directory's inode, cgroupfs never an id */
	if (SUBTEST("removed after it was resolved: kept")) {
		snprintf(p, sizeof(p), "%s/gone", root);
		ASSERT_STREQ(cg_path(c, gone), "/gone", "known");
		ASSERT_OK(rmdir(p), "rmdir");
		ASSERT_STREQ(cg_path(c, gone), "/gone", "still known");
	}

	if (SUBTEST("unknown id: one walk, then remembered")) {
		uint64_t w = cg_walks(c), unknown = 0x7fffffffffffULL;

		ASSERT_NULL(cg_path(c, unknown), "unknown");
		ASSERT_NULL(cg_workload(c, unknown), "no workload");
		ASSERT_EQ(cg_walks(c), w + 1, "walked once");
		ASSERT_NULL(cg_path(c, unknown), "still unknown");
		ASSERT_EQ(cg_walks(c), w + 1, "not again");
		ASSERT_STREQ(cg_shown(c, unknown, buf, sizeof(buf)), "140737488355327",
			     "shown as its id");
		ASSERT_STREQ(cg_shown(c, svc, buf, sizeof(buf)), "/system.slice/web.service",
			     "shown as its path");
		ASSERT_NULL(cg_shown(c, 0, buf, sizeof(buf)), "0 shown as nothing");
		ASSERT_NULL(cg_shown(NULL, svc, buf, sizeof(buf)), "no table");
	}

	if (SUBTEST("lookup refuses what is not cgroup2")) {
		uint64_t id;
		uint32_t level;
		char err[512];

		ASSERT_ERR(cg_lookup(c, "/system.slice", &id, &level, err, sizeof(err)),
			   "not cgroup2");
		ASSERT_TRUE(strstr(err, "not in the cgroup2 file system") != NULL, err);
		ASSERT_ERR(cg_lookup(c, "/nope", &id, &level, err, sizeof(err)), "missing");
		ASSERT_TRUE(strstr(err, "no such cgroup") != NULL, err);
		ASSERT_TRUE(strchr(err, '\n') == NULL, "one line");
	}
	cg_free(c);

	if (SUBTEST("no mount: nothing resolves")) {
		struct cgroups *none = cg_new("");
		uint64_t id;
		uint32_t level;
		char err[256];

		ASSERT_STREQ(cg_root(none), "", "no root");
		ASSERT_NULL(cg_path(none, svc), "no path");
		ASSERT_NULL(cg_workload(none, svc), "no workload");
		ASSERT_NULL(cg_shown(none, svc, buf, sizeof(buf)), "no cgroup column");
		ASSERT_EQ(cg_walks(none), 0, "no walk");
		ASSERT_ERR(cg_lookup(none, "/x", &id, &level, err, sizeof(err)), "lookup");
		ASSERT_TRUE(strstr(err, "no cgroup2 file system is mounted") != NULL, err);
		cg_free(none);
	}
	snprintf(p, sizeof(p), "rm -rf '%s'", root);
	ASSERT_OK(system(p), "cleanup");
}

/* Write text to the mountinfo file at path. */
static void put_mountinfo(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static const char *hidden_mp; /* the mount point "covered by another mount" */

static bool not_hidden(const char *mp)
{
	return strcmp(mp, hidden_mp);
}

static void test_mountinfo(void)
{
	char path[] = "/tmp/test_cgroups_mi.XXXXXX", out[256];
	int fd = mkstemp(path);

	if (!ASSERT_GE(fd, 0, "mkstemp"))
		return;
	close(fd);
	if (SUBTEST("hybrid: the unified mount, unescaped")) {
		put_mountinfo(path,
			      "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
			      "29 22 0:25 / /sys/fs/cgroup ro shared:8 - tmpfs tmpfs ro,mode=755\n"
			      "30 29 0:26 / /sys/fs/cgroup/cpu rw shared:9 - cgroup cgroup rw,cpu\n"
			      "31 29 0:27 / /sys/fs/cgroup/uni\\040fied rw,relatime shared:10 - "
			      "cgroup2 cgroup2 rw\n"
			      "32 22 0:28 / /other rw - cgroup2 cgroup2 rw\n");
		ASSERT_OK(cg_find_mount(path, NULL, out, sizeof(out)), "found");
		ASSERT_STREQ(out, "/sys/fs/cgroup/uni fied", "first cgroup2, unescaped");
	}
	if (SUBTEST("pure v2: /sys/fs/cgroup")) {
		put_mountinfo(path, "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
				    "27 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:4 - "
				    "cgroup2 cgroup2 rw,nsdelegate\n");
		ASSERT_OK(cg_find_mount(path, NULL, out, sizeof(out)), "found");
		ASSERT_STREQ(out, "/sys/fs/cgroup", "v2 root");
	}
	if (SUBTEST("a covered mount is passed over")) {
		put_mountinfo(path, "27 22 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
				    "28 22 0:24 / /mnt/cg rw - cgroup2 cgroup2 rw\n"
				    "40 27 0:50 / /sys/fs/cgroup rw - tmpfs none rw\n");
		hidden_mp = "/sys/fs/cgroup";
		ASSERT_OK(cg_find_mount(path, not_hidden, out, sizeof(out)), "found");
		ASSERT_STREQ(out, "/mnt/cg", "the reachable one");
		hidden_mp = "/mnt/cg";
		ASSERT_OK(cg_find_mount(path, not_hidden, out, sizeof(out)), "found");
		ASSERT_STREQ(out, "/sys/fs/cgroup", "the first");
	}
	if (SUBTEST("none")) {
		put_mountinfo(path, "27 22 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
		hidden_mp = "/sys/fs/cgroup";
		ASSERT_ERR(cg_find_mount(path, not_hidden, out, sizeof(out)), "all covered");
		put_mountinfo(path, "30 22 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n");
		ASSERT_ERR(cg_find_mount(path, NULL, out, sizeof(out)), "v1 only");
		put_mountinfo(path, "");
		ASSERT_ERR(cg_find_mount(path, NULL, out, sizeof(out)), "empty");
		ASSERT_ERR(cg_find_mount("/nonexistent/mountinfo", NULL, out, sizeof(out)),
			   "no file");
	}
	unlink(path);
}

int main(int argc, char **argv)
{
	unit_init(argc, argv);
	RUN_TEST(test_names);
	RUN_TEST(test_cache);
	RUN_TEST(test_mountinfo);
	return unit_summary();
}
