/*
 * st_flame.c
 *	  Flame graph rows (Grafana's nested-set data frame) and the SVG
 *	  renderer: a flame graph in the style of Brendan Gregg's flamegraph.pl
 *	  (root at the bottom, hover titles, click to zoom, search), as one
 *	  self-contained document with its script inline.
 */
#include "st_flame.h"
#include "st_codec.h"

#include <math.h>
#include <string.h>

StFlameRow *
st_flame_rows(const StTree *t, int col, int col_right, uint32_t *n,
			  StError *err)
{
	int64_t    *cum = NULL;
	uint32_t   *order = NULL;
	uint32_t   *depth = NULL;
	StFlameRow *rows = NULL;
	uint32_t	nn = t->nnodes - 1;
	uint32_t	out = 0;
	int			k = t->ncols;

	*n = 0;
	if (col < 0 || col >= k || col_right < -1 || col_right >= k)
	{
		st_fail(err, ST_ERR_ARGUMENT, "flame graph column out of range");
		return NULL;
	}
	cum = st_tree_cumulative(t, err);
	if (cum == NULL)
		return NULL;
	order = st_canonical_order(t, &depth, err);
	if (order == NULL)
		goto done;
	rows = st_alloc((size_t) (nn + 1) * sizeof(StFlameRow));
	if (rows == NULL)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (int64_t i = -1; i < (int64_t) nn; i++)
	{
		uint32_t	node = i < 0 ? 0 : order[i];
		StFlameRow *r = &rows[out];

		if ((i & 16383) == 0)
			st_check_interrupts();
		r->node = node;
		r->level = i < 0 ? 0 : depth[i];
		r->value = cum[(size_t) node * k + col];
		r->self = t->values[(size_t) node * k + col];
		r->value_right = col_right >= 0 ? cum[(size_t) node * k + col_right] : 0;
		r->self_right = col_right >= 0 ? t->values[(size_t) node * k + col_right] : 0;
		if (i >= 0 && r->value == 0 && r->value_right == 0)
			continue;
		out++;
	}
	*n = out;
done:
	st_free(cum);
	st_free(order);
	st_free(depth);
	return rows;
}

/* ---------------------------------------------------------------- SVG */

#define FRAME_H		16
#define FONT_SIZE	12
#define FONT_W		0.59		/* average glyph width / font size */
#define PAD_X		10
#define PAD_TOP		(FONT_SIZE * 3)
#define PAD_BOTTOM	(FONT_SIZE * 2 + 10)

/* XML-escape name (valid UTF-8, no NUL); control characters become '?' */
static void
put_escaped(StBuf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		switch (c)
		{
			case '&':
				st_buf_put(b, "&amp;", 5);
				break;
			case '<':
				st_buf_put(b, "&lt;", 4);
				break;
			case '>':
				st_buf_put(b, "&gt;", 4);
				break;
			case '"':
				st_buf_put(b, "&quot;", 6);
				break;
			case '\'':
				st_buf_put(b, "&#39;", 5);
				break;
			default:
				if (c < 0x20)
					st_buf_putc(b, '?');
				/* U+FFFE and U+FFFF are not XML characters */
				else if (c == 0xEF && i + 2 < len &&
						 (unsigned char) s[i + 1] == 0xBF &&
						 ((unsigned char) s[i + 2] & 0xFE) == 0xBE)
				{
					st_buf_putc(b, '?');
					i += 2;
				}
				else
					st_buf_putc(b, c);
		}
	}
}

