/* A small JSON writer: commas, newlines and indentation placed for the caller. */
#include "json.h"

#include <inttypes.h>

void
json_init(struct json *j, FILE *out, int pretty)
{
	j->out = out;
	j->pretty = pretty;
	j->depth = 0;
	j->need_comma = 0;
}

/* Length of the valid UTF-8 sequence at P, 0 if it is not one (P is NUL-terminated). */
static size_t
json_utf8_len(const unsigned char *p)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void
json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

	fputc('"', out);
	while (*p != '\0') {
		size_t n = json_utf8_len(p);

		if (n == 0) {
			fputs("\\ufffd", out);
			p++;
			continue;
		}
		if (n > 1) {
			fwrite(p, 1, n, out);
			p += n;
			continue;
		}
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
			break;
		}
		p++;
	}
	fputc('"', out);
}

void
json_item(struct json *j, const char *key)
{
	if (j->need_comma)
		fputc(',', j->out);
	if (j->pretty && j->depth > 0)
		fprintf(j->out, "\n%*s", j->depth * 2, "");
	if (key != NULL) {
		json_string(j->out, key);
		fputs(j->pretty ? ": " : ":", j->out);
	}
	j->need_comma = 1;
}

void
json_open(struct json *j, const char *key, char bracket)
{
	json_item(j, key);
	fputc(bracket, j->out);
	j->depth++;
	j->need_comma = 0;
}

void
json_close(struct json *j, char bracket)
{
	j->depth--;
	/* Empty containers stay on one line: {} and []. */
	if (j->pretty && j->need_comma)
		fprintf(j->out, "\n%*s", j->depth * 2, "");
	fputc(bracket, j->out);
	j->need_comma = 1;
}

void
json_u64(struct json *j, const char *key, uint64_t v)
{
	json_item(j, key);
	fprintf(j->out, "%" PRIu64, v);
}

void
json_str(struct json *j, const char *key, const char *s)
{
	json_item(j, key);
	json_string(j->out, s);
}
