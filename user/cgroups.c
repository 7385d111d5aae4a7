// SPDX-License-Identifier: GPL-2.0
/*
 * cgroups.c - cgroup ids to paths and workload names (see cgroups.h).
 *
 * The cache maps an id to its path and workload name, or to nothing for an
 * id that a walk did not find. Ids are never reused while the system runs
 * (a removed cgroup's id is gone for good), so an entry never goes stale:
 * a path learnt before its cgroup was removed stays right for its sockets.
 * A walk reads every directory of the mount (one fstatat each): cgroups
 * number in the hundreds or thousands, a walk takes a millisecond or so,
 * and it happens only when a socket of a cgroup not seen before closes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroups.h"
#include "u64map.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG_MAX_ENTRIES 65536 /* cgroups remembered; past that, ids are shown as such */
#define CG_MAX_DEPTH 32
#define CG_PATH_MAX 4096

struct cg_entry {
	char *path; /* NULL: not found */
	char *workload; /* NULL: none */
};

struct cgroups {
	char root[CG_PATH_MAX];
	struct u64map *map;
	uint64_t walks;
};

int cg_find_mount(const char *mountinfo, bool (*usable)(const char *mp), char *out, size_t len)
{
	char line[4096];
	FILE *f = fopen(mountinfo, "re");
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mountpoint options [optional...] - fstype ... */
		char *sep = strstr(line, " - "), *save = NULL, *mp;
		int field = 0;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		for (mp = strtok_r(line, " ", &save); mp && field < 4; field++)
			mp = strtok_r(NULL, " ", &save);
		if (!mp || strlen(mp) >= len)
			continue;
		/* mountinfo escapes space, tab, newline and backslash as \ooo */
		size_t o = 0;

		for (size_t i = 0; mp[i]; i++) {
			if (mp[i] == '\\' && mp[i + 1] >= '0' && mp[i + 1] <= '3' &&
			    mp[i + 2] >= '0' && mp[i + 2] <= '7' && mp[i + 3] >= '0' &&
			    mp[i + 3] <= '7') {
				out[o++] = (char)((unsigned int)(mp[i + 1] - '0') << 6 |
						  (unsigned int)(mp[i + 2] - '0') << 3 |
						  (unsigned int)(mp[i + 3] - '0'));
				i += 3;
			} else {
				out[o++] = mp[i];
			}
		}
		out[o] = 0;
		if (usable && !usable(out))
			continue;
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/*
 * A cgroup2 mount that a path lookup reaches: mountinfo also lists mounts
 * covered by a later one (a tmpfs over /sys/fs/cgroup hides the hybrid
 * layout's unified/ and a pure v2 root alike).
 */
static bool reachable_cgroup2(const char *mp)
{
	struct statfs sf;

	return !statfs(mp, &sf) && sf.f_type == CGROUP2_SUPER_MAGIC;
}

struct cgroups *cg_new(const char *root)
{
	struct cgroups *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->map = u64map_new(CG_MAX_ENTRIES);
	if (!c->map) {
		free(c);
		return NULL;
	}
	if (root)
		snprintf(c->root, sizeof(c->root), "%s", root);
	else if (cg_find_mount("/proc/self/mountinfo", reachable_cgroup2, c->root, sizeof(c->root)))
		c->root[0] = 0;
	/* "/sys/fs/cgroup/" and "/sys/fs/cgroup" alike */
	for (size_t n = strlen(c->root); n > 1 && c->root[n - 1] == '/'; n--)
		c->root[n - 1] = 0;
	return c;
}

static void free_entry(uint64_t key, void *val, void *ctx)
{
	struct cg_entry *e = val;

	free(e->path);
	free(e->workload);
	free(e);
}

void cg_free(struct cgroups *c)
{
	if (!c)
		return;
	u64map_each(c->map, free_entry, NULL);
	u64map_free(c->map);
	free(c);
}

const char *cg_root(const struct cgroups *c)
{
	return c->root;
}

const char *cg_shown(struct cgroups *c, uint64_t id, char *buf, size_t len)
{
	const char *p;

	/* no mount: nothing to say of an id (a replay's may be another host's) */
	if (!c || !id || !c->root[0])
		return NULL;
	p = cg_path(c, id);
	if (p)
		return p;
	snprintf(buf, len, "%llu", (unsigned long long)id);
	return buf;
}

uint64_t cg_walks(const struct cgroups *c)
{
	return c->walks;
}

/* Remember id at path (NULL: not found); a known path is kept. */
static struct cg_entry *remember(struct cgroups *c, uint64_t id, const char *path)
{
	struct cg_entry *e = u64map_get(c->map, id);
	char name[256];

	if (e && (e->path || !path))
		return e;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		if (u64map_put(c->map, id, e)) {
			free(e);
			return NULL;
		}
	}
	if (path) {
		e->path = strdup(path);
		if (cg_workload_name(path, name, sizeof(name)))
			e->workload = strdup(name);
	}
	return e;
}

