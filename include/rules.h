/* The iptables, ip6tables and nftables rules that feed a device, derived from its configuration. */
#ifndef IMQD_RULES_H
#define IMQD_RULES_H

#include <stdio.h>

struct conf;

/* How rules_print writes the rules. */
enum rules_format {
	RULES_IPTABLES,    /* iptables and ip6tables commands, with comments */
	RULES_JSON,        /* {"devices":[...]}: the same commands as words */
	RULES_JSON_PRETTY, /* the same, indented */
	RULES_NFT,         /* one nftables table, inet family, for nft -f */
};

/* Print the rules for device DEV (every device when NULL) to OUT; -1 if DEV is unknown. */
int rules_print(const struct conf *conf, const char *dev, enum rules_format format, FILE *out);

#endif
