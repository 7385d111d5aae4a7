// SPDX-License-Identifier: GPL-2.0
/*
 * listenmap.c - the listener view's loader side: read the kernel's
 * listen_stats map into the view, and name each listener's owner.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdlib.h>
#include <string.h>

#include "listen_view.h"
#include "sockdiag.h"
#include "tcpphase.skel.h"
#include "tracer.h"

/* Name the owners of listeners whose socket inode is new (one /proc pass). */
static void name_owners(struct listen_view *lv)
{
	uint64_t *inodes;
	uint32_t *pids;
	char(*comms)[TASK_COMM_LEN];
	size_t n = 0;

	for (size_t i = 0; i < lv->n; i++)
		n += lv->e[i].s.inode && lv->e[i].s.inode != lv->e[i].owner_inode;
	if (!n)
		return;
	inodes = calloc(lv->n, sizeof(*inodes));
	pids = calloc(lv->n, sizeof(*pids));
	comms = calloc(lv->n, sizeof(*comms));
	if (inodes && pids && comms) {
		for (size_t i = 0; i < lv->n; i++)
			if (lv->e[i].s.inode != lv->e[i].owner_inode)
				inodes[i] = lv->e[i].s.inode;
		sockdiag_owners(inodes, lv->n, pids, comms);
		for (size_t i = 0; i < lv->n; i++) {
			struct lv_entry *e = &lv->e[i];

			if (!inodes[i])
				continue;
			e->owner_inode = inodes[i];
			/* gone already: keep the owner it had */
			if (pids[i]) {
				e->pid = pids[i];
				memcpy(e->comm, comms[i], sizeof(e->comm));
			}
		}
	}
	free(inodes);
	free(pids);
	free(comms);
}

int listenmap_read(struct tracer *t, struct listen_view *lv)
{
	int fd = bpf_map__fd(t->skel->maps.listen_stats);
	struct listen_key key, next;
	struct listen_stats s;
	void *prev = NULL;
	int err;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (!bpf_map_lookup_elem(fd, &next, &s)) {
			err = lv_set(lv, next.netns, next.port, &s);
			if (err)
				return err;
		}
		key = next;
		prev = &key;
	}
	name_owners(lv);
	return 0;
}
