/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroups.h - cgroup (v2) ids to paths and workload names.
 *
 * The BPF side gives each socket's cgroup as its id: the kernfs node id,
 * which is the inode number of the cgroup's directory in the cgroup2 file
 * system. Here ids become paths below the cgroup2 root ("/" for the root,
 * "/system.slice/nginx.service") through a cache filled by walking the
 * mount, again each time an id not yet known appears; an id that no walk
 * finds (a cgroup removed before it was resolved) is remembered as such and
 * keeps its id. And a path becomes a name a person recognises (see
 * cg_workload_name).
 *
 * Strings returned are owned by the table and live until cg_free().
 */
#ifndef __CGROUPS_H
#define __CGROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cgroups;

/*
 * A table over the cgroup2 file system mounted at root, or when root is
 * NULL the first cgroup2 mount in /proc/self/mountinfo that a lookup reaches
 * (not covered by another mount). With none (root ""
 * or nothing mounted) every id resolves to NULL. NULL only when out of memory.
 */
struct cgroups *cg_new(const char *root);
void cg_free(struct cgroups *c);
/* The mount used, "" if none. */
const char *cg_root(const struct cgroups *c);

/*
 * The path of id below the root, or NULL for id 0 or an id no walk found.
 * An unknown id walks the mount once (at most once per id).
 */
const char *cg_path(struct cgroups *c, uint64_t id);
/* cg_workload_name of that path; NULL where cg_path is NULL or no name fits. */
const char *cg_workload(struct cgroups *c, uint64_t id);
/*
 * The cgroup column: the path, or for an id that no walk found its number
 * in decimal (in buf); NULL for id 0, when c is NULL or no mount was found.
 */
const char *cg_shown(struct cgroups *c, uint64_t id, char *buf, size_t len);
/* How many walks of the mount were made (tests). */
uint64_t cg_walks(const struct cgroups *c);

/*
 * A --cgroup argument: a directory of the cgroup2 mount, given as a path of
 * the file system ("/sys/fs/cgroup/unified/system.slice") or below its root
 * ("/system.slice", as /proc/PID/cgroup shows it). Gives its id and depth
 * (the root's is 0). 0, or -1 with one line in err.
 */
int cg_lookup(struct cgroups *c, const char *arg, uint64_t *id, uint32_t *level, char *err,
	      size_t errlen);

/*
 * The workload a cgroup path names, written to buf (NUL-terminated, cut to
 * len); returns the length, 0 when nothing fits (the root). In order:
 *  - a Kubernetes pod (kubepods-<qos>-pod<uid>.slice, or pod<uid> under
 *    kubepods with the cgroupfs driver): "pod:<uid>", followed by
 *    "/<container>" when the path also names its container;
 *  - a container: "<runtime>:<first 12 hex digits of its id>", runtime
 *    docker (docker-<id>.scope, /docker/<id>), containerd
 *    (cri-containerd-<id>.scope), crio (crio-<id>.scope) or podman
 *    (libpod-<id>.scope); a bare 64-hex-digit directory is "container:...";
 *  - the innermost systemd service ("nginx.service"), else scope;
 *  - else the last component of the path.
 */
size_t cg_workload_name(const char *path, char *buf, size_t len);

/*
 * The mount point of the first cgroup2 line of a mountinfo file that
 * usable() accepts (NULL: any), 0 or -1 (none). Pure v2 hosts mount it at
 * /sys/fs/cgroup, hybrid ones at /sys/fs/cgroup/unified.
 */
int cg_find_mount(const char *mountinfo, bool (*usable)(const char *mp), char *out, size_t len);

#endif /* __CGROUPS_H */
