/*
 * make_seeds.c
 *	  Writes seed inputs for the codec and folded fuzz targets from real
 *	  profiles: for each input file (pprof, gzipped or not, or folded text)
 *	  the tree's stored form with the payload left uncompressed (so that
 *	  mutations reach the payload fields), and its canonical folded text.
 *
 * Usage: make_seeds CODEC_DIR FOLDED_DIR FILE...
 *	 CODEC_DIR/NAME.bin     uncompressed stored form
 *	 CODEC_DIR/NAME.zst     the stored form as st_encode writes it (zstd)
 *	 FOLDED_DIR/NAME.txt    st_tree_to_folded output
 * NAME is the file's base name without extensions.  fuzz/run.sh runs it
 * into the scratch corpus on every run, so the codec seeds always match
 * the current format; fuzz/seeds/codec holds a committed copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "st_codec.h"
#include "st_folded.h"
#include "st_pprof.h"

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf = NULL;
	size_t		cap = 0,
				n = 0,
				got;

	if (f == NULL)
		return NULL;
	do
	{
		if (n == cap)
		{
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (buf == NULL)
				exit(2);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return buf;
}

static bool
write_file(const char *dir, const char *name, const char *ext,
		   const void *data, size_t len)
{
	char		path[4096];
	FILE	   *f;
	bool		ok;

	snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext);
	f = fopen(path, "wb");
	if (f == NULL)
	{
		perror(path);
		return false;
	}
	ok = fwrite(data, 1, len, f) == len;
	ok = (fclose(f) == 0) && ok;
	if (!ok)
		perror(path);
	return ok;
}

/* base name without directory and extensions */
static void
base_name(const char *path, char *out, size_t size)
{
	const char *s = strrchr(path, '/');
	char	   *dot;

	snprintf(out, size, "%s", s ? s + 1 : path);
	dot = strchr(out, '.');
	if (dot && dot != out)
		*dot = '\0';
}

int
main(int argc, char **argv)
{
	int			failed = 0;

	if (argc < 4)
	{
		fprintf(stderr, "usage: %s CODEC_DIR FOLDED_DIR FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 3; i < argc; i++)
	{
		size_t		len,
					elen,
					tlen;
		uint8_t    *data = read_file(argv[i], &len);
		StError		err;
		StTree	   *t;
		uint8_t    *enc;
		char	   *text;
		char		name[256];

		if (data == NULL)
		{
			perror(argv[i]);
			failed++;
			continue;
		}
		base_name(argv[i], name, sizeof(name));
		if (st_pprof_sniff(data, len))
			t = st_tree_from_pprof(data, len, NULL, &err);
		else
			t = st_tree_from_folded((const char *) data, len, &err);
		free(data);
		if (t == NULL)
		{
			fprintf(stderr, "%s: %s\n", argv[i], err.msg);
			failed++;
			continue;
		}
		enc = st_encode(t, &elen, &err);
		text = st_tree_to_folded(t, &tlen, &err);
		if (enc == NULL || text == NULL)
		{
			fprintf(stderr, "%s: %s\n", argv[i], err.msg);
			failed++;
		}
		else
		{
			uint8_t    *raw = NULL;
			size_t		rawlen = elen;

			if (enc[1] & ST_FLAG_ZSTD)
			{
				size_t		plen = (size_t) enc[2] | ((size_t) enc[3] << 8) |
					((size_t) enc[4] << 16) | ((size_t) enc[5] << 24);

				raw = malloc(ST_HEADER_BYTES + plen);
				memcpy(raw, enc, ST_HEADER_BYTES);
				raw[1] = 0;
				if (ZSTD_decompress(raw + ST_HEADER_BYTES, plen, enc + ST_HEADER_BYTES,
									elen - ST_HEADER_BYTES) != plen)
				{
					fprintf(stderr, "%s: zstd round trip failed\n", argv[i]);
					failed++;
				}
				rawlen = ST_HEADER_BYTES + plen;
			}
			if (!write_file(argv[1], name, ".bin", raw ? raw : enc, rawlen) ||
				(raw && !write_file(argv[1], name, ".zst", enc, elen)) ||
				!write_file(argv[2], name, ".txt", text, tlen))
				failed++;
			free(raw);
		}
		st_free(enc);
		st_free(text);
		st_tree_free(t);
	}
	return failed ? 1 : 0;
}
