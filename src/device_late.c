/* Copies given up on: known when they come back late, so they are not taken for strays. */
#include "device_int.h"

#include <stdlib.h>
#include <string.h>

/* Bucket of KEY in the table of copies given up on. */
static uint64_t *
device_late_bucket(struct device *dev, uint64_t key)
{
	return &dev->late[(key & (dev->nlate / DEVICE_LATE_WAYS - 1)) * DEVICE_LATE_WAYS];
}

static void
device_late_key(struct device *dev, uint64_t key)
{
	uint64_t *b = device_late_bucket(dev, key);

	int k;

	for (k = 0; k < DEVICE_LATE_WAYS - 1 && b[k] != key && b[k] != 0; k++)
		;
	/* Newest first: a full bucket forgets its oldest, never one just given up on. */
	memmove(b + 1, b, (size_t)k * sizeof(*b));
	b[0] = key;
}

bool
device_late_has(struct device *dev, uint64_t key)
{
	const uint64_t *b = device_late_bucket(dev, key);

	for (int k = 0; k < DEVICE_LATE_WAYS; k++)
		if (b[k] == key)
			return true;
	return false;
}

/*
 * Room for twice as many copies given up on as packets can be held: a late
 * copy found no more there is counted as a stray. Entries move to a larger
 * table; a smaller one is kept.
 */
int
device_late_size(struct device *dev, size_t capacity)
{
	size_t n = DEVICE_LATE_MIN;
	uint64_t *old = dev->late;
	size_t oldn = dev->nlate;

	while (n < 2 * capacity && n < DEVICE_LATE_MAX)
		n *= 2;
	if (n <= oldn)
		return 0;
	dev->late = calloc(n, sizeof(*dev->late));
	if (dev->late == NULL) {
		dev->late = old;
		return -1;
	}
	dev->nlate = n;
	for (size_t i = 0; i < oldn; i++)
		if (old[i] != 0)
			device_late_key(dev, old[i]);
	free(old);
	return 0;
}

/*
 * PP is decided before all of its copy came back: remember it, so that what
 * comes back later counts as unmatched rather than stray. Segments of a GSO
 * copy are known by their connection.
 */
void
device_late_add(struct device *dev, const struct pending_pkt *pp)
{
	device_late_key(dev, pp->hash);
	if (pp->conn != 0 && pp->nsegs > 1 && pp->seen < pp->nsegs)
		device_late_key(dev, pp->conn ^ DEVICE_LATE_CONN);
}
