/*
 * libFuzzer target for the imqd.conf parser: any input is parsed as if it
 * were a configuration file. A configuration that parses is printed, the
 * printed text parsed again and printed again: it must parse, and the two
 * printouts must be identical (imqd -T output is a valid, stable config).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *fuzz_null;

/* Print CONF into a malloc'ed string; *LEN gets its length. */
static char *
fuzz_print(const struct conf *conf, size_t *len)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len);

	if (out == NULL)
		abort();
	conf_print(conf, out);
	if (fclose(out) != 0)
		abort();
	return text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *conf, *again;
	char *first, *second;
	size_t n1, n2;

	if (fuzz_null == NULL && (fuzz_null = fopen("/dev/null", "w")) == NULL)
		abort();
	conf = conf_parse("fuzz.conf", (const char *)data, size, fuzz_null);
	if (conf == NULL)
		return 0;
	first = fuzz_print(conf, &n1);
	again = conf_parse("printed.conf", first, n1, stderr);
	if (again == NULL) {
		fprintf(stderr, "printed configuration does not parse:\n%s", first);
		abort();
	}
	second = fuzz_print(again, &n2);
	if (n1 != n2 || memcmp(first, second, n1) != 0) {
		fprintf(stderr, "printout changed by a round trip:\n%s----\n%s", first, second);
		abort();
	}
	for (const struct conf_device *d = conf->devices; d != NULL; d = d->next) {
		const struct conf_device *e = conf_device_find(again, d->name);
		if (e == NULL || conf_device_changed(d, e)) {
			fprintf(stderr, "device %s changed by a round trip\n", d->name);
			abort();
		}
	}
	free(first);
	free(second);
	conf_free(again);
	conf_free(conf);
	return 0;
}
