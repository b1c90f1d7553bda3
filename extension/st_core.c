/*
 * st_core.c
 *	  Hooks, error records, growable buffers, varints, UTF-8 validation and
 *	  hashing shared by all PostgreSQL-independent stackhouse code.
 */
#include "st_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

StHooks		st_hooks = {malloc, realloc, free, NULL};

bool
st_fail(StError *err, StErrCode code, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return false;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->detail[0] = '\0';
	err->hint[0] = '\0';
	return false;
}

void
st_set_detail(StError *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

void
st_set_hint(StError *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

bool
st_grow(void **arr, size_t *cap, size_t need, size_t elemsize, StError *err)
{
	size_t		newcap;
	void	   *p;

	if (need <= *cap)
		return true;
	newcap = *cap ? *cap : 16;
	while (newcap < need)
		newcap *= 2;
	if (newcap > SIZE_MAX / elemsize)
		return st_fail(err, ST_ERR_LIMIT, "array too large");
	p = st_realloc(*arr, newcap * elemsize);
	if (p == NULL)
		return st_fail(err, ST_ERR_NOMEM, "out of memory");
	*arr = p;
	*cap = newcap;
	return true;
}

void
st_buf_init(StBuf *b, size_t initial)
{
	b->len = 0;
	b->oom = false;
	b->cap = initial ? initial : 64;
	b->data = st_alloc(b->cap);
	if (b->data == NULL)
	{
		b->cap = 0;
		b->oom = true;
	}
}

void
st_buf_reserve(StBuf *b, size_t extra)
{
	size_t		newcap;
	uint8_t    *p;

	if (b->oom)
		return;
	if (b->len + extra <= b->cap)
		return;
	newcap = b->cap ? b->cap : 64;
	while (newcap < b->len + extra)
		newcap *= 2;
	p = st_realloc(b->data, newcap);
	if (p == NULL)
	{
		b->oom = true;
		return;
	}
	b->data = p;
	b->cap = newcap;
}

void
st_buf_put(StBuf *b, const void *p, size_t n)
{
	st_buf_reserve(b, n);
	if (b->oom)
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
st_buf_putc(StBuf *b, uint8_t c)
{
	st_buf_reserve(b, 1);
	if (b->oom)
		return;
	b->data[b->len++] = c;
}

void
st_buf_varint(StBuf *b, uint64_t v)
{
	st_buf_reserve(b, 10);
	if (b->oom)
		return;
	while (v >= 0x80)
	{
		b->data[b->len++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	b->data[b->len++] = (uint8_t) v;
}

void
st_buf_printf(StBuf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	st_buf_reserve(b, (size_t) n + 1);
	if (b->oom)
		return;
	va_start(ap, fmt);
	vsnprintf((char *) b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

void
st_buf_free(StBuf *b)
{
	st_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

bool
st_read_varint_slow(StReader *r, uint64_t *out)
{
	uint64_t	v = 0;
	int			shift = 0;

	while (r->p < r->end)
	{
		uint8_t		c = *r->p++;

		if (shift == 63 && (c & 0x7e))
			return false;		/* more than 64 bits */
		v |= (uint64_t) (c & 0x7f) << shift;
		if (!(c & 0x80))
		{
			*out = v;
			return true;
		}
		shift += 7;
		if (shift > 63)
			return false;
	}
	return false;
}

bool
st_read_bytes(StReader *r, size_t n, const uint8_t **out)
{
	if ((size_t) (r->end - r->p) < n)
		return false;
	*out = r->p;
	r->p += n;
	return true;
}

bool
st_valid_name(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		size_t		n;
		uint32_t	cp;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
		{
			n = 1;
			cp = c & 0x1f;
		}
		else if (c >= 0xe0 && c <= 0xef)
		{
			n = 2;
			cp = c & 0x0f;
		}
		else if (c >= 0xf0 && c <= 0xf4)
		{
			n = 3;
			cp = c & 0x07;
		}
		else
			return false;
		if (len - i <= n)
			return false;
		for (size_t j = 1; j <= n; j++)
		{
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		/* overlong, surrogates, beyond U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
			(cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

uint64_t
st_hash_bytes(const void *p, size_t len)
{
	const uint8_t *s = p;
	uint64_t	h = UINT64_C(0xcbf29ce484222325);
	size_t		i = 0;

	/* 8 bytes at a time, then the tail */
	for (; i + 8 <= len; i += 8)
	{
		uint64_t	w;

		memcpy(&w, s + i, 8);
		h = (h ^ w) * UINT64_C(0x100000001b3);
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ s[i]) * UINT64_C(0x100000001b3);
	return st_hash_u64(h ^ len);
}