/* number of UTF-8 characters in s[0..len) */
static size_t
utf8_chars(const char *s, size_t len)
{
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* byte length of the first nchars characters of s */
static size_t
utf8_prefix(const char *s, size_t len, size_t nchars)
{
	size_t		i = 0,
				n = 0;

	while (i < len)
	{
		if (((unsigned char) s[i] & 0xC0) != 0x80)
		{
			if (n == nchars)
				break;
			n++;
		}
		i++;
	}
	return i;
}

static void
color_hot(const char *name, size_t len, int *r, int *g, int *bl)
{
	uint64_t	h = st_hash_bytes(name, len);
	double		v1 = (double) (h & 0xffff) / 65535.0;
	double		v2 = (double) ((h >> 16) & 0xffff) / 65535.0;
	double		v3 = (double) ((h >> 32) & 0xffff) / 65535.0;

	*r = 205 + (int) (50 * v3);
	*g = (int) (230 * v1);
	*bl = (int) (55 * v2);
}

static const char *svg_script =
"<script type=\"text/ecmascript\"><![CDATA[\n"
"'use strict';\n"
"var svg, details, matchedtxt, frames = [], W, zoomed = null;\n"
"function init(evt) {\n"
"  svg = document.documentElement;\n"
"  details = document.getElementById('details').firstChild;\n"
"  matchedtxt = document.getElementById('matched');\n"
"  W = parseFloat(svg.getAttribute('data-w'));\n"
"  var gs = document.querySelectorAll('g.f');\n"
"  for (var i = 0; i < gs.length; i++) {\n"
"    var g = gs[i];\n"
"    frames.push({g: g, x: parseFloat(g.getAttribute('data-x')), w: parseFloat(g.getAttribute('data-w')),\n"
"      l: parseInt(g.getAttribute('data-l')), name: g.getElementsByTagName('title')[0].textContent.split('\\n')[0],\n"
"      rect: g.getElementsByTagName('rect')[0], text: g.getElementsByTagName('text')[0]});\n"
"    g.addEventListener('click', function (e) { zoom(this); e.stopPropagation(); });\n"
"    g.addEventListener('mouseover', function () { details.nodeValue = this.getElementsByTagName('title')[0].textContent.replace(/\\n/g, ' '); });\n"
"    g.addEventListener('mouseout', function () { details.nodeValue = ' '; });\n"
"  }\n"
"  document.getElementById('unzoom').addEventListener('click', function () { zoom(null); });\n"
"  document.getElementById('search').addEventListener('click', search_prompt);\n"
"  window.addEventListener('keydown', function (e) { if (e.key === 'Escape') { zoom(null); reset_search(); } });\n"
"}\n"
"function fit(f, px) {\n"
"  var n = Math.floor((px - 6) / (" "12 * 0.59" "));\n"
"  if (n < 3) return '';\n"
"  if (f.name.length <= n) return f.name;\n"
"  return f.name.substring(0, n - 2) + '..';\n"
"}\n"
"function place(f, x0, w0, faded) {\n"
"  var px = 10 + x0 * W, pw = w0 * W;\n"
"  f.rect.setAttribute('x', px.toFixed(1)); f.rect.setAttribute('width', Math.max(pw, 0).toFixed(1));\n"
"  if (f.text) { f.text.setAttribute('x', (px + 3).toFixed(1)); f.text.textContent = fit(f, pw); }\n"
"  f.g.style.display = ''; f.g.style.opacity = faded ? '0.5' : '';\n"
"}\n"
"function zoom(g) {\n"
"  var z = null;\n"
"  for (var i = 0; i < frames.length; i++) if (frames[i].g === g) z = frames[i];\n"
"  zoomed = z;\n"
"  document.getElementById('unzoom').style.opacity = z ? '1' : '0';\n"
"  for (var i = 0; i < frames.length; i++) {\n"
"    var f = frames[i];\n"
"    if (!z) { place(f, f.x, f.w, false); continue; }\n"
"    var e = 1e-12;\n"
"    if (f.l < z.l) {\n"
"      if (f.x <= z.x + e && f.x + f.w >= z.x + z.w - e) place(f, 0, 1, true); else f.g.style.display = 'none';\n"
"    } else if (f.x >= z.x - e && f.x + f.w <= z.x + z.w + e) {\n"
"      var nw = f.w / z.w;\n"
"      place(f, (f.x - z.x) / z.w, nw, false);\n"
"    } else f.g.style.display = 'none';\n"
"  }\n"
"}\n"
"function reset_search() {\n"
"  for (var i = 0; i < frames.length; i++) frames[i].rect.setAttribute('fill', frames[i].rect.getAttribute('data-fill'));\n"
"  matchedtxt.textContent = ' ';\n"
"}\n"
"function search_prompt() {\n"
"  var term = prompt('Search frames (regular expression):', '');\n"
"  if (term === null) return;\n"
"  reset_search();\n"
"  if (term === '') return;\n"
"  var re; try { re = new RegExp(term); } catch (e) { matchedtxt.textContent = 'bad regex'; return; }\n"
"  var spans = [];\n"
"  for (var i = 0; i < frames.length; i++) {\n"
"    var f = frames[i];\n"
"    if (f.l > 0 && re.test(f.name)) { f.rect.setAttribute('fill', 'rgb(230,0,230)'); spans.push([f.x, f.x + f.w]); }\n"
"  }\n"
"  spans.sort(function (a, b) { return a[0] - b[0]; });\n"
"  var tot = 0, end = -1;\n"
"  for (var j = 0; j < spans.length; j++) {\n"
"    var s = Math.max(spans[j][0], end), e2 = spans[j][1];\n"
"    if (e2 > s) { tot += e2 - s; end = e2; }\n"
"  }\n"
"  matchedtxt.textContent = 'Matched: ' + (100 * tot).toFixed(2) + '%';\n"
"}\n"
"]]></script>\n";

char *
st_flame_svg(const StTree *t, const StSvgOptions *o, size_t *out_len,
			 StError *err)
{
	int64_t    *cum = NULL;
	uint32_t   *order = NULL;
	uint32_t   *depth = NULL;
	int64_t    *xoff = NULL;	/* start of each node, in value units */
	int64_t    *next = NULL;	/* next free offset among a node's children */
	char	   *result = NULL;
	uint32_t	nn = t->nnodes - 1;
	int			k = t->ncols;
	bool		diff = o->col_right >= 0;
	int64_t		total,
				tot_l,
				tot_r;
	double		scale,
				maxd = 0.0,
				inner;
	uint32_t	maxlevel = 0;
	int			height;
	StBuf		b;
	const char *unit;

	if (o->col < 0 || o->col >= k || o->col_right < -1 || o->col_right >= k)
	{
		st_fail(err, ST_ERR_ARGUMENT, "flame graph column out of range");
		return NULL;
	}
	if (o->width < 200 || o->width > 100000)
	{
		st_fail(err, ST_ERR_ARGUMENT, "flame graph width must be 200 to 100000 pixels");
		return NULL;
	}
	if (!(o->min_width >= 0.0) || isinf(o->min_width))
	{
		st_fail(err, ST_ERR_ARGUMENT, "minimum frame width must be a finite number >= 0");
		return NULL;
	}
	cum = st_tree_cumulative(t, err);
	if (cum == NULL)
		return NULL;
	order = st_canonical_order(t, &depth, err);
	xoff = st_alloc((size_t) t->nnodes * sizeof(int64_t));
	next = st_alloc((size_t) t->nnodes * sizeof(int64_t));
	if (order == NULL || xoff == NULL || next == NULL)
	{
		if (order != NULL)
			st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto done;
	}
	tot_l = cum[o->col];
	tot_r = diff ? cum[o->col_right] : 0;
	if (__builtin_add_overflow(tot_l, tot_r, &total))
	{
		st_fail(err, ST_ERR_OVERFLOW, "total overflows 64 bits");
		goto done;
	}
	unit = t->cols[o->col].unit;
	inner = (double) (o->width - 2 * PAD_X);
	scale = total > 0 ? inner / (double) total : 0.0;

	/* pass 1: offsets, deepest visible level, largest share change */
	xoff[0] = 0;
	next[0] = 0;
	for (uint32_t i = 0; i < nn; i++)
	{
		uint32_t	node = order[i];
		uint32_t	p = t->parent[node];
		int64_t		w = cum[(size_t) node * k + o->col] +
			(diff ? cum[(size_t) node * k + o->col_right] : 0);

		xoff[node] = next[p];
		next[p] += w;
		next[node] = xoff[node];
		if (w > 0 && (double) w * scale >= o->min_width && depth[i] > maxlevel)
			maxlevel = depth[i];
		if (diff && w > 0)
		{
			double		sl = tot_l ? (double) cum[(size_t) node * k + o->col] / tot_l : 0;
			double		sr = tot_r ? (double) cum[(size_t) node * k + o->col_right] / tot_r : 0;

			if (fabs(sr - sl) > maxd)
				maxd = fabs(sr - sl);
		}
	}
	height = PAD_TOP + (int) (maxlevel + 1) * FRAME_H + PAD_BOTTOM;

	st_buf_init(&b, 4096 + (size_t) nn * 200);
	st_buf_printf(&b,
				  "<?xml version=\"1.0\" standalone=\"no\"?>\n"
				  "<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
				  "onload=\"init(evt)\" data-w=\"%d\" "
				  "xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n"
				  "<!-- flame graph generated by stackhouse.flamegraph_svg -->\n"
				  "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
				  "<stop stop-color=\"#eeeeee\" offset=\"5%%\"/><stop stop-color=\"%s\" offset=\"95%%\"/>"
				  "</linearGradient></defs>\n"
				  "<style type=\"text/css\">text { font-family: Verdana, sans-serif; font-size: %dpx; fill: rgb(0,0,0); } "
				  "g.f:hover { stroke: black; stroke-width: 0.5; cursor: pointer; } "
				  "#title { text-anchor: middle; font-size: 17px; } #search, #unzoom { cursor: pointer; }</style>\n",
				  o->width, height, o->width, height, (int) inner,
				  diff ? "#eeeeb0" : "#eeeeb0", FONT_SIZE);
	st_buf_put(&b, svg_script, strlen(svg_script));
	st_buf_printf(&b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"url(#background)\"/>\n",
				  o->width, height);
	st_buf_printf(&b, "<text id=\"title\" x=\"%d\" y=\"%d\">", o->width / 2, FONT_SIZE * 2);
	if (o->title)
		put_escaped(&b, o->title, strlen(o->title));
	else
		st_buf_printf(&b, "%s", diff ? "Differential Flame Graph" : "Flame Graph");
	st_buf_printf(&b, "</text>\n"
				  "<text id=\"unzoom\" x=\"%d\" y=\"%d\" style=\"opacity:0\">Reset Zoom</text>\n"
				  "<text id=\"search\" x=\"%d\" y=\"%d\" text-anchor=\"end\">Search</text>\n"
				  "<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n"
				  "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n",
				  PAD_X, FONT_SIZE * 2, o->width - PAD_X, FONT_SIZE * 2,
				  o->width - PAD_X, height - FONT_SIZE / 2, PAD_X, height - FONT_SIZE / 2);

	/* pass 2: the frames, root first */
	for (int64_t i = -1; i < (int64_t) nn; i++)
	{
		uint32_t	node = i < 0 ? 0 : order[i];
		uint32_t	level = i < 0 ? 0 : depth[i];
		int64_t		vl = cum[(size_t) node * k + o->col];
		int64_t		vr = diff ? cum[(size_t) node * k + o->col_right] : 0;
		int64_t		sl = t->values[(size_t) node * k + o->col];
		int64_t		w = vl + vr;
		double		px,
					pw;
		const char *name;
		size_t		len,
					fitc,
					chars;
		int			r,
					g,
					bl;

		if ((i & 4095) == 0)
			st_check_interrupts();
		if (b.oom)
			break;
		pw = (double) w * scale;
		if (i >= 0 && (w == 0 || pw < o->min_width))
			continue;
		px = PAD_X + (double) xoff[node] * scale;
		if (i < 0)
		{
			name = "all";
			len = 3;
		}
		else
		{
			name = st_tree_string(t, t->frame[node]);
			len = t->str_len[t->frame[node]];
		}
		if (diff)
		{
			double		a = tot_l ? (double) vl / tot_l : 0;
			double		c = tot_r ? (double) vr / tot_r : 0;
			double		d = c - a;
			double		in = maxd > 0 ? fabs(d) / maxd : 0.0;
			int			fade = (int) (220.0 * (1.0 - in)) + 15;

			if (i < 0 || in < 1e-9)
				r = g = bl = 235;
			else if (d > 0)
			{
				r = 255;
				g = bl = fade;
			}
			else
			{
				r = g = fade;
				bl = 255;
			}
		}
		else
			color_hot(name, len, &r, &g, &bl);

		st_buf_printf(&b, "<g class=\"f\" data-x=\"%.9f\" data-w=\"%.9f\" data-l=\"%u\"><title>",
					  total ? (double) xoff[node] / total : 0.0,
					  total ? (double) w / total : 0.0, level);
		put_escaped(&b, name, len);
		if (diff)
		{
			int64_t		sr = t->values[(size_t) node * k + o->col_right];
			double		a = tot_l ? 100.0 * vl / tot_l : 0;
			double		c = tot_r ? 100.0 * vr / tot_r : 0;

			st_buf_printf(&b, "\nbase %lld %s (%.2f%%), test %lld %s (%.2f%%), change %+.2f points; self base %lld, test %lld",
						  (long long) vl, unit, a, (long long) vr, unit, c, c - a,
						  (long long) sl, (long long) sr);
		}
		else
			st_buf_printf(&b, "\n%lld %s, %.2f%% of total; self %lld",
						  (long long) vl, unit,
						  tot_l ? 100.0 * vl / tot_l : 0.0, (long long) sl);
		st_buf_printf(&b, "</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
					  "fill=\"rgb(%d,%d,%d)\" data-fill=\"rgb(%d,%d,%d)\" rx=\"2\" ry=\"2\"/>",
					  px, height - PAD_BOTTOM - (int) (level + 1) * FRAME_H, pw,
					  FRAME_H - 1, r, g, bl, r, g, bl);
		/* label: whole name if it fits, else a prefix and "..", else none */
		st_buf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\">", px + 3,
					  height - PAD_BOTTOM - (int) (level + 1) * FRAME_H + 11.5);
		fitc = pw > 6 ? (size_t) ((pw - 6) / (FONT_SIZE * FONT_W)) : 0;
		chars = utf8_chars(name, len);
		if (fitc >= 3)
		{
			if (chars <= fitc)
				put_escaped(&b, name, len);
			else
			{
				put_escaped(&b, name, utf8_prefix(name, len, fitc - 2));
				st_buf_put(&b, "..", 2);
			}
		}
		st_buf_put(&b, "</text></g>\n", 12);
	}
	st_buf_put(&b, "</svg>\n", 8);	/* includes the NUL */
	if (b.oom)
	{
		st_buf_free(&b);
		st_fail(err, ST_ERR_NOMEM, "out of memory building the SVG");
		goto done;
	}
	result = (char *) b.data;
	*out_len = b.len - 1;
done:
	st_free(cum);
	st_free(order);
	st_free(depth);
	st_free(xoff);
	st_free(next);
	return result;
}
