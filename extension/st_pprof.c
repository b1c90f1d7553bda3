/*
 * st_pprof.c
 *	  pprof (perftools.profiles.Profile, gzipped or not) to StTree.
 *
 * The input is untrusted: the gunzip is capped, the top level of the
 * protobuf is pre-scanned (string table size) before protobuf-c unpacks it
 * with an allocator on st_alloc/st_free, and every index into the string,
 * function and location tables is checked before use.  Frame names are
 * built once per function (or per location for line granularity) and only
 * for locations that a sample actually uses, so output trees never hold
 * strings no node refers to.
 *
 * Stack order: a sample's location_id[0] is the leaf, and inside one
 * Location line[0] is the innermost inlined function and the last line its
 * outermost caller.  Trees take stacks root first, so a stack is the
 * locations from last to first, each with its lines from last to first.
 *
 * No postgres.h here: the extension, the ingest CLI and the unit tests link
 * this file as is.
 */
#include "st_pprof.h"

#include <stdio.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>
#include <zlib.h>

#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile PbProfile;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Function PbFunction;
typedef Perftools__Profiles__Label PbLabel;

#define NO_ID	UINT32_MAX
#define INTERRUPT_EVERY 4096
#define MAX_SPLIT_KEYS	64

/* ---------------------------------------------------------------------
 * gunzip
 * --------------------------------------------------------------------- */

static voidpf
zalloc_hook(voidpf opaque, uInt items, uInt size)
{
	(void) opaque;
	if (size != 0 && items > SIZE_MAX / size)
		return Z_NULL;
	return st_alloc((size_t) items * size);
}

static void
zfree_hook(voidpf opaque, voidpf ptr)
{
	(void) opaque;
	st_free(ptr);
}

bool
st_gunzip_capped(const uint8_t *data, size_t len, size_t cap,
				 uint8_t **out, size_t *out_len, StError *err)
{
	z_stream	zs;
	uint8_t    *buf = NULL;
	size_t		bufcap;
	size_t		total = 0;
	size_t		consumed = 0;
	bool		ok = false;
	int			rc;

	*out = NULL;
	*out_len = 0;
	if (cap > ST_MAX_RAW_BYTES)
		cap = ST_MAX_RAW_BYTES;

	/* not gzip: return a copy */
	if (len < 2 || data[0] != 0x1f || data[1] != 0x8b)
	{
		if (len > cap)
		{
			st_fail(err, ST_ERR_LIMIT, "pprof input exceeds %zu bytes", cap);
			return false;
		}
		buf = st_alloc(len);
		if (buf == NULL)
			return st_fail(err, ST_ERR_NOMEM, "out of memory");
		if (len)
			memcpy(buf, data, len);
		*out = buf;
		*out_len = len;
		return true;
	}

	memset(&zs, 0, sizeof(zs));
	zs.zalloc = zalloc_hook;
	zs.zfree = zfree_hook;
	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return st_fail(err, ST_ERR_NOMEM, "could not initialize zlib");

	/*
	 * Grow the output buffer by doubling, never past cap + 1 bytes: one byte
	 * more than the cap is how a bomb is told from an exact fit.
	 */
	bufcap = len < cap / 4 ? len * 4 : cap;
	if (bufcap < 65536)
		bufcap = 65536;
	if (bufcap > cap + 1)
		bufcap = cap + 1;
	buf = st_alloc(bufcap);
	if (buf == NULL)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto done;
	}

	for (;;)
	{
		size_t		chunk_in;

		if (total == bufcap)
		{
			size_t		newcap;
			uint8_t    *p;

			if (total > cap)
			{
				st_fail(err, ST_ERR_LIMIT,
						"decompressed pprof exceeds %zu bytes", cap);
				st_set_hint(err, "A profile this large is probably a gzip bomb or not a profile.");
				goto done;
			}
			newcap = bufcap > (cap + 1) / 2 ? cap + 1 : bufcap * 2;
			p = st_realloc(buf, newcap);
			if (p == NULL)
			{
				st_fail(err, ST_ERR_NOMEM, "out of memory");
				goto done;
			}
			buf = p;
			bufcap = newcap;
		}
		st_check_interrupts();

		chunk_in = len - consumed;
		if (chunk_in > UINT32_MAX)
			chunk_in = UINT32_MAX;
		zs.next_in = (Bytef *) (data + consumed);
		zs.avail_in = (uInt) chunk_in;
		{
			size_t		room = bufcap - total;

			if (room > UINT32_MAX)
				room = UINT32_MAX;
			zs.next_out = buf + total;
			zs.avail_out = (uInt) room;
		}
		rc = inflate(&zs, Z_NO_FLUSH);
		consumed += chunk_in - zs.avail_in;
		total = (size_t) (zs.next_out - buf);

		if (total > cap)
		{
			st_fail(err, ST_ERR_LIMIT,
					"decompressed pprof exceeds %zu bytes", cap);
			st_set_hint(err, "A profile this large is probably a gzip bomb or not a profile.");
			goto done;
		}
		if (rc == Z_STREAM_END)
		{
			/* another gzip member may follow (concatenated files) */
			if (consumed == len)
				break;
			if (len - consumed >= 2 && data[consumed] == 0x1f &&
				data[consumed + 1] == 0x8b)
			{
				if (inflateReset(&zs) != Z_OK)
				{
					st_fail(err, ST_ERR_INVALID_BINARY, "corrupt gzip data");
					goto done;
				}
				continue;
			}
			st_fail(err, ST_ERR_INVALID_BINARY, "trailing garbage after gzip data");
			st_set_detail(err, "%zu bytes follow the end of the compressed stream",
						  len - consumed);
			goto done;
		}
		if (rc == Z_OK)
			continue;
		if (rc == Z_BUF_ERROR)
		{
			if (zs.avail_out == 0)
				continue;		/* output full: grow and go on */
			/* no progress with input left over cannot happen; no input: */
			st_fail(err, ST_ERR_INVALID_BINARY, "truncated gzip data");
			st_set_detail(err, "the compressed stream ends after %zu of %zu bytes "
						  "without its end marker", consumed, len);
			goto done;
		}
		if (rc == Z_MEM_ERROR)
		{
			st_fail(err, ST_ERR_NOMEM, "out of memory");
			goto done;
		}
		st_fail(err, ST_ERR_INVALID_BINARY, "corrupt gzip data: %s",
				zs.msg ? zs.msg : "unknown zlib error");
		st_set_detail(err, "at compressed byte %zu", consumed);
		goto done;
	}
	ok = true;

