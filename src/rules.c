/* The iptables, ip6tables and nftables rules that feed a device, derived from its configuration. */
#include "rules.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "conf.h"
#include "json.h"

#define RULES_MAX_WORDS 28 /* the longest, an egress queue rule with both marks, has 24 */
#define RULES_WORD_SIZE 32

/* Where a rule hooks in: IMQ's two places, and the words that tell them apart. */
static const struct rules_hook {
	const char *direction; /* in the JSON output */
	const char *chain;     /* iptables chain */
	const char *ipt_dir;   /* iptables interface match */
	const char *nft_chain;
	const char *nft_dir; /* nft interface match */
	const char *comment;
	const char *nft_comment;
	const char *physdev; /* the bridge port match, bridge = yes */
	const char *bridge_comment;
} rules_hooks[] = {
    {"ingress", "PREROUTING", "-i", "prerouting", "iifname",
     "Ingress: what arrives on IFACE, before DNAT (IMQ's PREROUTING).",
     "ingress, what arrives on IFACE, before DNAT", "--physdev-in",
     "Ingress: what arrives on bridge port IFACE."},
    {"egress", "POSTROUTING", "-o", "postrouting", "oifname",
     "Egress: what leaves on IFACE, before SNAT, locally generated traffic included "
     "(IMQ's POSTROUTING).",
     "egress, what leaves on IFACE (local traffic too), before SNAT", "--physdev-out",
     "Egress: what the bridge forwards out of port IFACE."},
};

static const char *const rules_tools[] = {"iptables", "ip6tables"};

/* The words of one iptables rule. */
struct rules_words {
	size_t n;
	char w[RULES_MAX_WORDS][RULES_WORD_SIZE];
};

/* Length of the run of consecutive queues that starts at index I. */
static size_t
rules_run(const struct conf_device *cd, size_t i)
{
	size_t j = i;

	while (j + 1 < cd->nqueues && cd->queues[j + 1] == cd->queues[j] + 1)
		j++;
	return j - i + 1;
}

static void
rules_add(struct rules_words *r, const char *word)
{
	if (r->n < RULES_MAX_WORDS)
		snprintf(r->w[r->n++], RULES_WORD_SIZE, "%s", word);
}

/* "-m mark [!] --mark MARK/MASK". */
static void
rules_add_mark(struct rules_words *r, bool negate, uint32_t mark, uint32_t mask)
{
	char num[RULES_WORD_SIZE];

	rules_add(r, "-m");
	rules_add(r, "mark");
	if (negate)
		rules_add(r, "!");
	rules_add(r, "--mark");
	snprintf(num, sizeof(num), "0x%x/0x%x", mark, mask);
	rules_add(r, num);
}

/*
 * The interface: -i or -o IFACE, or with bridge = yes the bridge port, as
 * br_netfilter hands bridged packets to iptables with -i and -o naming the
 * bridge. --physdev-out needs --physdev-is-bridged: the port a routed packet
 * leaves by is not known yet in POSTROUTING, and the kernel refuses the rule.
 */
static void
rules_add_iface(struct rules_words *r, const struct conf_device *cd, const struct rules_hook *hook)
{
	if (!cd->bridge) {
		rules_add(r, hook->ipt_dir);
		rules_add(r, "IFACE");
		return;
	}
	rules_add(r, "-m");
	rules_add(r, "physdev");
	rules_add(r, hook->physdev);
	rules_add(r, "IFACE");
	if (strcmp(hook->physdev, "--physdev-out") == 0)
		rules_add(r, "--physdev-is-bridged");
}

/* The rules of a device's chain in their order, one by one. */
struct rules_iter {
	enum { RULES_ECN_SET, RULES_QUEUE, RULES_ECN_CLEAR, RULES_DONE } stage;
	size_t i; /* the next run of queues */
};

