/*
 * unit_tree.h
 *	  Tree-building helpers shared by the core's C unit tests.
 */
#ifndef UNIT_TREE_H
#define UNIT_TREE_H

#include <stdarg.h>
#include <string.h>

#include "st_tree.h"

/* add "a;b;c" with t->ncols values given as varargs (long long) */
static bool
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

#endif							/* UNIT_TREE_H */
