/*
 * st_codec.h
 *	  The stored (and binary send/recv) form of a stacktree: a canonical,
 *	  columnar, zstd-compressed encoding of an StTree, and its validating
 *	  decoder.
 *
 * Layout of an encoded value (what follows the varlena header):
 *	 byte 0     format version (ST_FORMAT_VERSION)
 *	 byte 1     flags (bit 0: payload is zstd-compressed)
 *	 bytes 2-5  payload length before compression, little endian
 *	 rest       payload (see st_codec.c for the payload fields)
 *
 * Encoding is canonical: equal trees give equal bytes.
 */
#ifndef ST_CODEC_H
#define ST_CODEC_H

#include "st_tree.h"

#define ST_FORMAT_VERSION	1
#define ST_FLAG_ZSTD		0x01
#define ST_HEADER_BYTES		6

/*
 * Encode t into a newly allocated buffer (st_alloc); *out_len gets its
 * length.  Returns NULL with err filled on failure.
 */
extern uint8_t *st_encode(const StTree *t, size_t *out_len, StError *err);

/* Decode and validate an encoded value into a new tree. */
extern StTree *st_decode(const uint8_t *data, size_t len, StError *err);

/*
 * Decode and validate an encoded value, merging it into dst (columns
 * aligned by name; mismatches refused).  Faster than decode + merge.
 */
extern bool st_decode_merge(StTree *dst, const uint8_t *data, size_t len,
							StError *err);

/*
 * Canonical node order: ids of non-root nodes in depth-first order with
 * children sorted by name bytes; depth[i] (1-based) alongside.  Both arrays
 * allocated with st_alloc; NULL on error.
 */
extern uint32_t *st_canonical_order(const StTree *t, uint32_t **depth,
									StError *err);

#endif							/* ST_CODEC_H */
