# mk/install.mk — `make install` and `make uninstall`.
#
#   make install   [PREFIX=/usr/local] [DESTDIR=/tmp/stage] [CONFDIR=/etc/madang]
#                  [UNITDIR=...] [SYSUSERSDIR=...] [TMPFILESDIR=...]
#   make uninstall (with the same PREFIX, DESTDIR and CONFDIR)
#
# What goes where (PREFIX=/usr/local):
#   $(BINDIR)          /usr/local/bin/madang-*                        0755
#   $(DATADIR)/web     /usr/local/share/madang/web/                   the static client
#   $(DATADIR)/deploy  /usr/local/share/madang/deploy/{nginx,apache}/ web-server snippets, README.md
#   $(DATADIR)/examples  pristine copies of the example configuration
#   $(DOCDIR)          /usr/local/share/doc/madang/deploy-systemd.md
#   $(UNITDIR)         /usr/local/lib/systemd/system/madang*          rendered for BINDIR and CONFDIR
#   $(SYSUSERSDIR)     /usr/local/lib/sysusers.d/madang.conf          the `madang` system user
#   $(TMPFILESDIR)     /usr/local/lib/tmpfiles.d/madang.conf          /run/madang at boot
#   $(CONFDIR)         /etc/madang/*.env, rooms.json                   only where no such file exists
#
# systemd reads units, sysusers.d and tmpfiles.d entries below /usr and /usr/local, so those two
# prefixes keep everything under PREFIX; for any other PREFIX they go below /etc.
#
# Every installed file, and every directory the installation had to create, is listed in
# $(DATADIR)/install-manifest; `make uninstall` removes exactly those, so it still works after the
# source tree has changed. A configuration file is removed only while it is identical to the
# example it was installed from: an edited /etc/madang file stays. Installing to the real root
# (no DESTDIR) as root also creates the `madang` user and /run/madang and reloads systemd;
# uninstall keeps the user (its files may remain in /var/lib/madang).

INSTALL     ?= install
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share/madang
DOCDIR      ?= $(PREFIX)/share/doc/madang
CONFDIR     ?= /etc/madang
ifneq ($(filter /usr /usr/local,$(patsubst %/,%,$(PREFIX))),)
UNITDIR     ?= $(patsubst %/,%,$(PREFIX))/lib/systemd/system
SYSUSERSDIR ?= $(patsubst %/,%,$(PREFIX))/lib/sysusers.d
TMPFILESDIR ?= $(patsubst %/,%,$(PREFIX))/lib/tmpfiles.d
else
UNITDIR     ?= /etc/systemd/system
SYSUSERSDIR ?= /etc/sysusers.d
TMPFILESDIR ?= /etc/tmpfiles.d
endif
UNITS_OUT   ?= $(BUILD)/systemd