done:
	inflateEnd(&zs);
	if (!ok)
	{
		st_free(buf);
		return false;
	}
	*out = buf;
	*out_len = total;
	return true;
}

/* ---------------------------------------------------------------------
 * sniffing and pre-scan of the top-level protobuf fields
 * --------------------------------------------------------------------- */

/* wire type of each Profile field number (1..14), -1: not a Profile field */
static int
profile_wire_type(uint64_t field)
{
	switch (field)
	{
		case 1:
		case 2:
		case 3:
		case 4:
		case 5:
		case 6:
		case 11:
			return 2;			/* messages, strings */
		case 7:
		case 8:
		case 9:
		case 10:
		case 12:
		case 14:
			return 0;			/* int64 */
		case 13:
			return -2;			/* repeated int64: packed (2) or not (0) */
		default:
			return -1;
	}
}

/*
 * Walk up to max_fields top-level fields (0 = all).  Returns false when a
 * tag is not a Profile field with its wire type or a length runs past the
 * end.  *nfields and *nstrings count what was seen.
 */
static bool
scan_profile_fields(const uint8_t *data, size_t len, size_t max_fields,
					size_t *nfields, size_t *nstrings)
{
	StReader	r = {data, data + len};

	*nfields = 0;
	*nstrings = 0;
	while (r.p < r.end && (max_fields == 0 || *nfields < max_fields))
	{
		uint64_t	tag,
					v;
		int			want;
		int			wt;

		if (!st_read_varint(&r, &tag))
			return false;
		wt = (int) (tag & 7);
		want = profile_wire_type(tag >> 3);
		if (want == -1 || (want >= 0 && wt != want) ||
			(want == -2 && wt != 0 && wt != 2))
			return false;
		if (!st_read_varint(&r, &v))
			return false;
		if (wt == 2)
		{
			const uint8_t *skip;

			if (v > (uint64_t) (r.end - r.p) || !st_read_bytes(&r, (size_t) v, &skip))
				return false;
		}
		if ((tag >> 3) == 6)
			(*nstrings)++;
		(*nfields)++;
	}
	return true;
}

/*
 * A buffer is taken for pprof when it starts with the gzip magic (1f 8b),
 * or when its first (up to) 8 top-level fields parse as Profile fields with
 * the right wire types and in-bounds lengths.  Folded text ("main;f 1")
 * fails that quickly: its first byte is rarely a Profile tag, and when it is
 * (e.g. 'j' = field 13, '2' = field 6) the length that follows runs past
 * the end or the next tag is not a Profile field.
 */
bool
st_pprof_sniff(const uint8_t *data, size_t len)
{
	size_t		nfields,
				nstrings;

	if (data == NULL || len < 2)
		return false;
	if (data[0] == 0x1f && data[1] == 0x8b)
		return true;
	return scan_profile_fields(data, len, 8, &nfields, &nstrings) &&
		nfields > 0;
}

/* ---------------------------------------------------------------------
 * u64 id -> index hash map (ids are arbitrary, not necessarily dense)
 * --------------------------------------------------------------------- */

typedef struct IdMap
{
	uint64_t   *keys;
	uint32_t   *vals;			/* index + 1, 0 = empty */
	uint32_t	mask;
} IdMap;

static bool
idmap_init(IdMap *m, size_t n, StError *err)
{
	size_t		size = 16;

	while (size < n * 2)
		size *= 2;
	m->mask = (uint32_t) (size - 1);
	m->keys = st_alloc(size * sizeof(uint64_t));
	m->vals = st_alloc(size * sizeof(uint32_t));
	if (!m->keys || !m->vals)
		return st_fail(err, ST_ERR_NOMEM, "out of memory");
	memset(m->vals, 0, size * sizeof(uint32_t));
	return true;
}

static void
idmap_free(IdMap *m)
{
	st_free(m->keys);
	st_free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
}

/* insert; false when the key is already present */
static bool
idmap_put(IdMap *m, uint64_t key, uint32_t idx)
{
	uint32_t	h = (uint32_t) st_hash_u64(key) & m->mask;

	while (m->vals[h])
	{
		if (m->keys[h] == key)
			return false;
		h = (h + 1) & m->mask;
	}
	m->keys[h] = key;
	m->vals[h] = idx + 1;
	return true;
}

static uint32_t
idmap_get(const IdMap *m, uint64_t key)
{
	uint32_t	h = (uint32_t) st_hash_u64(key) & m->mask;

	while (m->vals[h])
	{
		if (m->keys[h] == key)
			return m->vals[h] - 1;
		h = (h + 1) & m->mask;
	}
	return NO_ID;
}

/* ---------------------------------------------------------------------
 * decoder state
 * --------------------------------------------------------------------- */

typedef struct PartSlot
{
	int64_t    *key;			/* nsplit string indices, -1 = absent */
	uint64_t	hash;
} PartSlot;