/* The queue rule for HOOK and the N queues from index I. */
static void
rules_queue_words(const struct conf_device *cd, size_t i, size_t n, struct rules_words *r)
{
	char num[RULES_WORD_SIZE];

	if (cd->ecn_mask != 0)
		rules_add_mark(r, true, cd->ecn_mark, cd->ecn_mask);
	if (cd->continue_mask != 0)
		rules_add_mark(r, true, cd->continue_mark, cd->continue_mask);
	rules_add(r, "-j");
	rules_add(r, "NFQUEUE");
	if (n > 1) {
		rules_add(r, "--queue-balance");
		snprintf(num, sizeof(num), "%u:%u", cd->queues[i], cd->queues[i + n - 1]);
	} else {
		rules_add(r, "--queue-num");
		snprintf(num, sizeof(num), "%u", cd->queues[i]);
	}
	rules_add(r, num);
	rules_add(r, "--queue-bypass");
}

/*
 * The arguments of the next iptables rule of CD's chain for HOOK into R,
 * false after the last. With ecn-mark a packet whose copy came back CE
 * carries the mark: a TOS rule sets CE in its header before the queue
 * rules (which skip it), and a MARK rule takes the mark away after them,
 * so that the queue rule of another device sees the packet.
 */
static bool
rules_next(const struct conf_device *cd, const struct rules_hook *hook, struct rules_iter *it,
           struct rules_words *r)
{
	char num[RULES_WORD_SIZE];

	if (it->stage == RULES_ECN_SET && cd->ecn_mask == 0)
		it->stage = RULES_QUEUE;
	if (it->stage == RULES_QUEUE && it->i >= cd->nqueues)
		it->stage = cd->ecn_mask != 0 ? RULES_ECN_CLEAR : RULES_DONE;
	if (it->stage == RULES_DONE)
		return false;
	r->n = 0;
	rules_add(r, "-t");
	rules_add(r, "mangle");
	rules_add(r, "-A");
	rules_add(r, hook->chain);
	rules_add_iface(r, cd, hook);
	switch (it->stage) {
	case RULES_ECN_SET:
		rules_add_mark(r, false, cd->ecn_mark, cd->ecn_mask);
		rules_add(r, "-j");
		rules_add(r, "TOS");
		rules_add(r, "--set-tos");
		rules_add(r, "0x03/0x03");
		it->stage = RULES_QUEUE;
		break;
	case RULES_QUEUE: {
		size_t n = rules_run(cd, it->i);

		rules_queue_words(cd, it->i, n, r);
		it->i += n;
		break;
	}
	case RULES_ECN_CLEAR:
		rules_add_mark(r, false, cd->ecn_mark, cd->ecn_mask);
		rules_add(r, "-j");
		rules_add(r, "MARK");
		rules_add(r, "--set-xmark");
		snprintf(num, sizeof(num), "0x0/0x%x", cd->ecn_mask);
		rules_add(r, num);
		it->stage = RULES_DONE;
		break;
	case RULES_DONE:
		break;
	}
	return true;
}

/* The comment for a device whose queues are not one range, or NULL. */
static const char *
rules_warning(const struct conf_device *cd)
{
	if (rules_run(cd, 0) == cd->nqueues)
		return NULL;
	return "its queues are not one range, so it takes one rule per range. The queue "
	       "rule ends the chain: as printed, only the first rule of each chain sees "
	       "traffic. Add a match to each rule but the last that picks its share (for "
	       "example a source address range), or give the device one range of queues "
	       "(queues = 4-5).";
}