INSTALL_PROGRAMS := $(sort $(filter $(BIN)/madang-%,$(PROGRAMS)))
UNIT_DAEMONS     := madang-broker madang-ws madang-api
UNIT_TEMPLATES   := $(wildcard systemd/*.service.in systemd/*.socket.in systemd/*.target.in)
UNIT_PLAIN       := $(wildcard systemd/*.service systemd/*.socket systemd/*.target)
UNIT_NAMES       := $(notdir $(UNIT_TEMPLATES:.in=) $(UNIT_PLAIN))
CONF_FILES       := $(wildcard etc/*)
# Found at make time, so that files added to web/ or deploy/ are installed without editing this.
WEB_FILES        := $(shell find web -type f ! -name '.*' ! -path '*/node_modules/*' 2>/dev/null | LC_ALL=C sort)
DEPLOY_FILES     := $(wildcard deploy/README.md) \
                    $(shell find deploy/nginx deploy/apache -type f ! -name '.*' 2>/dev/null | LC_ALL=C sort)
INSTALL_MANIFEST  = $(DATADIR)/install-manifest

# Placeholders in systemd/*.in. Paths must be absolute and free of white space (unit files
# split ExecStart= on it) and of '|' (the sed delimiter).
UNIT_SUBST = -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@CONFDIR@|$(CONFDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

.PHONY: systemd-units install uninstall

# systemd-units: renders the units into $(UNITS_OUT) for this BINDIR/CONFDIR/DOCDIR. Always
# re-rendered (it is cheap), because the output depends on variables, not on file dates.
systemd-units:
	$(Q)for p in '$(BINDIR)' '$(CONFDIR)' '$(DOCDIR)'; do \
		case "$$p" in /*) ;; *) echo "install: $$p is not an absolute path" >&2; exit 1 ;; esac; \
		case "$$p" in *[[:space:]\|]*) echo "install: '$$p' contains white space or '|'" >&2; exit 1 ;; esac; \
	done
	$(Q)rm -rf '$(UNITS_OUT)' && mkdir -p '$(UNITS_OUT)'
	$(Q)for t in $(UNIT_TEMPLATES); do \
		out='$(UNITS_OUT)'/$$(basename "$$t" .in); \
		sed $(UNIT_SUBST) "$$t" >"$$out" || exit 1; \
		if grep -n '@[A-Z_]\+@' "$$out" >&2; then \
			echo "install: unknown placeholder left in $$out" >&2; exit 1; \
		fi; \
	done
	$(Q)for u in $(UNIT_PLAIN); do cp "$$u" '$(UNITS_OUT)'/ || exit 1; done

# put KIND MODE SRC DEST: installs SRC as $(DESTDIR)DEST, then appends to the file $$list one
# "d DIR" line per directory it had to create (outermost first) and "KIND DEST" (f: a file that
# belongs to madang; c: a configuration file, removed by uninstall only while unchanged).
# mkdirs DIR: creates $(DESTDIR)DIR and records the directories that did not exist yet.
MADANG_PUT = mkdirs() { \
	dir=$$1; new=; \
	while [ -n "$$dir" ] && [ ! -d "$(DESTDIR)$$dir" ]; do new="$$dir $$new"; dir=$${dir%/*}; done; \
	for x in $$new; do $(INSTALL) -d -m 0755 "$(DESTDIR)$$x" || return 1; echo "d $$x" >>"$$list"; done; \
}; \
put() { \
	mkdirs "$${4%/*}" || return 1; \
	$(INSTALL) -m "$$2" "$$3" "$(DESTDIR)$$4" || return 1; \
	echo "$$1 $$4" >>"$$list"; \
}

# finish: on exit from the install recipe, whether it succeeded or not, writes the manifest. After a
# failure it also keeps every line of the earlier manifest (still in $$old), so that `make
# uninstall` can clean up a partial installation.
MADANG_FINISH = finish() { \
	while read -r line; do grep -qxF "$$line" "$$list" || echo "$$line" >>"$$list"; done <"$$old"; \
	$(INSTALL) -m 0644 "$$list" '$(DESTDIR)$(INSTALL_MANIFEST)'; \
}

# Installing over an earlier installation upgrades it: files it had that this one has not are
# removed, and the directories and configuration files it created stay in the manifest.
install: all systemd-units
	$(Q)for d in $(UNIT_DAEMONS); do \
		case " $(INSTALL_PROGRAMS) " in *" $(BIN)/$$d "*) ;; \
		*) echo "install: $$d is not among the programs this tree builds; the units need it" >&2; exit 1 ;; esac; \
	done
	@echo "  INSTALL $(DESTDIR)$(PREFIX)"
	$(Q)set -e; list='$(UNITS_OUT)/install-manifest'; old='$(UNITS_OUT)/install-manifest.old'; \
	: >"$$list"; : >"$$old"; $(MADANG_PUT); $(MADANG_FINISH); trap finish EXIT; \
	if [ -f '$(DESTDIR)$(INSTALL_MANIFEST)' ]; then cp '$(DESTDIR)$(INSTALL_MANIFEST)' "$$old"; fi; \
	grep '^d ' "$$old" >>"$$list" || true; \
	mkdirs '$(DATADIR)'; \
	for p in $(INSTALL_PROGRAMS); do put f 0755 "$$p" '$(BINDIR)'/$${p##*/}; done; \
	for f in $(WEB_FILES); do put f 0644 "$$f" '$(DATADIR)'/"$$f"; done; \
	for f in $(DEPLOY_FILES); do put f 0644 "$$f" '$(DATADIR)'/"$$f"; done; \
	for f in $(CONF_FILES); do put f 0644 "$$f" '$(DATADIR)/examples'/$${f##*/}; done; \
	put f 0644 docs/deploy-systemd.md '$(DOCDIR)/deploy-systemd.md'; \
	for u in $(UNIT_NAMES); do put f 0644 '$(UNITS_OUT)'/"$$u" '$(UNITDIR)'/"$$u"; done; \
	put f 0644 systemd/madang.sysusers '$(SYSUSERSDIR)/madang.conf'; \
	put f 0644 systemd/madang.tmpfiles '$(TMPFILESDIR)/madang.conf'; \
	for f in $(CONF_FILES); do \
		dest='$(CONFDIR)'/$${f##*/}; \
		if [ ! -e '$(DESTDIR)'"$$dest" ]; then put c 0644 "$$f" "$$dest"; \
		elif ! grep -qxF "c $$dest" "$$old"; then \
			echo "  KEEP    $(DESTDIR)$$dest (exists; the new example is in $(DATADIR)/examples)"; \
		fi; \
	done; \
	grep '^c ' "$$old" | while read -r line; do grep -qxF "$$line" "$$list" || echo "$$line" >>"$$list"; done; \
	grep '^f ' "$$old" | while read -r kind path; do \
		grep -qxF "f $$path" "$$list" || rm -f '$(DESTDIR)'"$$path"; \
	done; \
	: >"$$old"
	$(Q)if [ -z '$(DESTDIR)' ]; then \
		if [ "$$(id -u)" -ne 0 ]; then \
			echo "install: not root: as root, run systemd-sysusers $(SYSUSERSDIR)/madang.conf"; \
			echo "         and systemd-tmpfiles --create $(TMPFILESDIR)/madang.conf"; \
		else \
			if command -v systemd-sysusers >/dev/null 2>&1; then \
				systemd-sysusers '$(SYSUSERSDIR)/madang.conf'; \
			elif ! getent passwd madang >/dev/null; then \
				useradd --system --user-group --home-dir /var/lib/madang --no-create-home \
					--shell /usr/sbin/nologin --comment "madang chat daemons" madang; \
			fi; \
			if command -v systemd-tmpfiles >/dev/null 2>&1; then \
				systemd-tmpfiles --create '$(TMPFILESDIR)/madang.conf'; \
			else \
				install -d -m 0755 -o madang -g madang /run/madang; \
			fi; \
			if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
		fi; \
	fi

# Reads the manifest backwards: files go first, then the directories the installation created
# (rmdir only, so anything a person put there stays), innermost first.
uninstall:
	$(Q)if [ ! -f '$(DESTDIR)$(INSTALL_MANIFEST)' ]; then \
		echo "uninstall: no madang installation in $(DESTDIR)$(PREFIX) ($(INSTALL_MANIFEST) is missing)" >&2; exit 1; \
	fi
	@echo "  UNINSTALL $(DESTDIR)$(PREFIX)"
	$(Q)set -e; tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	tac '$(DESTDIR)$(INSTALL_MANIFEST)' >"$$tmp"; rm -f '$(DESTDIR)$(INSTALL_MANIFEST)'; \
	while read -r kind path; do \
		case "$$path" in /*) ;; *) echo "uninstall: bad manifest line: $$kind $$path" >&2; exit 1 ;; esac; \
		target='$(DESTDIR)'"$$path"; \
		case "$$kind" in \
		f) rm -f "$$target" ;; \
		c) example='$(DESTDIR)$(DATADIR)/examples'/$${path##*/}; \
		   if [ ! -e "$$target" ]; then :; \
		   elif cmp -s "$$target" "$$example"; then rm -f "$$target"; \
		   else echo "  KEEP    $$target (changed since installation)"; fi ;; \
		d) rmdir "$$target" 2>/dev/null || [ ! -d "$$target" ] || echo "  KEEP    $$target (not empty)" ;; \
		*) echo "uninstall: bad manifest line: $$kind $$path" >&2; exit 1 ;; \
		esac; \
	done <"$$tmp"
	$(Q)if [ -z '$(DESTDIR)' ] && [ "$$(id -u)" -eq 0 ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
