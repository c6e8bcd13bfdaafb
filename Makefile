# oe-agent make targets. `make test` runs every tier and installs what it
# needs first (apt packages from internal/testenv/apt-packages.txt, Go
# modules), so a fresh Debian 12 machine only needs git, make and Go.

GO      ?= go
PKG     ?= ./...
RUN     ?=
BENCH   ?= .
VMRUN    = $(GO) run ./internal/vmtest/cmd/vmrun
APT_PACKAGES = $(shell sed -e 's/\#.*//' internal/testenv/apt-packages.txt)


.PHONY: all build deps deps-apt deps-go deps-peers lint test test-unit test-netns test-vm vm-shell bench bench-oe demo clean deb

all: build

build:
	$(GO) build -o bin/ ./cmd/...

# deps installs only what is missing: dpkg-query first, apt only when needed.
deps: deps-apt deps-go deps-peers

deps-apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "deps: need root to apt-get install: $$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# strongSwan is an interop peer in the guest, but Debian's libreswan (also a
# peer) conflicts with it: libreswan is apt-installed, strongSwan's packages
# are only unpacked here and copied into the guest's overlay root by tests.
STRONGSWAN_DEBS = libstrongswan libstrongswan-standard-plugins libstrongswan-extra-plugins strongswan-libcharon strongswan-charon strongswan-swanctl
STRONGSWAN_ROOT = .cache/peers/strongswan
deps-peers:
	@if [ ! -x $(STRONGSWAN_ROOT)/usr/lib/ipsec/charon ]; then \
		set -e; tmp=$$(mktemp -d); chmod 755 $$tmp; \
		(cd $$tmp && apt-get download -q $(STRONGSWAN_DEBS) >/dev/null 2>&1) || \
		{ apt-get update -qq && (cd $$tmp && apt-get download -q $(STRONGSWAN_DEBS) >/dev/null); }; \
		mkdir -p $(STRONGSWAN_ROOT).tmp; for d in $$tmp/*.deb; do dpkg-deb -x $$d $(STRONGSWAN_ROOT).tmp; done; \
		rm -rf $$tmp $(STRONGSWAN_ROOT); mv $(STRONGSWAN_ROOT).tmp $(STRONGSWAN_ROOT); \
		echo "deps: unpacked strongSwan into $(STRONGSWAN_ROOT)"; \
	fi

deps-go:
	$(GO) mod download

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The tiers run in order, each timed, and the first failure stops make.
test: deps lint
	@t0=$$(date +%s); $(MAKE) --no-print-directory test-unit && t1=$$(date +%s) && \
	$(MAKE) --no-print-directory test-netns && t2=$$(date +%s) && \
	$(MAKE) --no-print-directory test-vm && t3=$$(date +%s) && \
	echo "make test: unit $$((t1-t0))s, netns $$((t2-t1))s, vm $$((t3-t2))s: all tiers passed"

test-unit:
	OE_TEST_TIER=unit $(GO) test $(PKG)

test-netns: build
	@if [ "$$(id -u)" != 0 ]; then echo "test-netns: needs root (network namespaces, XFRM)" >&2; exit 1; fi
	$(GO) test -count=1 -run '^TestNetns$(RUN)' $(PKG)

# One guest boot runs every package's TestVM tests side by side.
# One test: make test-vm PKG=./xfrm RUN=TestVMTransport
test-vm: deps-peers build deb
	$(VMRUN) test $(if $(RUN),-run '^$(RUN)') $(PKG)

vm-shell:
	$(VMRUN) shell

bench:
	OE_TEST_TIER=unit $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem $(PKG)

# bench-oe: OE's first packet, west->east from fresh state 10 times in the guest (not part of make test).
bench-oe: build
	$(VMRUN) test -run '^TestVMBenchOE$$' -args -oe.bench ./agent/e2e

# The main job: two hosts and a signed DNS zone in namespaces of the test
# guest (this kernel may lack ESP), oe-agentd on both, traffic, and what
# happened (internal/demo). It finishes by itself and leaves nothing behind.
demo: deps build
	@mkdir -p .cache; echo "make demo: booting the test guest and building a small signed internet (about a minute)..."; \
	$(VMRUN) test -run '^TestVMDemo$$' -args -oe.demo ./internal/demo > .cache/demo.log 2>&1; rc=$$?; \
	grep -v -E '^(=== |--- |PASS|ok  |vmtest: |    [A-Za-z_]+\.go:[0-9]+: |        )' .cache/demo.log; \
	if [ $$rc != 0 ]; then echo "make demo: failed; the full output is in .cache/demo.log"; fi; exit $$rc

clean:
	rm -rf bin .cache

# deb builds the Debian package (debian/, packaging/) from the working tree,
# as the other tiers test it, into $(DEB_DIR)/oe-agent_VERSION_ARCH.deb, and
# fails if lintian reports an error or a warning that is not overridden.
# It builds offline: deps-go fills the module cache first, and debian/rules
# runs go with GOPROXY=off. dpkg-buildpackage writes next to the source
# directory, so the build runs in a copy of the tree under $(DEB_DIR).
# internal/pkgtest's TestVMSystemdPackage installs the result in a guest booted
# with systemd.
DEB_DIR   = .cache/deb
DEB_BUILD = $(DEB_DIR)/build
deb: deps-go
	@set -e; rm -rf $(DEB_BUILD) $(DEB_DIR)/*.deb; mkdir -p $(DEB_BUILD)/oe-agent; \
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null; \
	else tar --exclude=./.cache --exclude=./bin --exclude=./.git -cf - .; fi | tar -C $(DEB_BUILD)/oe-agent -xf -
	cd $(DEB_BUILD)/oe-agent && GO="$$(command -v $(GO))" GOMODCACHE="$$($(GO) env GOMODCACHE)" \
		GOCACHE="$$($(GO) env GOCACHE)" dpkg-buildpackage -b -us -uc
	lintian --fail-on error,warning --info $(DEB_BUILD)/oe-agent_*.changes
	mv $(DEB_BUILD)/oe-agent_*.deb $(DEB_DIR)/
	@ls -l $(DEB_DIR)/oe-agent_*.deb