/* LEAD then TEXT as "# " lines of at most about 76 columns. */
static void
rules_comment(const char *lead, const char *text, FILE *out)
{
	size_t width = 74 - strlen(lead);

	while (*text != '\0') {
		size_t n = strlen(text), cut = n;

		if (n > width) {
			for (cut = width; cut > 0 && text[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = n;
		}
		fprintf(out, "# %s%.*s\n", lead, (int)cut, text);
		lead = "";
		width = 74;
		text += cut;
		while (*text == ' ')
			text++;
	}
}

/*
 * A multiqueue device's trees, and how to keep a host on one. The example
 * has two workers: the first ceil(n/2) queues go to the first tree, as
 * imqd cuts them (device_split.c).
 */
static void
rules_trees(const struct conf_device *cd, const char *lead, FILE *out)
{
	char text[768];
	size_t half = (cd->nqueues + 1) / 2;

	if (!cd->multiqueue)
		return;
	if (cd->nqueues < 2) {
		rules_comment(lead,
		              "multiqueue: one queue is one shard and one tree; give the device a "
		              "queue per worker for a tree per worker.",
		              out);
		return;
	}
	/* --queue-balance takes a range: where the first block has gaps, one of its queues. */
	char first[64], which[64];
	unsigned lo = cd->queues[0], hi = cd->queues[half - 1];
	if (hi - lo == half - 1) {
		snprintf(which, sizeof(which), "queues %u-%u are", lo, hi);
		snprintf(first, sizeof(first), "--queue-balance %u:%u", lo, hi);
	} else {
		snprintf(which, sizeof(which), "queue %u is", lo);
		snprintf(first, sizeof(first), "--queue-num %u", lo);
	}
	snprintf(text, sizeof(text),
	         "multiqueue: imqd cuts the queues into one block per worker (at most one per "
	         "queue), in order and as even as can be; the tree under class :K+1 of %s's mq "
	         "root qdisc shapes block K (imqd's log names each block's queues at start). "
	         "--queue-balance picks a queue by the packet's addresses and protocol, so a "
	         "host's traffic with different peers spreads over every tree: to keep a host "
	         "or subscriber on one tree, queue its addresses to that tree's queues ahead of "
	         "the rules below. With two workers, for example, %s the first tree's: -I "
	         "PREROUTING -i IFACE -s 192.0.2.0/25 -j NFQUEUE %s --queue-bypass.",
	         cd->name, which, first);
	rules_comment(lead, text, out);
}

static void
rules_device_iptables(const struct conf_device *cd, FILE *out)
{
	const char *warning = rules_warning(cd);
	struct rules_words r;

	fprintf(out, "# %s: replace IFACE with the %s to shape.\n", cd->name,
	        cd->bridge ? "bridge port" : "interface");
	if (warning != NULL)
		rules_comment("WARNING: ", warning, out);
	if (cd->bridge)
		fputs("# Bridged packets reach iptables only through br_netfilter:\n"
		      "#   modprobe br_netfilter\n"
		      "#   sysctl -w net.bridge.bridge-nf-call-iptables=1 "
		      "net.bridge.bridge-nf-call-ip6tables=1\n",
		      out);
	rules_trees(cd, "", out);
	for (size_t h = 0; h < 2; h++) {
		rules_comment(
		    "", cd->bridge ? rules_hooks[h].bridge_comment : rules_hooks[h].comment, out);
		for (size_t t = 0; t < 2; t++) {
			struct rules_iter it = {0};

			while (rules_next(cd, &rules_hooks[h], &it, &r)) {
				fputs(rules_tools[t], out);
				for (size_t k = 0; k < r.n; k++)
					fprintf(out, " %s", r.w[k]);
				fputc('\n', out);
			}
		}
	}
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

static void
rules_device_json(const struct conf_device *cd, struct json *j)
{
	const char *warning = rules_warning(cd);
	struct rules_words r;

	json_open(j, NULL, '{');
	json_str(j, "name", cd->name);
	if (warning != NULL)
		json_str(j, "warning", warning);
	json_open(j, "rules", '[');
	for (size_t h = 0; h < 2; h++) {
		for (size_t t = 0; t < 2; t++) {
			struct rules_iter it = {0};

			while (rules_next(cd, &rules_hooks[h], &it, &r)) {
				json_open(j, NULL, '{');
				json_str(j, "command", rules_tools[t]);
				json_str(j, "direction", rules_hooks[h].direction);
				/* On one line even when pretty, as a command line reads. */
				json_item(j, "args");
				fputc('[', j->out);
				for (size_t k = 0; k < r.n; k++) {
					fputs(k == 0 ? "" : j->pretty ? ", " : ",", j->out);
					json_string(j->out, r.w[k]);
				}
				fputc(']', j->out);
				json_close(j, '}');
			}
		}
	}
	json_close(j, ']');
	json_close(j, '}');
}

/* The rules of CD in nft's chain for HOOK (the same order as rules_next); inet covers IPv4 and
 * IPv6. */
static void
rules_device_nft(const struct conf_device *cd, const struct rules_hook *hook, FILE *out)
{
	static const char *const ecn[] = {"ip", "ip6"};
	uint32_t em = cd->ecn_mask, ev = cd->ecn_mark;

	/* In the inet family, br_netfilter's bridged packets have the bridge as iif and oif. */
	if (cd->bridge) {
		fprintf(out,
		        "\t\t# %s: bridge = yes: nftables cannot match a bridge port here;\n"
		        "\t\t# use the iptables rules (imqctl rules without --nft)\n",
		        cd->name);
		return;
	}
	fprintf(out, "\t\t# %s: %s\n", cd->name, hook->nft_comment);
	for (size_t k = 0; em != 0 && k < 2; k++)
		fprintf(out, "\t\t%s \"IFACE\" meta mark & 0x%x == 0x%x %s ecn set ce\n",
		        hook->nft_dir, em, ev, ecn[k]);
	for (size_t i = 0, n; i < cd->nqueues; i += n) {
		n = rules_run(cd, i);
		fprintf(out, "\t\t%s \"IFACE\"", hook->nft_dir);
		if (em != 0)
			fprintf(out, " meta mark & 0x%x != 0x%x", em, ev);
		if (cd->continue_mask != 0)
			fprintf(out, " meta mark & 0x%x != 0x%x", cd->continue_mask,
			        cd->continue_mark);
		/* A range balances by flow hash, as --queue-balance does. */
		fprintf(out, " queue flags bypass to %u", cd->queues[i]);
		if (n > 1)
			fprintf(out, "-%u", cd->queues[i + n - 1]);
		fputc('\n', out);
	}
	if (em != 0)
		fprintf(
		    out,
		    "\t\t%s \"IFACE\" meta mark & 0x%x == 0x%x meta mark set meta mark & 0x%x\n",
		    hook->nft_dir, em, ev, ~em);
}

static void
rules_print_nft(const struct conf *conf, const char *dev, FILE *out)
{
	const struct conf_device *cd;

	fputs("# Replace IFACE with the interface to shape; load with nft -f.\n", out);
	for (cd = conf->devices; cd != NULL; cd = cd->next) {
		const char *warning = rules_warning(cd);

		if ((dev == NULL || strcmp(dev, cd->name) == 0) && warning != NULL) {
			char lead[CONF_IFNAMSIZ + 16];

			snprintf(lead, sizeof(lead), "WARNING: %s: ", cd->name);
			rules_comment(lead, warning, out);
		}
	}
	fputs("table inet imqd {\n", out);
	for (size_t h = 0; h < 2; h++) {
		fprintf(out,
		        "%s\tchain %s {\n"
		        "\t\ttype filter hook %s priority mangle; policy accept;\n",
		        h > 0 ? "\n" : "", rules_hooks[h].nft_chain, rules_hooks[h].nft_chain);
		for (cd = conf->devices; cd != NULL; cd = cd->next)
			if (dev == NULL || strcmp(dev, cd->name) == 0)
				rules_device_nft(cd, &rules_hooks[h], out);
		fputs("\t}\n", out);
	}
	fputs("}\n", out);
}

int
rules_print(const struct conf *conf, const char *dev, enum rules_format format, FILE *out)
{
	struct json j;
	int found = 0;

	if (dev != NULL && conf_device_find(conf, dev) == NULL)
		return -1;
	if (format == RULES_NFT) {
		rules_print_nft(conf, dev, out);
		return 0;
	}
	json_init(&j, out, format == RULES_JSON_PRETTY);
	if (format != RULES_IPTABLES) {
		json_open(&j, NULL, '{');
		json_open(&j, "devices", '[');
	}
	for (const struct conf_device *cd = conf->devices; cd != NULL; cd = cd->next) {
		if (dev != NULL && strcmp(dev, cd->name) != 0)
			continue;
		if (format != RULES_IPTABLES)
			rules_device_json(cd, &j);
		else {
			if (found++)
				fputc('\n', out);
			rules_device_iptables(cd, out);
		}
	}
	if (format != RULES_IPTABLES) {
		json_close(&j, ']');
		json_close(&j, '}');
		fputc('\n', out);
	}
	return 0;
}