/* Every directory below fd0 (whose path below the root is rel), depth-first; fd0 is closed. */
static void walk(struct cgroups *c, int fd0, char *rel, size_t rlen, int depth)
{
	DIR *d = fdopendir(fd0);
	struct dirent *de;

	if (!d) {
		close(fd0);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		size_t n = strlen(de->d_name);
		int fd;

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(st.st_mode) || rlen + 1 + n >= CG_PATH_MAX)
			continue;
		rel[rlen] = '/';
		memcpy(rel + rlen + 1, de->d_name, n + 1);
		remember(c, st.st_ino, rel);
		if (depth < CG_MAX_DEPTH) {
			fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0)
				walk(c, fd, rel, rlen + 1 + n, depth + 1);
		}
		rel[rlen] = 0;
	}
	closedir(d);
}

static void walk_all(struct cgroups *c)
{
	char rel[CG_PATH_MAX] = "";
	struct stat st;
	int fd;

	c->walks++;
	fd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (!fstat(fd, &st))
		remember(c, st.st_ino, "/");
	walk(c, fd, rel, 0, 0);
}

static struct cg_entry *entry(struct cgroups *c, uint64_t id)
{
	struct cg_entry *e;

	if (!id || !c || !c->root[0])
		return NULL;
	e = u64map_get(c->map, id);
	if (e)
		return e;
	walk_all(c);
	e = u64map_get(c->map, id);
	return e ? e : remember(c, id, NULL);
}

const char *cg_path(struct cgroups *c, uint64_t id)
{
	struct cg_entry *e = entry(c, id);

	return e ? e->path : NULL;
}

const char *cg_workload(struct cgroups *c, uint64_t id)
{
	struct cg_entry *e = entry(c, id);

	return e ? e->workload : NULL;
}

