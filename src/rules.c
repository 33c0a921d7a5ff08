/* The iptables and ip6tables rules that feed a device, derived from its configuration. */
#include "rules.h"

#include <string.h>

#include "conf.h"

/* Length of the run of consecutive queues that starts at index I. */
static size_t
rules_run(const struct conf_device *cd, size_t i)
{
	size_t j = i;

	while (j + 1 < cd->nqueues && cd->queues[j + 1] == cd->queues[j] + 1)
		j++;
	return j - i + 1;
}

/* The target part of a rule for the N queues from index I. */
static void
rules_target(const struct conf_device *cd, size_t i, size_t n, FILE *out)
{
	if (cd->ecn_mask != 0)
		fprintf(out, " -m mark ! --mark 0x%x/0x%x", cd->ecn_mark, cd->ecn_mask);
	if (cd->continue_mask != 0)
		fprintf(out, " -m mark ! --mark 0x%x/0x%x", cd->continue_mark, cd->continue_mask);
	if (n > 1)
		fprintf(out, " -j NFQUEUE --queue-balance %u:%u", cd->queues[i],
		        cd->queues[i + n - 1]);
	else
		fprintf(out, " -j NFQUEUE --queue-num %u", cd->queues[i]);
	fprintf(out, " --queue-bypass\n");
}

/* One rule per run of consecutive queues: --queue-balance takes only a range. */
static void
rules_chain(const struct conf_device *cd, const char *chain, const char *dir, FILE *out)
{
	static const char *const tools[] = {"iptables", "ip6tables"};

	for (size_t t = 0; t < 2; t++) {
		/* A packet the verdict sent back with the ecn mark: CE in its header (checksum
		 * too). */
		if (cd->ecn_mask != 0)
			fprintf(out,
			        "%s -t mangle -A %s %s IFACE -m mark --mark 0x%x/0x%x -j TOS "
			        "--set-tos 0x03/0x03\n",
			        tools[t], chain, dir, cd->ecn_mark, cd->ecn_mask);
		for (size_t i = 0, n; i < cd->nqueues; i += n) {
			n = rules_run(cd, i);
			fprintf(out, "%s -t mangle -A %s %s IFACE", tools[t], chain, dir);
			rules_target(cd, i, n, out);
		}
		/* The mark served its purpose: another device's queue rule must see the packet. */
		if (cd->ecn_mask != 0)
			fprintf(out,
			        "%s -t mangle -A %s %s IFACE -m mark --mark 0x%x/0x%x -j MARK "
			        "--set-xmark 0x0/0x%x\n",
			        tools[t], chain, dir, cd->ecn_mark, cd->ecn_mask, cd->ecn_mask);
	}
}

static void
rules_device(const struct conf_device *cd, FILE *out)
{
	fprintf(out, "# %s: replace IFACE with the interface to shape.\n", cd->name);
	if (rules_run(cd, 0) < cd->nqueues) {
		fprintf(out,
		        "# WARNING: its queues are not one range, so it takes one rule per range.\n"
		        "# NFQUEUE ends the chain: as printed, only the first rule of each\n"
		        "# chain sees traffic. Add a match to each rule but the last that picks\n"
		        "# its share (for example -s 192.0.2.0/25), or give the device one\n"
		        "# range of queues (queues = 4-5).\n");
	}
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
	if (cd->ecn_mask != 0)
		fprintf(
		    out,
		    "# In this order: a packet whose copy the qdisc marked Congestion Experienced\n"
		    "# comes back with ecn-mark 0x%x/0x%x, gets CE set by the TOS rule, passes\n"
		    "# the queue rule, and loses the mark again.\n",
		    cd->ecn_mark, cd->ecn_mask);
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
