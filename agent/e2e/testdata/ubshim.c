/*
 * ubshim: an LD_PRELOAD shim that lets libreswan's pluto resolve the test
 * tree's reverse zones through its embedded libunbound.
 *
 * libunbound answers the documentation ranges' reverse zones itself with
 * NXDOMAIN (RFC 6303 default local zones), without sending a query, and
 * pluto has no option to turn that off (vm-rig.md). This shim wraps the
 * context constructors and marks those zones "transparent", so queries
 * for names without local data go to the forwarder. It also lets the test
 * choose the resolv.conf libunbound reads its forwarders from
 * (OETEST_RESOLV_CONF), since pluto reads /etc/resolv.conf, the machine's.
 *
 * Built by TestVMOELibreswan with gcc -shared -fPIC; not part of any
 * product.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

struct ub_ctx;

typedef int (*set_option_fn)(struct ub_ctx *, const char *, const char *);
typedef struct ub_ctx *(*create_fn)(void);
typedef struct ub_ctx *(*create_event_fn)(void *);
typedef int (*resolvconf_fn)(struct ub_ctx *, const char *);

static const char *const zones[] = {
	"2.0.192.in-addr.arpa.",
	"100.51.198.in-addr.arpa.",
	"113.0.203.in-addr.arpa.",
	"8.b.d.0.1.0.0.2.ip6.arpa.",
};

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (f == NULL)
		fprintf(stderr, "oetest-ubshim: %s not found: %s\n", name, dlerror());
	return f;
}

static struct ub_ctx *transparent(struct ub_ctx *ctx)
{
	set_option_fn set_option;
	char value[128];
	size_t i;

	if (ctx == NULL || (set_option = (set_option_fn)next("ub_ctx_set_option")) == NULL)
		return ctx;
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		snprintf(value, sizeof(value), "%s transparent", zones[i]);
		int rc = set_option(ctx, "local-zone:", value);
		fprintf(stderr, "oetest-ubshim: local-zone: %s -> %d\n", value, rc);
	}
	return ctx;
}

struct ub_ctx *ub_ctx_create(void)
{
	create_fn real = (create_fn)next("ub_ctx_create");
	return real == NULL ? NULL : transparent(real());
}

struct ub_ctx *ub_ctx_create_event(void *base)
{
	create_event_fn real = (create_event_fn)next("ub_ctx_create_event");
	return real == NULL ? NULL : transparent(real(base));
}

struct ub_ctx *ub_ctx_create_ub_event(void *base)
{
	create_event_fn real = (create_event_fn)next("ub_ctx_create_ub_event");
	return real == NULL ? NULL : transparent(real(base));
}

int ub_ctx_resolvconf(struct ub_ctx *ctx, const char *fname)
{
	resolvconf_fn real = (resolvconf_fn)next("ub_ctx_resolvconf");
	const char *alt = getenv("OETEST_RESOLV_CONF");

	if (real == NULL)
		return -1;
	if (alt != NULL && *alt != '\0') {
		fprintf(stderr, "oetest-ubshim: resolv.conf %s instead of %s\n", alt, fname ? fname : "(default)");
		fname = alt;
	}
	return real(ctx, fname);
}
