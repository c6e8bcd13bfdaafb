// Package config reads oe-agentd's configuration: the main file in
// ipsec.conf(5) syntax (/etc/oe-agent/oe-agent.conf), the secrets file in
// ipsec.secrets(5) syntax (/etc/oe-agent/oe-agent.secrets), the OE policy
// group files (/etc/oe-agent/policies/<group>) and the host key
// (/etc/oe-agent/hostkey.pem).
//
// The package is pure: every reader takes an fs.FS, so nothing here touches
// the kernel or the network, and tests run on fstest.MapFS. Absolute paths
// such as "/etc/oe-agent/oe-agent.conf" are looked up in the fs.FS without
// their leading slash; OSFS returns the fs.FS rooted at "/" that the daemon
// uses.
//
// Parsing has two stages. ParseDocument lexes the main file and its includes
// into a generic Document (sections with ordered key=value entries, each with
// its file:line). Build then resolves %default and also=, checks every key
// and value, and returns the typed Config. All errors are collected (up to
// MaxErrors) as *Error values naming file:line, section and key, and nothing
// is returned that has not been fully validated: a configuration that fails
// to load changes nothing.
//
// Syntax (ipsec.conf(5) as FreeS/WAN, libreswan and strongSwan use it):
//
//	version 2                  # optional
//	include conf.d/*.conf      # relative to the including file; globs allowed
//	config setup
//		oe-authnull=yes
//	conn %default
//		ikelifetime=8h
//	conn west-east
//		also=base
//		left=192.0.2.1
//		right=198.51.100.1
//		auto=start
//
// A section starts with a line at column 0; its entries are indented. A "#"
// at the start of a line or after white space starts a comment, except
// inside a double-quoted value. Values with white space must be quoted, or
// given in libreswan's braces ({a b}) where a list is expected. An empty
// value (key=) resets the key to its default, overriding %default and also=.
//
// Precedence of a conn's settings: its own entries, then the sections named
// by its also= entries in order (recursively, depth first; the first setting
// found wins), then conn %default.
//
// # config setup keys
//
//	oe=yes|no                     opportunistic encryption on (default yes)
//	oe-authnull=yes|no            RFC 7619 NULL auth for OE peers without IPSECKEY (yes)
//	oe-shunt-lifetime=DURATION    how long a failed OE peer is not retried (15m)
//	oe-negotiation-shunt=hold|pass|drop   packets while OE negotiates (hold)
//	oe-policy-dir=DIR             policy group files (/etc/oe-agent/policies)
//	oe-idle-timeout=DURATION      delete OE SAs idle this long, 0 never (10m)
//	oe-sa-lifetime=DURATION       rekey OE Child SAs after this long (1h)
//	oe-max-negotiations=N         OE negotiations at once; beyond, failure shunt (64)
//	oe-max-peers=N                OE peers known at once; beyond, failure shunt (4096)
//	dns-resolvers=ADDR[:PORT],... IPSECKEY resolvers (%resolvconf: /etc/resolv.conf)
//	dnssec-anchors=FILE,...       trust anchors (/usr/share/dns/root.key)
//	logformat=console|json  loglevel=debug|info|warn|error
//	ctlsocket=PATH  secrets=PATH  hostkey=PATH
//
// # conn keys
//
//	type=tunnel|transport|passthrough|drop     auto=ignore|add|route|start
//	keying=auto|manual  keyexchange=ikev2  also=NAME
//	authby=rsasig|ecdsa|eddsa|secret|null|never
//	left=, right=            IP address, DNS name, %defaultroute[6], %any[6]
//	leftsubnet=CIDR,...      ({a b} and leftsubnets= accepted)
//	leftid=                  IP, @fqdn, user@domain, %null, %any, %fromdns
//	leftauth=                as authby=, for one end (asymmetric auth)
//	leftrsasigkey=           0s<base64>|0x<hex> (RFC 3110 RSA, Ed25519, ECDSA,
//	                         DER SPKI), a PEM file, %dns, %dnsondemand
//	                         (leftpubkey= is the same key)
//	leftprotoport=PROTO[/PORT]
//	ike=, esp=               proposals, libreswan or strongSwan spelling (see
//	                         ParseProposals); a trailing ! is strict
//	ikelifetime=8h salifetime=8h rekey=yes rekeymargin=9m rekeyfuzz=100%
//	keyingtries=%forever dpddelay=0 dpdtimeout=150s dpdaction=clear|hold|restart
//	replay-window=128 mark=VALUE[/MASK]
//	spi=, leftespspi=, espenckey=, leftespenckey=, espauthkey=,
//	leftespauthkey=          keying=manual only (see ManualKeying)
//
// Every left* key has a right* twin. Durations are bare seconds or
// number+unit sequences (ParseDuration).
package config
