// SPDX-License-Identifier: GPL-2.0
/*
 * ct_parts.c - what the table hands out: records to the sinks (emit), and
 * to the aggregates (summary, metrics) each part of an endpoint once, as
 * soon as it is known for good (hand_out), so that their figures move when
 * a thing happens rather than when the endpoint's record is complete.
 */
#include "ct_internal.h"

/*
 * Hand the aggregates the parts of c that are known for good and were not
 * handed out yet: the phases that have ended, the result once the handshake
 * is over, the TIME_WAIT's end once it is known; with final (the record is
 * complete), all that is left.
 */
void hand_out(struct conntable *t, struct conn *c, bool final)
{
	unsigned int parts = 0;

	/* no aggregate asked for parts (--csv alone): nothing to work out */
	if (!t->cfg.on_parts || c->role == ROLE_LISTENER)
		return;
	for (int p = 0; p < PH_MAX; p++)
		if (c->ph[p] >= 0)
			parts |= CT_PART(p);
	if (final || c->result != RES_NONE)
		parts |= CT_PART(CT_PART_RESULT);
	if (final || (c->tw_end != TWE_NONE_YET && c->tw_end != TWE_IN_PROGRESS))
		parts |= CT_PART(CT_PART_TW_END);
	if (final)
		parts |= CT_PART(CT_PART_RECORD);
	parts &= ~c->handed;
	if (!parts)
		return;
	c->handed |= parts;
	t->cfg.on_parts(t->cfg.ctx, c, parts);
}

void ct_set_parts(struct conntable *t, parts_fn fn)
{
	t->cfg.on_parts = fn;
}

/*
 * Tracing stops with c's phase under way: hand out what ended before, and
 * keep the phase cut short out of the aggregates (its time is only a lower
 * bound); the record still shows it.
 */
void cut_short(struct conntable *t, struct conn *c, int ph, int64_t so_far)
{
	hand_out(t, c, false);
	phase_add(c, ph, so_far);
	if (ph >= 0)
		c->handed |= CT_PART(ph);
}

void emit(struct conntable *t, struct conn *c, enum rec_kind kind)
{
	if (c->role == ROLE_LISTENER)
		return;
	hand_out(t, c, kind == REC_FINAL);
	if (kind == REC_FINAL) {
		t->st.records++;
		if (c->partial)
			t->st.partial++;
	} else {
		c->emitted_closed = true;
	}
	if (t->cfg.on_record)
		t->cfg.on_record(t->cfg.ctx, c, kind);
}
