/* The iptables and ip6tables rules that feed a device, derived from its configuration. */
#ifndef IMQD_RULES_H
#define IMQD_RULES_H

#include <stdio.h>

struct conf;

/* Print the rules for device DEV (every device when NULL) to OUT; -1 if DEV is unknown. */
int rules_print(const struct conf *conf, const char *dev, FILE *out);

#endif