/*
 * protobuf-c allocates every sub-message, repeated field and string of the
 * unpacked profile separately.  They all die together, so they come from
 * a bump arena of large chunks and are freed at once: with malloc this
 * halves the CLI's decoding time.
 */
#define ARENA_CHUNK (256 * 1024)

typedef struct ArenaChunk
{
	struct ArenaChunk *next;
	size_t		used;
	size_t		size;
	/* data follows, 16-byte aligned */
} ArenaChunk;

#define CHUNK_HDR ((sizeof(ArenaChunk) + 15) & ~(size_t) 15)

typedef struct Decoder
{
	const StPprofOptions *opts;
	StError    *err;
	PbProfile  *pb;
	ProtobufCAllocator allocator;
	bool		pb_oom;			/* an allocation inside protobuf-c failed */
	ArenaChunk *arena;			/* chunks for protobuf-c, newest first */

	size_t		nstr;
	const ProtobufCBinaryData *str;

	IdMap		locmap;
	IdMap		funcmap;

	/*
	 * Frame names: without a split they are interned straight into the one
	 * output tree; with a split into "names" and re-interned per part.
	 */
	StTree	   *names;
	bool		names_is_output;
	uint32_t   *func_name;		/* per function: name id, NO_ID unset */
	uint32_t   *loc_off;		/* per location: offset into pool, NO_ID */
	uint32_t   *loc_n;
	uint32_t   *pool;
	size_t		pool_len;
	size_t		pool_cap;
	StBuf		namebuf;

	/* parts */
	int			nsplit;
	StPprofPart *parts;
	size_t		nparts;
	size_t		parts_cap;
	PartSlot   *slots;			/* per part */
	uint32_t   *part_index;		/* open addressing: part + 1 */
	uint32_t	part_index_mask;

	/* header pieces shared by all parts */
	const char **types;
	const char **units;
	char	   *type_strs;

	uint32_t   *stack;			/* ST_MAX_DEPTH entries */
	int64_t    *tuple;			/* nsplit entries */
} Decoder;

static void *
pb_alloc(void *allocator_data, size_t size)
{
	Decoder    *d = (Decoder *) allocator_data;
	ArenaChunk *c = d->arena;

	size = (size + 15) & ~(size_t) 15;
	if (c == NULL || c->size - c->used < size)
	{
		size_t		csize = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;

		if (csize > SIZE_MAX - CHUNK_HDR)
		{
			d->pb_oom = true;
			return NULL;
		}
		c = st_alloc(CHUNK_HDR + csize);
		if (c == NULL)
		{
			d->pb_oom = true;
			return NULL;
		}
		c->used = 0;
		c->size = csize;
		if (csize == ARENA_CHUNK || d->arena == NULL)
		{
			c->next = d->arena;
			d->arena = c;
		}
		else
		{
			/* a big dedicated chunk: keep bumping in the current one */
			c->next = d->arena->next;
			d->arena->next = c;
		}
	}
	c->used += size;
	return (char *) c + CHUNK_HDR + c->used - size;
}

static void
pb_free(void *allocator_data, void *ptr)
{
	/* freed with the whole arena */
	(void) allocator_data;
	(void) ptr;
}

static void
arena_free(Decoder *d)
{
	while (d->arena)
	{
		ArenaChunk *next = d->arena->next;

		st_free(d->arena);
		d->arena = next;
	}
}

/* string index check */
static bool
check_str(Decoder *d, int64_t idx, const char *what, uint64_t owner_id)
{
	if (idx < 0 || (uint64_t) idx >= d->nstr)
	{
		st_fail(d->err, ST_ERR_INVALID_BINARY,
				"invalid pprof: string index %lld out of range in %s",
				(long long) idx, what);
		st_set_detail(d->err, "the string table has %zu entries (%s id %llu)",
					  d->nstr, what, (unsigned long long) owner_id);
		return false;
	}
	return true;
}

