/*
 * unit_tree.h
 *	  Tree-building helpers shared by the core's C unit tests.
 */
#ifndef UNIT_TREE_H
#define UNIT_TREE_H

#include <stdarg.h>
#include <string.h>

#include "st_codec.h"
#include "st_tree.h"

/* add "a;b;c" with t->ncols values given as varargs (long long) */
static inline bool
add(StTree *t, const char *stack,...)
{
	uint32_t	frames[64];
	uint32_t	n = 0;
	int64_t		vals[ST_MAX_COLUMNS];
	StError		err;
	va_list		ap;
	const char *p = stack;

	va_start(ap, stack);
	for (int c = 0; c < t->ncols; c++)
		vals[c] = va_arg(ap, long long);
	va_end(ap);
	while (*p && n < 64)
	{
		const char *e = strchr(p, ';');
		size_t		len = e ? (size_t) (e - p) : strlen(p);

		frames[n++] = st_tree_intern(t, p, len, &err);
		p += len;
		if (*p == ';')
			p++;
	}
	return st_tree_add_stack(t, frames, n, vals, &err);
}

/* string id of name by a linear scan (not the hash index under test) */
static inline uint32_t
find_string(const StTree *t, const char *name)
{
	for (uint32_t i = 0; i < t->nstrings; i++)
		if (t->str_len[i] == strlen(name) &&
			memcmp(st_tree_string(t, i), name, t->str_len[i]) == 0)
			return i;
	return UINT32_MAX;
}

/* node id of the path "a;b" by a linear scan over nodes; 0 for "" */
static inline uint32_t
find_node(const StTree *t, const char *path)
{
	uint32_t	node = 0;
	const char *p = path;

	while (*p)
	{
		const char *e = strchr(p, ';');
		size_t		len = e ? (size_t) (e - p) : strlen(p);
		uint32_t	next = UINT32_MAX;

		for (uint32_t n = 1; n < t->nnodes; n++)
			if (t->parent[n] == node && t->str_len[t->frame[n]] == len &&
				memcmp(st_tree_string(t, t->frame[n]), p, len) == 0)
				next = n;
		if (next == UINT32_MAX)
			return UINT32_MAX;
		node = next;
		p += len;
		if (*p == ';')
			p++;
	}
	return node;
}

/* true when a and b have identical canonical encodings */
static inline bool
same_bytes(const StTree *a, const StTree *b)
{
	StError		err;
	size_t		la,
				lb;
	uint8_t    *ea = st_encode(a, &la, &err);
	uint8_t    *eb = st_encode(b, &lb, &err);
	bool		eq = ea && eb && la == lb && memcmp(ea, eb, la) == 0;

	st_free(ea);
	st_free(eb);
	return eq;
}

#endif							/* UNIT_TREE_H */