int cg_lookup(struct cgroups *c, const char *arg, uint64_t *id, uint32_t *level, char *err,
	      size_t errlen)
{
	size_t rl = strlen(c->root);
	char full[CG_PATH_MAX];
	const char *rel = arg;
	struct statfs sf;
	struct stat st;
	uint32_t depth = 0;

	if (!c->root[0]) {
		snprintf(err, errlen, "--cgroup %s: no cgroup2 file system is mounted", arg);
		return -1;
	}
	if (!strncmp(arg, c->root, rl) && (arg[rl] == '/' || !arg[rl]))
		rel = arg + rl;
	if (snprintf(full, sizeof(full), "%s/%s", c->root, rel) >= (int)sizeof(full)) {
		snprintf(err, errlen, "--cgroup: path too long");
		return -1;
	}
	errno = 0;
	if (stat(full, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--cgroup %s: no such cgroup (%s: %s)", arg, full,
			 errno ? strerror(errno) : "not a directory");
		return -1;
	}
	if (statfs(full, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(err, errlen, "--cgroup %s: %s is not in the cgroup2 file system", arg,
			 full);
		return -1;
	}
	/* the depth: components of the real path below the root */
	char *real = realpath(full, NULL), *rr = real ? realpath(c->root, NULL) : NULL;

	if (!real || !rr || strncmp(real, rr, strlen(rr))) {
		snprintf(err, errlen, "--cgroup %s: not below the cgroup2 root %s", arg, c->root);
		free(real);
		free(rr);
		return -1;
	}
	for (const char *p = real + strlen(rr); *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			depth++;
	free(real);
	free(rr);
	*id = st.st_ino;
	*level = depth;
	return 0;
}

/* ---- workload names ---- */

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool ends_with(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && !memcmp(s + n - k, suf, k);
}

#define CONTAINER_HEX 64
#define SHORT_HEX 12

/*
 * A container in component s (n bytes; parent: the component before it, or
 * NULL): its runtime and where its id starts, or NULL.
 */
static const char *container_of(const char *s, size_t n, const char *parent, size_t pn,
				const char **hex)
{
	static const struct {
		const char *prefix, *runtime;
	} scopes[] = {
		{ "docker-", "docker" },
		{ "cri-containerd-", "containerd" },
		{ "crio-", "crio" },
		{ "libpod-", "podman" },
	};

	if (n == CONTAINER_HEX && all_hex(s, n)) {
		*hex = s;
		if (parent && pn == 6 && !memcmp(parent, "docker", 6))
			return "docker";
		return "container";
	}
	if (!ends_with(s, n, ".scope"))
		return NULL;
	n -= 6;
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		size_t k = strlen(scopes[i].prefix);

		if (n == k + CONTAINER_HEX && !memcmp(s, scopes[i].prefix, k) &&
		    all_hex(s + k, CONTAINER_HEX)) {
			*hex = s + k;
			return scopes[i].runtime;
		}
	}
	return NULL;
}

/* A pod's uid in component s, copied to uid (dashes, as Kubernetes shows it). */
static bool pod_of(const char *s, size_t n, bool under_kubepods, char *uid, size_t ulen)
{
	const char *p = NULL;
	size_t k = 0;

	if (n > 9 + 6 && !memcmp(s, "kubepods-", 9) && ends_with(s, n, ".slice")) {
		/* kubepods-pod<uid>.slice, kubepods-<qos>-pod<uid>.slice */
		for (size_t i = 9; i + 3 < n - 6; i++) {
			if (!memcmp(s + i, "pod", 3) && s[i - 1] == '-') {
				p = s + i + 3;
				k = n - 6 - (i + 3);
			}
		}
	} else if (under_kubepods && n > 3 && !memcmp(s, "pod", 3)) {
		p = s + 3;
		k = n - 3;
	}
	if (!p || !k || k >= ulen)
		return false;
	for (size_t i = 0; i < k; i++) {
		char ch = p[i] == '_' ? '-' : p[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || ch == '-'))
			return false;
		uid[i] = ch;
	}
	uid[k] = 0;
	return true;
}

size_t cg_workload_name(const char *path, char *buf, size_t len)
{
	const char *comp[CG_MAX_DEPTH * 4];
	size_t clen[CG_MAX_DEPTH * 4];
	int n = 0, svc = -1, scope = -1;
	const char *runtime = NULL, *hex = NULL;
	bool kubepods = false, pod = false;
	char uid[64];
	int w = 0;

	if (!len)
		return 0;
	buf[0] = 0;
	for (const char *p = path; *p && n < (int)(sizeof(comp) / sizeof(comp[0]));) {
		const char *e;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		if (!e)
			e = p + strlen(p);
		comp[n] = p;
		clen[n++] = e - p;
		p = e;
	}
	if (!n)
		return 0;
	for (int i = 0; i < n; i++) {
		const char *h;
		const char *rt;

		if ((clen[i] == 8 && !memcmp(comp[i], "kubepods", 8)) ||
		    (clen[i] >= 9 && !memcmp(comp[i], "kubepods.", 9)) ||
		    (clen[i] >= 9 && !memcmp(comp[i], "kubepods-", 9)))
			kubepods = true;
		if (!pod && pod_of(comp[i], clen[i], kubepods, uid, sizeof(uid)))
			pod = true;
		rt = container_of(comp[i], clen[i], i ? comp[i - 1] : NULL, i ? clen[i - 1] : 0,
				  &h);
		/* the outermost container: what runs inside is part of it */
		if (rt && !runtime) {
			runtime = rt;
			hex = h;
		}
		if (ends_with(comp[i], clen[i], ".service"))
			svc = i;
		else if (ends_with(comp[i], clen[i], ".scope"))
			scope = i;
	}
	if (pod || runtime) {
		if (pod)
			w = snprintf(buf, len, "pod:%s%s", uid, runtime ? "/" : "");
		if (runtime && w >= 0 && (size_t)w < len)
			w += snprintf(buf + w, len - w, "%s:%.*s", runtime, SHORT_HEX, hex);
	} else {
		int i = svc >= 0 ? svc : scope >= 0 ? scope : n - 1;

		w = snprintf(buf, len, "%.*s", (int)clen[i], comp[i]);
	}
	if (w < 0)
		return 0;
	return (size_t)w < len ? (size_t)w : len - 1;
}
