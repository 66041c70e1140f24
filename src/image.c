/*
 * image.c - bounds-checked access to copied target memory (see image.h).
 *
 * Lookups compare offsets inside a region, never pointers formed from
 * target addresses, so an address near UINT64_MAX cannot wrap around into
 * a valid-looking range.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "image.h"
#include "xmalloc.h"

void
image_init(struct image *img)
{
	memset(img, 0, sizeof(*img));
}

void
image_free(struct image *img)
{
	for (size_t i = 0; i < img->n; i++) {
		if (!img->buf)
			free(img->r[i].data);
		free(img->r[i].name);
		free(img->r[i].holes);
	}
	free(img->r);
	if (img->buf)
		munmap(img->buf, img->buflen);
	image_init(img);
}

int
image_add_copy(struct image *img, uint64_t start, const void *data, size_t len,
	       unsigned perms, const char *name)
{
	size_t i;

	if (img->buf || len == 0 || start + len < start)
		return -1;
	for (i = 0; i < img->n && img->r[i].start < start; i++)
		;
	if (i > 0 && img->r[i - 1].end > start)
		return -1;
	if (i < img->n && img->r[i].start < start + len)
		return -1;
	img->r = xgrow(img->r, &img->cap, img->n + 1, sizeof(*img->r));
	memmove(&img->r[i + 1], &img->r[i], (img->n - i) * sizeof(*img->r));
	memset(&img->r[i], 0, sizeof(img->r[i]));
	img->r[i].start = start;
	img->r[i].end = start + len;
	img->r[i].data = xmalloc(len);
	memcpy(img->r[i].data, data, len);
	img->r[i].perms = perms;
	img->r[i].name = xstrdup(name ? name : "");
	img->n++;
	img->bytes += len;
	return 0;
}

const struct region *
image_region(const struct image *img, uint64_t addr)
{
	size_t lo = 0, hi = img->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < img->r[mid].start)
			hi = mid;
		else if (addr >= img->r[mid].end)
			lo = mid + 1;
		else
			return &img->r[mid];
	}
	return NULL;
}

static bool
touches_hole(const struct region *r, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < r->nholes; i++)
		if (addr < r->holes[i].end && addr + len > r->holes[i].start)
			return true;
	return false;
}

const void *
image_ptr(const struct image *img, uint64_t addr, size_t len)
{
	const struct region *r = image_region(img, addr);
	uint64_t off;

	if (!r)
		return NULL;
	off = addr - r->start;
	if (len > r->end - r->start - off)
		return NULL;
	if (r->nholes && touches_hole(r, addr, len))
		return NULL;
	return r->data + off;
}

bool
image_u64(const struct image *img, uint64_t addr, uint64_t *out)
{
	const void *p = image_ptr(img, addr, 8);

	if (!p)
		return false;
	memcpy(out, p, 8);
	return true;
}

bool
image_u32(const struct image *img, uint64_t addr, uint32_t *out)
{
	const void *p = image_ptr(img, addr, 4);

	if (!p)
		return false;
	memcpy(out, p, 4);
	return true;
}

bool
image_u16(const struct image *img, uint64_t addr, uint16_t *out)
{
	const void *p = image_ptr(img, addr, 2);

	if (!p)
		return false;
	memcpy(out, p, 2);
	return true;
}
