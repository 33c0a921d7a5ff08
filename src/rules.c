/* The iptables and ip6tables rules that feed a device, derived from its configuration. */
#include "rules.h"

#include <string.h>

#include "conf.h"

static bool
rules_contiguous(const struct conf_device *cd)
{
	return cd->queues[cd->nqueues - 1] - cd->queues[0] + 1u == cd->nqueues;
}

/* The target part of a rule; queue QIDX, or the whole set when it is contiguous. */
static void
rules_target(const struct conf_device *cd, size_t qidx, FILE *out)
{
	if (cd->continue_mask != 0)
		fprintf(out, " -m mark ! --mark 0x%x/0x%x", cd->continue_mark, cd->continue_mask);
	if (cd->nqueues > 1 && rules_contiguous(cd))
		fprintf(out, " -j NFQUEUE --queue-balance %u:%u", cd->queues[0],
		        cd->queues[cd->nqueues - 1]);
	else
		fprintf(out, " -j NFQUEUE --queue-num %u", cd->queues[qidx]);
	fprintf(out, " --queue-bypass\n");
}

static void
rules_chain(const struct conf_device *cd, const char *chain, const char *dir, FILE *out)
{
	size_t n = cd->nqueues > 1 && rules_contiguous(cd) ? 1 : cd->nqueues;
	static const char *const tools[] = {"iptables", "ip6tables"};

	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < n; i++) {
			fprintf(out, "%s -t mangle -A %s %s IFACE", tools[t], chain, dir);
			rules_target(cd, i, out);
		}
	}
}

static void
rules_device(const struct conf_device *cd, FILE *out)
{
	fprintf(out, "# %s: replace IFACE with the interface to shape.\n", cd->name);
	if (cd->nqueues > 1 && !rules_contiguous(cd))
		fprintf(out, "# Its queues are not contiguous: split the traffic between the "
		             "rules below.\n");
	fprintf(out, "# Ingress: what arrives on IFACE, before DNAT (IMQ's PREROUTING).\n");
	rules_chain(cd, "PREROUTING", "-i", out);
	fprintf(out, "# Egress: what leaves on IFACE, before SNAT, locally generated "
	             "traffic included (IMQ's POSTROUTING).\n");
	rules_chain(cd, "POSTROUTING", "-o", out);
	if (cd->continue_mask != 0)
		fprintf(out,
		        "# Rules after these see each packet once it is shaped "
		        "(continue-mark 0x%x/0x%x).\n",
		        cd->continue_mark, cd->continue_mask);
}

int
rules_print(const struct conf *conf, const char *dev, FILE *out)
{
	int found = 0;

	for (const struct conf_device *cd = conf->devices; cd != NULL; cd = cd->next) {
		if (dev != NULL && strcmp(dev, cd->name) != 0)
			continue;
		if (found++)
			fputc('\n', out);
		rules_device(cd, out);
	}
	return dev != NULL && found == 0 ? -1 : 0;
}
