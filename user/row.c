// SPDX-License-Identifier: GPL-2.0
/*
 * row.c - a row of typed values written as CSV or as JSON (see row.h).
 * One row is written per endpoint: no printf, one fwrite per line.
 */
#include "format.h"
#include "json.h"
#include "row.h"

void row_init(struct row *r, const struct columns *cols)
{
	r->cols = cols;
	r->tag_name = r->tag = NULL;
	for (int i = 0; i < cols->n && i < ROW_MAX_COLS; i++)
		r->c[i].kind = CELL_NULL;
}

void row_csv_header(const struct columns *cols, FILE *f)
{
	row_csv_header_tagged(cols, NULL, f);
}

void row_csv_header_tagged(const struct columns *cols, const char *tag_name, FILE *f)
{
	if (tag_name)
		fprintf(f, "%s,", tag_name);
	for (int i = 0; i < cols->n; i++) {
		if (i)
			fputc(',', f);
		fputs(cols->names[i], f);
	}
	fputc('\n', f);
}

static void write_csv(const struct row *r, FILE *f)
{
	char line[2048];
	struct strbuf b = { .buf = line, .cap = sizeof(line) };

	if (r->tag_name) {
		sb_csv(&b, r->tag);
		sb_char(&b, ',');
	}
	for (int i = 0; i < r->cols->n; i++) {
		const struct cell *c = &r->c[i];

		if (i)
			sb_char(&b, ',');
		if (c->kind == CELL_U64)
			sb_u64(&b, c->u);
		else if (c->kind == CELL_STR)
			sb_csv(&b, c->s);
	}
	sb_char(&b, '\n');
	fwrite(b.buf, 1, b.len, f);
}

static void write_json(const struct row *r, FILE *f)
{
	char line[2048];
	struct strbuf b = { .buf = line, .cap = sizeof(line) };
	struct json j;

	json_init(&j, &b, f);
	json_open(&j, NULL, '{');
	if (r->tag_name)
		json_kstr(&j, r->tag_name, r->tag);
	for (int i = 0; i < r->cols->n; i++) {
		const struct cell *c = &r->c[i];

		if (c->kind == CELL_U64)
			json_ku64(&j, r->cols->names[i], c->u);
		else if (c->kind == CELL_STR)
			json_kstr(&j, r->cols->names[i], c->s);
		else
			json_knull(&j, r->cols->names[i]);
	}
	json_close(&j, '}');
	json_end_line(&j);
}

void row_write(const struct row *r, FILE *f, bool json)
{
	if (json)
		write_json(r, f);
	else
		write_csv(r, f);
}