/* NUL-terminated copy of string idx for header use; NULL on OOM */
static char *
str_dup(Decoder *d, int64_t idx)
{
	const ProtobufCBinaryData *s = &d->str[idx];
	char	   *p = st_alloc(s->len + 1);

	if (p == NULL)
	{
		st_fail(d->err, ST_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (s->len)
		memcpy(p, s->data, s->len);
	p[s->len] = '\0';
	return p;
}

static bool
str_eq(const ProtobufCBinaryData *s, const char *c)
{
	size_t		n = strlen(c);

	return s->len == n && (n == 0 || memcmp(s->data, c, n) == 0);
}

/* Check all tables: string indices in range, ids unique, references exist. */
static bool
validate_tables(Decoder *d)
{
	PbProfile  *pb = d->pb;

	if (d->nstr == 0 || d->str[0].len != 0)
		return st_fail(d->err, ST_ERR_INVALID_BINARY,
					   "invalid pprof: string_table[0] must be the empty string");
	if (pb->n_sample_type == 0)
		return st_fail(d->err, ST_ERR_INVALID_BINARY,
					   "invalid pprof: the profile has no sample types");
	/* a stacktree's duration is >= 0 (the stored form refuses others) */
	if (pb->duration_nanos < 0)
		return st_fail(d->err, ST_ERR_INVALID_BINARY,
					   "invalid pprof: negative duration_nanos %lld",
					   (long long) pb->duration_nanos);
	if (pb->n_sample_type > ST_MAX_COLUMNS)
		return st_fail(d->err, ST_ERR_LIMIT,
					   "pprof profile has %zu sample types, the limit is %d",
					   pb->n_sample_type, ST_MAX_COLUMNS);
	for (size_t i = 0; i < pb->n_sample_type; i++)
		if (!check_str(d, pb->sample_type[i]->type, "sample_type", i) ||
			!check_str(d, pb->sample_type[i]->unit, "sample_type", i))
			return false;
	if (pb->period_type &&
		(!check_str(d, pb->period_type->type, "period_type", 0) ||
		 !check_str(d, pb->period_type->unit, "period_type", 0)))
		return false;
	if (!check_str(d, pb->default_sample_type, "default_sample_type", 0) ||
		!check_str(d, pb->drop_frames, "drop_frames", 0) ||
		!check_str(d, pb->keep_frames, "keep_frames", 0))
		return false;
	for (size_t i = 0; i < pb->n_comment; i++)
		if (!check_str(d, pb->comment[i], "comment", i))
			return false;
	for (size_t i = 0; i < pb->n_mapping; i++)
		if (!check_str(d, pb->mapping[i]->filename, "mapping", pb->mapping[i]->id) ||
			!check_str(d, pb->mapping[i]->build_id, "mapping", pb->mapping[i]->id))
			return false;

	if (pb->n_function >= UINT32_MAX / 2 || pb->n_location >= UINT32_MAX / 2)
		return st_fail(d->err, ST_ERR_LIMIT, "pprof profile has too many functions or locations");

	if (!idmap_init(&d->funcmap, pb->n_function, d->err))
		return false;
	for (size_t i = 0; i < pb->n_function; i++)
	{
		PbFunction *f = pb->function[i];

		if (!check_str(d, f->name, "function", f->id) ||
			!check_str(d, f->system_name, "function", f->id) ||
			!check_str(d, f->filename, "function", f->id))
			return false;
		if (!idmap_put(&d->funcmap, f->id, (uint32_t) i))
			return st_fail(d->err, ST_ERR_INVALID_BINARY,
						   "invalid pprof: duplicate function id %llu",
						   (unsigned long long) f->id);
	}

	if (!idmap_init(&d->locmap, pb->n_location, d->err))
		return false;
	for (size_t i = 0; i < pb->n_location; i++)
	{
		PbLocation *l = pb->location[i];

		if ((i & (INTERRUPT_EVERY - 1)) == 0)
			st_check_interrupts();
		if (!idmap_put(&d->locmap, l->id, (uint32_t) i))
			return st_fail(d->err, ST_ERR_INVALID_BINARY,
						   "invalid pprof: duplicate location id %llu",
						   (unsigned long long) l->id);
		if (l->n_line > ST_MAX_DEPTH)
			return st_fail(d->err, ST_ERR_LIMIT,
						   "pprof location id %llu has %zu inlined lines, the depth limit is %d",
						   (unsigned long long) l->id, l->n_line, ST_MAX_DEPTH);
		for (size_t j = 0; j < l->n_line; j++)
		{
			uint64_t	fid = l->line[j]->function_id;

			/* function_id 0 means "no function" unless one has that id */
			if (fid != 0 && idmap_get(&d->funcmap, fid) == NO_ID)
			{
				st_fail(d->err, ST_ERR_INVALID_BINARY,
						"invalid pprof: location id %llu refers to unknown function id %llu",
						(unsigned long long) l->id, (unsigned long long) fid);
				return false;
			}
		}
	}
	return true;
}

/* Intern the current namebuf contents as a frame name. */
static uint32_t
intern_name(Decoder *d, const PbFunction *f, const PbLocation *l)
{
	uint32_t	id;

	if (d->namebuf.oom)
	{
		st_fail(d->err, ST_ERR_NOMEM, "out of memory");
		return NO_ID;
	}
	id = st_tree_intern(d->names, (const char *) d->namebuf.data,
						d->namebuf.len, d->err);
	if (id == NO_ID && d->err && d->err->code == ST_ERR_ENCODING)
	{
		if (f)
		{
			st_fail(d->err, ST_ERR_ENCODING,
					"invalid pprof: the name of function id %llu is not valid UTF-8 or contains a NUL byte",
					(unsigned long long) f->id);
			st_set_detail(d->err, "function name is string_table[%lld], file string_table[%lld]; used by location id %llu",
						  (long long) f->name, (long long) f->filename,
						  (unsigned long long) l->id);
		}
		else
			st_fail(d->err, ST_ERR_ENCODING,
					"invalid pprof: the frame name of location id %llu is not valid UTF-8",
					(unsigned long long) l->id);
	}
	else if (id == NO_ID && d->err && f)
		st_set_detail(d->err, "in the name of pprof function id %llu",
					  (unsigned long long) f->id);
	return id;
}

static void
buf_str(Decoder *d, int64_t idx)
{
	st_buf_put(&d->namebuf, d->str[idx].data, d->str[idx].len);
}

/* function-level name: name, else system_name, else the location address */
static void
put_function_name(Decoder *d, const PbFunction *f, const PbLocation *l)
{
	if (f && d->str[f->name].len > 0)
		buf_str(d, f->name);
	else if (f && d->str[f->system_name].len > 0)
		buf_str(d, f->system_name);
	else
		st_buf_printf(&d->namebuf, "0x%llx", (unsigned long long) l->address);
}

/* Frame name ids of location li, computed on first use (line order). */
static bool
location_frames(Decoder *d, uint32_t li, const uint32_t **frames, uint32_t *n)
{
	const PbLocation *l = d->pb->location[li];

	if (d->loc_off[li] == NO_ID)
	{
		size_t		nf = l->n_line ? l->n_line : 1;

		if (!st_grow((void **) &d->pool, &d->pool_cap, d->pool_len + nf,
					 sizeof(uint32_t), d->err))
			return false;
		if (d->pool_len + nf >= UINT32_MAX)
			return st_fail(d->err, ST_ERR_LIMIT, "too many frames in pprof locations");
		if (l->n_line == 0)
		{
			/* unsymbolized: the address, as pprof shows it */
			d->namebuf.len = 0;
			st_buf_printf(&d->namebuf, "0x%llx", (unsigned long long) l->address);
			if ((d->pool[d->pool_len] = intern_name(d, NULL, l)) == NO_ID)
				return false;
		}
		for (size_t j = 0; j < l->n_line; j++)
		{
			const Perftools__Profiles__Line *ln = l->line[j];
			uint32_t	fi = idmap_get(&d->funcmap, ln->function_id);
			const PbFunction *f = fi != NO_ID ? d->pb->function[fi] : NULL;
			uint32_t	id;

			if (d->opts->granularity == ST_PPROF_FUNCTIONS && f &&
				d->func_name[fi] != NO_ID)
				id = d->func_name[fi];
			else
			{
				d->namebuf.len = 0;
				put_function_name(d, f, l);
				if (d->opts->granularity == ST_PPROF_LINES)
				{
					if (f && d->str[f->filename].len > 0)
					{
						st_buf_putc(&d->namebuf, ' ');
						buf_str(d, f->filename);
					}
					st_buf_printf(&d->namebuf, ":%lld", (long long) ln->line);
				}
				id = intern_name(d, f, l);
				if (id == NO_ID)
					return false;
				/* address fallbacks differ per location: do not cache those */
				if (d->opts->granularity == ST_PPROF_FUNCTIONS && f &&
					(d->str[f->name].len > 0 || d->str[f->system_name].len > 0))
					d->func_name[fi] = id;
			}
			d->pool[d->pool_len + j] = id;
		}
		d->loc_off[li] = (uint32_t) d->pool_len;
		d->loc_n[li] = (uint32_t) nf;
		d->pool_len += nf;
	}
	*frames = d->pool + d->loc_off[li];
	*n = d->loc_n[li];
	return true;
}

/* ---- parts ---- */

static uint64_t
tuple_hash(Decoder *d, const int64_t *tuple)
{
	uint64_t	h = 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < d->nsplit; i++)
	{
		uint64_t	x = tuple[i] < 0 ? 0x5bd1e995ULL :
			st_hash_bytes(d->str[tuple[i]].data, d->str[tuple[i]].len);

		h = st_hash_u64(h ^ x) + (uint64_t) i;
	}
	return h;
}

static bool
tuple_eq(Decoder *d, const int64_t *a, const int64_t *b)
{
	for (int i = 0; i < d->nsplit; i++)
	{
		if ((a[i] < 0) != (b[i] < 0))
			return false;
		if (a[i] >= 0 && a[i] != b[i])
		{
			const ProtobufCBinaryData *x = &d->str[a[i]],
					   *y = &d->str[b[i]];

			if (x->len != y->len || memcmp(x->data, y->data, x->len) != 0)
				return false;
		}
	}
	return true;
}

static void
free_part(StPprofPart *p)
{
	st_tree_free(p->tree);
	for (int i = 0; i < p->nlabels; i++)
	{
		st_free(p->label_keys[i]);
		st_free(p->label_values[i]);
	}
	st_free(p->label_keys);
	st_free(p->label_values);
	memset(p, 0, sizeof(*p));
}

/* A new tree with the profile's header. */
static StTree *
new_tree(Decoder *d)
{
	PbProfile  *pb = d->pb;
	StTree	   *t;

	t = st_tree_new((int) pb->n_sample_type, d->types, d->units, d->err);
	if (t == NULL)
	{
		if (d->err)
			st_set_detail(d->err, "in the sample types of the pprof profile");
		return NULL;
	}
	if (pb->default_sample_type != 0)
	{
		for (size_t i = 0; i < pb->n_sample_type; i++)
			if (pb->sample_type[i]->type >= 0 &&
				d->str[pb->sample_type[i]->type].len == d->str[pb->default_sample_type].len &&
				memcmp(d->str[pb->sample_type[i]->type].data,
					   d->str[pb->default_sample_type].data,
					   d->str[pb->default_sample_type].len) == 0)
			{
				t->default_col = (int) i;
				break;
			}
	}
	if (pb->period_type || pb->period != 0)
	{
		char	   *pt = NULL,
				   *pu = NULL;
		bool		ok;

		if (pb->period_type)
		{
			pt = str_dup(d, pb->period_type->type);
			pu = str_dup(d, pb->period_type->unit);
			if (!pt || !pu)
			{
				st_free(pt);
				st_free(pu);
				st_tree_free(t);
				return NULL;
			}
		}
		ok = st_tree_set_period(t, pt, pu, pb->period, d->err);
		st_free(pt);
		st_free(pu);
		if (!ok)
		{
			st_set_detail(d->err, "in the period of the pprof profile");
			st_tree_free(t);
			return NULL;
		}
	}
	t->time_nanos = pb->time_nanos;
	t->duration_nanos = pb->duration_nanos;
	return t;
}

/* Find or create the part for d->tuple; returns its index or -1. */
static long
find_part(Decoder *d)
{
	uint64_t	h = tuple_hash(d, d->tuple);
	uint32_t	pos;
	StPprofPart *p;
	PartSlot   *s;

	if (d->part_index)
	{
		pos = (uint32_t) h & d->part_index_mask;
		while (d->part_index[pos])
		{
			uint32_t	pi = d->part_index[pos] - 1;

			if (d->slots[pi].hash == h && tuple_eq(d, d->slots[pi].key, d->tuple))
				return pi;
			pos = (pos + 1) & d->part_index_mask;
		}
	}

	/* new part: grow arrays and the index */
	if (d->nparts >= (size_t) INT32_MAX)
	{
		st_fail(d->err, ST_ERR_LIMIT, "too many label combinations");
		return -1;
	}
	if (d->nparts + 1 > d->parts_cap)
	{
		size_t		cap = d->parts_cap;
		size_t		cap2 = d->parts_cap;

		if (!st_grow((void **) &d->parts, &cap, d->nparts + 1,
					 sizeof(StPprofPart), d->err) ||
			!st_grow((void **) &d->slots, &cap2, d->nparts + 1,
					 sizeof(PartSlot), d->err))
			return -1;
		d->parts_cap = cap < cap2 ? cap : cap2;
	}
	if (d->part_index == NULL ||
		(uint64_t) (d->nparts + 1) * 2 > (uint64_t) d->part_index_mask + 1)
	{
		uint32_t	size = d->part_index ? (d->part_index_mask + 1) * 2 : 64;
		uint32_t   *idx = st_alloc((size_t) size * sizeof(uint32_t));

		if (idx == NULL)
		{
			st_fail(d->err, ST_ERR_NOMEM, "out of memory");
			return -1;
		}
		memset(idx, 0, (size_t) size * sizeof(uint32_t));
		for (size_t i = 0; i < d->nparts; i++)
		{
			uint32_t	q = (uint32_t) d->slots[i].hash & (size - 1);

			while (idx[q])
				q = (q + 1) & (size - 1);
			idx[q] = (uint32_t) i + 1;
		}
		st_free(d->part_index);
		d->part_index = idx;
		d->part_index_mask = size - 1;
	}

	p = &d->parts[d->nparts];
	s = &d->slots[d->nparts];
	memset(p, 0, sizeof(*p));
	memset(s, 0, sizeof(*s));
	d->nparts++;				/* from here on freed with the rest */

	s->hash = h;
	s->key = st_alloc(sizeof(int64_t) * (d->nsplit ? d->nsplit : 1));
	if (s->key == NULL)
	{
		st_fail(d->err, ST_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (d->nsplit)
		memcpy(s->key, d->tuple, sizeof(int64_t) * d->nsplit);

	if (d->names_is_output)
		p->tree = d->names;		/* the single tree names are interned into */
	else if ((p->tree = new_tree(d)) == NULL)
		return -1;

	if (d->nsplit)
	{
		p->label_keys = st_alloc(sizeof(char *) * d->nsplit);
		p->label_values = st_alloc(sizeof(char *) * d->nsplit);
		if (!p->label_keys || !p->label_values)
		{
			st_fail(d->err, ST_ERR_NOMEM, "out of memory");
			return -1;
		}
		for (int i = 0; i < d->nsplit; i++)
		{
			const ProtobufCBinaryData *v;
			size_t		kl;

			if (d->tuple[i] < 0)
				continue;
			v = &d->str[d->tuple[i]];
			if (!st_valid_name((const char *) v->data, v->len))
			{
				st_fail(d->err, ST_ERR_ENCODING,
						"invalid pprof: the value of label \"%s\" is not valid UTF-8 or contains a NUL byte",
						d->opts->split_keys[i]);
				st_set_detail(d->err, "label value is string_table[%lld]",
							  (long long) d->tuple[i]);
				return -1;
			}
			kl = strlen(d->opts->split_keys[i]);
			p->label_keys[p->nlabels] = st_alloc(kl + 1);
			p->label_values[p->nlabels] = str_dup(d, d->tuple[i]);
			if (!p->label_keys[p->nlabels] || !p->label_values[p->nlabels])
			{
				/* count it so that free_part releases whichever was made */
				p->nlabels++;
				st_fail(d->err, ST_ERR_NOMEM, "out of memory");
				return -1;
			}
			memcpy(p->label_keys[p->nlabels], d->opts->split_keys[i], kl + 1);
			p->nlabels++;
		}
	}

	pos = (uint32_t) h & d->part_index_mask;
	while (d->part_index[pos])
		pos = (pos + 1) & d->part_index_mask;
	d->part_index[pos] = (uint32_t) (d->nparts - 1) + 1;
	return (long) (d->nparts - 1);
}

/* ---- samples ---- */

static bool
add_sample(Decoder *d, size_t si)
{
	const PbSample *s = d->pb->sample[si];
	size_t		depth = 0;
	long		pi;
	StTree	   *t;

	if (s->n_value != d->pb->n_sample_type)
	{
		st_fail(d->err, ST_ERR_INVALID_BINARY,
				"invalid pprof: sample %zu has %zu values but the profile has %zu sample types",
				si, s->n_value, d->pb->n_sample_type);
		return false;
	}
	for (size_t i = 0; i < s->n_value; i++)
		if (s->value[i] < 0)
		{
			st_fail(d->err, ST_ERR_OVERFLOW,
					"negative sample value %lld in pprof sample %zu",
					(long long) s->value[i], si);
			st_set_detail(d->err, "column %zu of sample %zu", i, si);
			st_set_hint(d->err, "Stack trees hold non-negative values only; store the two "
						"profiles and compare them with diff() instead of ingesting a "
						"difference profile.");
			return false;
		}

	/* labels: check indices, then pick the split tuple */
	for (int k = 0; k < d->nsplit; k++)
		d->tuple[k] = -1;
	for (size_t i = 0; i < s->n_label; i++)
	{
		const PbLabel *lb = s->label[i];

		if (!check_str(d, lb->key, "sample label", si) ||
			!check_str(d, lb->str, "sample label", si) ||
			!check_str(d, lb->num_unit, "sample label", si))
			return false;
		if (lb->str == 0)
			continue;			/* numeric label */
		for (int k = 0; k < d->nsplit; k++)
			if (d->tuple[k] < 0 && str_eq(&d->str[lb->key], d->opts->split_keys[k]))
				d->tuple[k] = lb->str;
	}

	/* stack, root first: locations last to first, lines last to first */
	for (size_t i = s->n_location_id; i-- > 0;)
	{
		uint32_t	li = idmap_get(&d->locmap, s->location_id[i]);
		const uint32_t *frames = NULL;
		uint32_t	nf = 0;

		if (li == NO_ID)
		{
			st_fail(d->err, ST_ERR_INVALID_BINARY,
					"invalid pprof: sample %zu refers to unknown location id %llu",
					si, (unsigned long long) s->location_id[i]);
			return false;
		}
		if (!location_frames(d, li, &frames, &nf))
			return false;
		if (depth + nf > ST_MAX_DEPTH)
		{
			size_t		total = depth;

			for (size_t j = 0; j <= i; j++)
			{
				uint32_t	lj = idmap_get(&d->locmap, s->location_id[j]);

				total += lj == NO_ID || d->pb->location[lj]->n_line == 0 ? 1 :
					d->pb->location[lj]->n_line;
			}
			st_fail(d->err, ST_ERR_LIMIT,
					"pprof sample %zu has a stack of %zu frames, the depth limit is %d",
					si, total, ST_MAX_DEPTH);
			return false;
		}
		for (uint32_t j = nf; j-- > 0;)
			d->stack[depth++] = frames[j];
	}

	pi = (d->nparts == 1 && d->nsplit == 0) ? 0 : find_part(d);
	if (pi < 0)
		return false;
	t = d->parts[pi].tree;
	if (t != d->names)
	{
		/* re-intern into the part's own string table */
		for (size_t i = 0; i < depth; i++)
		{
			uint32_t	id = d->stack[i];

			d->stack[i] = st_tree_intern(t, st_tree_string(d->names, id),
										 d->names->str_len[id], d->err);
			if (d->stack[i] == NO_ID)
				return false;
		}
	}
	return st_tree_add_stack(t, d->stack, (uint32_t) depth, s->value, d->err);
}

static void
decoder_free(Decoder *d, bool keep_parts)
{
	if (!keep_parts)
	{
		for (size_t i = 0; i < d->nparts; i++)
		{
			if (d->parts[i].tree == d->names)
				d->names = NULL;
			free_part(&d->parts[i]);
		}
		st_free(d->parts);
		d->parts = NULL;
	}
	else if (d->names_is_output)
		d->names = NULL;		/* owned by the part now */
	st_tree_free(d->names);
	for (size_t i = 0; i < d->nparts; i++)
		st_free(d->slots[i].key);
	st_free(d->slots);
	st_free(d->part_index);
	idmap_free(&d->locmap);
	idmap_free(&d->funcmap);
	st_free(d->func_name);
	st_free(d->loc_off);
	st_free(d->loc_n);
	st_free(d->pool);
	if (d->namebuf.data)
		st_buf_free(&d->namebuf);
	st_free(d->types);
	st_free(d->units);
	st_free(d->type_strs);
	st_free(d->stack);
	st_free(d->tuple);
	/* the unpacked profile lives in the arena */
	arena_free(d);
	d->pb = NULL;
}

/* Column names: NUL-terminated copies; an empty unit becomes "count". */
static bool
build_columns(Decoder *d)
{
	PbProfile  *pb = d->pb;
	size_t		total = 0;
	char	   *p;

	d->types = st_alloc(sizeof(char *) * pb->n_sample_type);
	d->units = st_alloc(sizeof(char *) * pb->n_sample_type);
	for (size_t i = 0; i < pb->n_sample_type; i++)
		total += d->str[pb->sample_type[i]->type].len +
			d->str[pb->sample_type[i]->unit].len + 8;
	d->type_strs = st_alloc(total);
	if (!d->types || !d->units || !d->type_strs)
		return st_fail(d->err, ST_ERR_NOMEM, "out of memory");
	p = d->type_strs;
	for (size_t i = 0; i < pb->n_sample_type; i++)
	{
		const ProtobufCBinaryData *ty = &d->str[pb->sample_type[i]->type];
		const ProtobufCBinaryData *un = &d->str[pb->sample_type[i]->unit];

		d->types[i] = p;
		if (ty->len)
			memcpy(p, ty->data, ty->len);
		p += ty->len;
		*p++ = '\0';
		d->units[i] = p;
		if (un->len)
		{
			memcpy(p, un->data, un->len);
			p += un->len;
		}
		else
		{
			memcpy(p, "count", 5);
			p += 5;
		}
		*p++ = '\0';
		/* an embedded NUL would silently shorten the name */
		if ((ty->len && memchr(ty->data, 0, ty->len)) ||
			(un->len && memchr(un->data, 0, un->len)))
			return st_fail(d->err, ST_ERR_ENCODING,
						   "invalid pprof: sample type %zu contains a NUL byte", i);
	}
	return true;
}

bool
st_pprof_decode(const uint8_t *data, size_t len, const StPprofOptions *opts,
				StPprofResult *result, StError *err)
{
	static const StPprofOptions default_opts = {ST_PPROF_FUNCTIONS, 0, NULL};
	Decoder		d;
	uint8_t    *raw = NULL;
	size_t		rawlen = 0;
	size_t		nfields,
				nstrings;
	bool		ok = false;

	memset(result, 0, sizeof(*result));
	memset(&d, 0, sizeof(d));
	if (opts == NULL)
		opts = &default_opts;
	d.opts = opts;
	d.err = err;
	d.allocator.alloc = pb_alloc;
	d.allocator.free = pb_free;
	d.allocator.allocator_data = &d;

	if (opts->granularity != ST_PPROF_FUNCTIONS && opts->granularity != ST_PPROF_LINES)
		return st_fail(err, ST_ERR_ARGUMENT, "unknown pprof granularity %d",
					   (int) opts->granularity);
	if (opts->nsplit_keys < 0 || opts->nsplit_keys > MAX_SPLIT_KEYS ||
		(opts->nsplit_keys > 0 && opts->split_keys == NULL))
		return st_fail(err, ST_ERR_ARGUMENT, "invalid label split: 0 to %d keys expected",
					   MAX_SPLIT_KEYS);
	for (int i = 0; i < opts->nsplit_keys; i++)
		if (opts->split_keys[i] == NULL || opts->split_keys[i][0] == '\0')
			return st_fail(err, ST_ERR_ARGUMENT, "empty label split key");
	d.nsplit = opts->nsplit_keys;

	if (data == NULL && len > 0)
		return st_fail(err, ST_ERR_ARGUMENT, "no pprof data");
	if (!st_gunzip_capped(data, len, ST_MAX_RAW_BYTES, &raw, &rawlen, err))
		return false;

	/* cheap structural pass first: refuse huge string tables before unpack */
	if (!scan_profile_fields(raw, rawlen, 0, &nfields, &nstrings))
	{
		st_fail(err, ST_ERR_INVALID_BINARY, "invalid pprof protobuf");
		st_set_detail(err, "the top-level fields of %zu bytes do not parse as a perftools.profiles.Profile",
					  rawlen);
		goto done;
	}
	if (nstrings > ST_MAX_STRINGS)
	{
		st_fail(err, ST_ERR_LIMIT, "huge string table: pprof profile has %zu strings, the limit is %d",
				nstrings, ST_MAX_STRINGS);
		goto done;
	}

	st_check_interrupts();
	d.pb = perftools__profiles__profile__unpack(&d.allocator, rawlen, raw);
	st_free(raw);
	raw = NULL;
	if (d.pb == NULL && d.pb_oom)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto done;
	}
	if (d.pb == NULL)
	{
		st_fail(err, ST_ERR_INVALID_BINARY, "invalid pprof protobuf");
		st_set_detail(err, "protobuf-c could not unpack a perftools.profiles.Profile from %zu bytes",
					  rawlen);
		goto done;
	}
	st_check_interrupts();
	d.nstr = d.pb->n_string_table;
	d.str = d.pb->string_table;

	if (!validate_tables(&d) || !build_columns(&d))
		goto done;

	/* caches */
	d.func_name = st_alloc(sizeof(uint32_t) * (d.pb->n_function ? d.pb->n_function : 1));
	d.loc_off = st_alloc(sizeof(uint32_t) * (d.pb->n_location ? d.pb->n_location : 1));
	d.loc_n = st_alloc(sizeof(uint32_t) * (d.pb->n_location ? d.pb->n_location : 1));
	d.stack = st_alloc(sizeof(uint32_t) * ST_MAX_DEPTH);
	d.tuple = st_alloc(sizeof(int64_t) * (d.nsplit ? d.nsplit : 1));
	if (!d.func_name || !d.loc_off || !d.loc_n || !d.stack || !d.tuple)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto done;
	}
	memset(d.func_name, 0xff, sizeof(uint32_t) * d.pb->n_function);
	memset(d.loc_off, 0xff, sizeof(uint32_t) * d.pb->n_location);
	st_buf_init(&d.namebuf, 256);

	/* the name table: the output tree itself, unless splitting */
	if (d.nsplit == 0)
	{
		d.names_is_output = true;
		if ((d.names = new_tree(&d)) == NULL || find_part(&d) < 0)
			goto done;
	}
	else
	{
		static const char *const nt[] = {"names"};
		static const char *const nu[] = {"count"};

		d.names = st_tree_new(1, nt, nu, err);
		if (d.names == NULL)
			goto done;
	}

	for (size_t si = 0; si < d.pb->n_sample; si++)
	{
		if ((si & (INTERRUPT_EVERY - 1)) == 0)
			st_check_interrupts();
		if (!add_sample(&d, si))
			goto done;
	}

	/* a split profile without samples still yields one (empty) part */
	if (d.nparts == 0)
	{
		for (int k = 0; k < d.nsplit; k++)
			d.tuple[k] = -1;
		if (find_part(&d) < 0)
			goto done;
	}

	result->nparts = (int) d.nparts;
	result->parts = d.parts;
	result->time_nanos = d.pb->time_nanos;
	result->duration_nanos = d.pb->duration_nanos;
	result->nsamples = d.pb->n_sample > INT32_MAX ? INT32_MAX : (int) d.pb->n_sample;
	ok = true;

done:
	st_free(raw);
	decoder_free(&d, ok);
	if (!ok)
		memset(result, 0, sizeof(*result));
	return ok;
}

void
st_pprof_result_free(StPprofResult *result)
{
	if (result == NULL)
		return;
	for (int i = 0; i < result->nparts; i++)
		free_part(&result->parts[i]);
	st_free(result->parts);
	memset(result, 0, sizeof(*result));
}

StTree *
st_tree_from_pprof(const uint8_t *data, size_t len, const StPprofOptions *opts,
				   StError *err)
{
	StPprofOptions o;
	StPprofResult res;
	StTree	   *t;

	if (opts)
		o = *opts;
	else
		memset(&o, 0, sizeof(o));
	o.nsplit_keys = 0;
	o.split_keys = NULL;
	if (!st_pprof_decode(data, len, &o, &res, err))
		return NULL;
	t = res.parts[0].tree;
	res.parts[0].tree = NULL;
	st_pprof_result_free(&res);
	return t;
}
