# tapir toolkit. `make` builds the tools into bin/; `make test` runs every
# test; `make install` installs tools, man pages, completions and systemd
# units under PREFIX.

PREFIX    ?= /usr/local
DESTDIR   ?=
GO        ?= go
FUZZTIME  ?= 10s
BENCHTIME ?= 1s

TOOLS := $(notdir $(wildcard cmd/tapir-*))

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test test-fast check lint install man completions docs bench fuzz clean sample demo

all: build

build:
	$(GO) build -trimpath -o bin/ ./cmd/... ./tools/...

# The tests, as CI runs them: real Unbound and friends must be installed
# (TAPIR_REQUIRE_REAL=1 fails a test that would otherwise skip without them),
# under the race detector: the tools are concurrent, and their tests run the
# tools themselves (the test binary doubles as the tool), race-built too.
# About 5 minutes on 2 cores; test-fast skips the detector.
test:
	TAPIR_REQUIRE_REAL=1 $(GO) test -race -count=1 -timeout 25m ./...

test-fast:
	TAPIR_REQUIRE_REAL=1 $(GO) test -count=1 -timeout 20m ./...

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd lib tools)" || { echo "gofmt needed:"; gofmt -l cmd lib tools; exit 1; }
	$(GO) run $(STATICCHECK) ./...

# What CI runs (after .ci/setup): lint, every test, a short fuzz of every
# target (a count of inputs rather than a time: go test -fuzz can fail with
# "context deadline exceeded" when its time runs out mid-input).
check: lint test
	$(MAKE) fuzz FUZZTIME=100000x

# Man pages and completions are generated from the CLI definitions (each
# tool built with -tags docs writes its own); a test fails when the
# checked-in files are stale.
man completions docs:
	$(GO) generate ./cmd/...

# A short run of every fuzz target (FUZZTIME each).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Micro-benchmarks, then whole pipelines beside the reference tools.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./lib/...
	./tools/bench/pipelines.sh

# The quick start, with no resolver: tapir-listen receives the bundled
# sample capture from a simulated resolver, and tapir-cat shows what arrived.
demo: build
	./tools/demo.sh

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system
	for t in $(TOOLS); do install -m 0755 bin/$$t $(DESTDIR)$(PREFIX)/bin/; done
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -d $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	for t in $(TOOLS); do \
	  install -m 0644 completions/$$t.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; \
	  install -m 0644 completions/_$$t $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t; \
	  install -m 0644 completions/$$t.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish; \
	done
	# The units name the tools where this install puts them.
	for u in deploy/systemd/*.socket deploy/systemd/*.service deploy/systemd/*.timer; do \
	  sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' $$u > $(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/}; \
	  chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/}; \
	done
	install -d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(PREFIX)/share/doc/tapir-toolkit/resolvers $(DESTDIR)$(PREFIX)/share/doc/tapir-toolkit/prometheus
	install -m 0644 packaging/tmpfiles.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/tapir-toolkit.conf
	install -m 0644 deploy/resolvers/*.conf deploy/resolvers/*.lua $(DESTDIR)$(PREFIX)/share/doc/tapir-toolkit/resolvers/
	install -m 0644 deploy/prometheus/*.yml $(DESTDIR)$(PREFIX)/share/doc/tapir-toolkit/prometheus/
	install -d $(DESTDIR)/etc/tapir
	test -e $(DESTDIR)/etc/tapir/tapir.env || install -m 0644 deploy/systemd/tapir.env $(DESTDIR)/etc/tapir/tapir.env

clean:
	rm -rf bin

# A .deb and an .rpm of the tools (packaging/): stripped binaries, man
# pages, completions, systemd units, resolver configuration, the user
# tapir, /etc/tapir, /var/lib/tapir; built with nfpm from the Go module
# proxy into packaging/dist/.
.PHONY: package package-test
package:
	GO="$(GO)" packaging/build.sh

# Builds the packages, installs the .deb with dpkg, checks the installed
# tools, man pages and units, runs the edge pipeline from its units against
# a real Unbound (packaging/pipeline.sh), and purges it (as root, on a
# Debian machine); lists the .rpm.
package-test: package
	packaging/test.sh
