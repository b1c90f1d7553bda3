/*
 * inputs.c
 *	  The stackhouse-ingest input list: files, directories walked
 *	  recursively (entries in name order, without recursion on depth: an
 *	  explicit stack of directories; symbolic links to directories found
 *	  inside are not followed), and "-" for standard input; reading one
 *	  input into memory with a size cap.
 */
#include "ingest.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_INPUT_BYTES ((size_t) 1024 * 1024 * 1024)

static bool
push(InputList *l, const char *path)
{
	if (l->n == l->cap)
	{
		size_t		cap = l->cap ? l->cap * 2 : 64;
		char	  **p = realloc(l->paths, cap * sizeof(char *));

		if (p == NULL)
			return false;
		l->paths = p;
		l->cap = cap;
	}
	if ((l->paths[l->n] = strdup(path)) == NULL)
		return false;
	l->n++;
	return true;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static char *
join(const char *dir, const char *name)
{
	size_t		dl = strlen(dir),
				nl = strlen(name);
	char	   *p = malloc(dl + nl + 2);

	if (p == NULL)
		return NULL;
	memcpy(p, dir, dl);
	if (dl == 0 || dir[dl - 1] != '/')
		p[dl++] = '/';
	memcpy(p + dl, name, nl + 1);
	return p;
}

/*
 * Walk root: files are added in depth-first, name order.  A stack holds
 * directories still to list; each directory's entries are sorted and its
 * subdirectories pushed in reverse so they pop in order.
 */
static bool
walk_dir(InputList *l, const char *root, char *errbuf, size_t errlen)
{
	char	  **stack = NULL;
	size_t		nstack = 0,
				capstack = 0;
	bool		ok = true;

	if ((stack = malloc(sizeof(char *) * 16)) == NULL)
		return false;
	capstack = 16;
	stack[nstack++] = strdup(root);
	while (nstack > 0 && ok)
	{
		char	   *dir = stack[--nstack];
		DIR		   *d;
		struct dirent *de;
		char	  **names = NULL;
		size_t		nnames = 0,
					capnames = 0;
		size_t		firstsub;

		if (dir == NULL)
		{
			ok = false;
			break;
		}
		if ((d = opendir(dir)) == NULL)
		{
			snprintf(errbuf, errlen, "cannot open directory \"%s\": %s", dir, strerror(errno));
			free(dir);
			ok = false;
			break;
		}
		while ((de = readdir(d)) != NULL)
		{
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (nnames == capnames)
			{
				size_t		c = capnames ? capnames * 2 : 32;
				char	  **p = realloc(names, c * sizeof(char *));

				if (p == NULL)
				{
					ok = false;
					break;
				}
				names = p;
				capnames = c;
			}
			names[nnames++] = strdup(de->d_name);
		}
		closedir(d);
		if (nnames > 0)
			qsort(names, nnames, sizeof(char *), cmp_str);

		firstsub = nstack;
		for (size_t i = 0; i < nnames && ok; i++)
		{
			char	   *p;
			struct stat st;

			if (names[i] == NULL || (p = join(dir, names[i])) == NULL)
			{
				ok = false;
				break;
			}
			if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode) &&
				stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			{
				/*
				 * A symbolic link to a directory is not followed (as find
				 * does not): a link to an ancestor would make the walk
				 * endless.  Links to files are read.
				 */
				free(p);
			}
			else if (stat(p, &st) != 0)
			{
				/* a dangling symlink or a race: let read_input report it */
				ok = push(l, p);
				free(p);
			}
			else if (S_ISDIR(st.st_mode))
			{
				if (nstack == capstack)
				{
					char	  **s = realloc(stack, capstack * 2 * sizeof(char *));

					if (s == NULL)
					{
						free(p);
						ok = false;
						break;
					}
					stack = s;
					capstack *= 2;
				}
				stack[nstack++] = p;
			}
			else
			{
				if (S_ISREG(st.st_mode))
					ok = push(l, p);
				free(p);
			}
		}
		/* subdirectories were pushed in name order: reverse them */
		for (size_t a = firstsub, b = nstack; a + 1 < b; a++, b--)
		{
			char	   *t = stack[a];

			stack[a] = stack[b - 1];
			stack[b - 1] = t;
		}
		for (size_t i = 0; i < nnames; i++)
			free(names[i]);
		free(names);
		free(dir);
		if (!ok && errbuf[0] == '\0')
			snprintf(errbuf, errlen, "out of memory while listing \"%s\"", root);
	}
	while (nstack > 0)
		free(stack[--nstack]);
	free(stack);
	return ok;
}

bool
inputs_add(InputList *l, const char *arg, char *errbuf, size_t errlen)
{
	struct stat st;

	errbuf[0] = '\0';
	if (strcmp(arg, "-") == 0)
		return push(l, arg);
	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		return walk_dir(l, arg, errbuf, errlen);
	/* files, and names that do not exist (reported when read) */
	return push(l, arg);
}

void
inputs_free(InputList *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	memset(l, 0, sizeof(*l));
}

bool
read_input(const char *path, uint8_t **data, size_t *len, char *errbuf, size_t errlen)
{
	FILE	   *f;
	uint8_t    *buf = NULL;
	size_t		n = 0,
				cap = 0;
	bool		is_stdin = strcmp(path, "-") == 0;
	struct stat st;

	*data = NULL;
	*len = 0;
	f = is_stdin ? stdin : fopen(path, "rb");
	if (f == NULL)
	{
		snprintf(errbuf, errlen, "%s", strerror(errno));
		return false;
	}
	if (!is_stdin && fstat(fileno(f), &st) == 0)
	{
		if (S_ISDIR(st.st_mode))
		{
			snprintf(errbuf, errlen, "is a directory");
			fclose(f);
			return false;
		}
		if (S_ISREG(st.st_mode) && st.st_size > 0)
			cap = (size_t) st.st_size + 1;
	}
	if (cap == 0)
		cap = 65536;
	for (;;)
	{
		size_t		got;

		if (cap > MAX_INPUT_BYTES + 1)
			cap = MAX_INPUT_BYTES + 1;
		if (buf == NULL || n == cap)
		{
			uint8_t    *p;

			if (buf != NULL)
			{
				if (cap > MAX_INPUT_BYTES)
				{
					snprintf(errbuf, errlen, "larger than %zu bytes", MAX_INPUT_BYTES);
					goto fail;
				}
				cap *= 2;
				if (cap > MAX_INPUT_BYTES + 1)
					cap = MAX_INPUT_BYTES + 1;
			}
			p = realloc(buf, cap);
			if (p == NULL)
			{
				snprintf(errbuf, errlen, "out of memory");
				goto fail;
			}
			buf = p;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
		{
			if (ferror(f))
			{
				snprintf(errbuf, errlen, "read error: %s", strerror(errno));
				goto fail;
			}
			break;
		}
	}
	if (!is_stdin)
		fclose(f);
	*data = buf;
	*len = n;
	return true;

fail:
	if (!is_stdin)
		fclose(f);
	free(buf);
	return false;
}
