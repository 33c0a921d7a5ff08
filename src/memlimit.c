/* The memory imqd may use: its cgroup's limit, or the machine's memory. */
#include "memlimit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMLIMIT_V2 "/sys/fs/cgroup"
#define MEMLIMIT_V2_HYBRID "/sys/fs/cgroup/unified"
#define MEMLIMIT_V1 "/sys/fs/cgroup/memory"

/* The number in FILE ("max" and unreadable files: none, UINT64_MAX). */
static uint64_t
memlimit_read(const char *file)
{
	char buf[64];
	FILE *f = fopen(file, "re");
	uint64_t v = UINT64_MAX;

	if (f == NULL)
		return UINT64_MAX;
	if (fgets(buf, sizeof(buf), f) != NULL && strncmp(buf, "max", 3) != 0)
		v = strtoull(buf, NULL, 10);
	fclose(f);
	return v == 0 ? UINT64_MAX : v;
}

/* The lowest of NAME in ROOT/PATH and every directory above it up to ROOT. */
static uint64_t
memlimit_walk(const char *root, const char *path, const char *name)
{
	char dir[4096], file[4200];
	uint64_t lowest = UINT64_MAX;

	if (snprintf(dir, sizeof(dir), "%s%s", root, path) >= (int)sizeof(dir))
		return UINT64_MAX;
	for (;;) {
		snprintf(file, sizeof(file), "%s/%s", dir, name);
		uint64_t v = memlimit_read(file);
		if (v < lowest)
			lowest = v;
		char *slash = strrchr(dir, '/');
		if (slash == NULL || (size_t)(slash - dir) < strlen(root))
			break;
		*slash = '\0';
	}
	return lowest;
}

/* The lowest cgroup limit of this process, v2 or v1, UINT64_MAX if none. */
static uint64_t
memlimit_cgroup(void)
{
	char line[4200];
	uint64_t lowest = UINT64_MAX;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (f == NULL)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* "0::/path" (v2), "4:memory:/path" (v1) */
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		const char *ctl = c1 + 1, *path = c2 + 1;
		uint64_t v = UINT64_MAX;
		if (strcmp(ctl, "") == 0 && strcmp(line, "0") == 0) {
			v = memlimit_walk(MEMLIMIT_V2, path, "memory.max");
			uint64_t h = memlimit_walk(MEMLIMIT_V2_HYBRID, path, "memory.max");
			v = h < v ? h : v;
		} else if (strstr(ctl, "memory") != NULL) {
			v = memlimit_walk(MEMLIMIT_V1, path, "memory.limit_in_bytes");
		}
		if (v < lowest)
			lowest = v;
	}
	fclose(f);
	return lowest;
}

uint64_t
memlimit_bytes(void)
{
	uint64_t limit = memlimit_cgroup();
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	if (pages > 0 && size > 0 && (uint64_t)pages * (uint64_t)size < limit)
		limit = (uint64_t)pages * (uint64_t)size;
	return limit;
}
