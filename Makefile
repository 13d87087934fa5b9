# ticketd top-level Makefile.
#
#   make            build daemon/ticketd, daemon/ticketctl (runs
#                   contrib/install-deps.sh and ./configure first when needed)
#   make demo       the embedded default: private PostgreSQL + Maildir queues
#   make check      every test (unit + integration on a real PostgreSQL)
#   make install    honours DESTDIR and configure's prefix
#   make format     clang-format every C file (.clang-format); format-check
#                   only reports the files that differ (CI runs it)
#
# config.mk comes from ./configure; GNU make rebuilds it (and configure)
# when it is missing, then restarts.

-include config.mk

WARN = -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wformat=2
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CPPFLAGS) $(CFLAGS) $(DEPS_CFLAGS) -Ilib $(SANITIZE_FLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SANITIZE_FLAGS)
ALL_LIBS = $(DEPS_LIBS) $(LIBS)
ifdef SANITIZE
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer
endif

LIB_SRCS = $(sort $(filter-out lib/migrations.c,$(wildcard lib/*.c)) lib/migrations.c)
LIB_OBJS = $(LIB_SRCS:.c=.o)
UNIT_TESTS = $(patsubst %.c,%,$(wildcard tests/test-*.c))
# programs the integration tests run (tests/probe-*.c)
PROBES = $(patsubst %.c,%,$(wildcard tests/probe-*.c))
PROGRAMS = daemon/ticketd daemon/ticketctl
MIGRATIONS = $(sort $(wildcard sql/[0-9]*.sql))

.PHONY: all demo demo-stop check unit-check install uninstall clean distclean deps bench \
	format format-check
all: $(PROGRAMS)

configure: configure.ac
	sh contrib/install-deps.sh
	autoconf
config.mk: configure config.mk.in
	./configure

%.o: %.c config.mk
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

lib/migrations.c: $(MIGRATIONS) sql/embed.sh
	sh sql/embed.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

lib/libticketd.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

daemon/%: daemon/%.o lib/libticketd.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< lib/libticketd.a $(ALL_LIBS)

tests/test-%: tests/test-%.o lib/libticketd.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< lib/libticketd.a $(ALL_LIBS)

tests/probe-%: tests/probe-%.o lib/libticketd.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< lib/libticketd.a $(ALL_LIBS)

# Every C source and header the project writes (lib/migrations.c is generated).
FORMAT_SRCS = $(filter-out lib/migrations.c,$(wildcard lib/*.[ch] daemon/*.c tests/*.[ch]))
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	@bad=; for f in $(FORMAT_SRCS); do clang-format "$$f" | cmp -s - "$$f" || bad="$$bad $$f"; done; \
	if [ -n "$$bad" ]; then echo "not formatted as .clang-format says (make format):$$bad"; exit 1; fi

deps:
	sh contrib/install-deps.sh

demo-stop:
	PG_BINDIR="$(PG_BINDIR)" sh contrib/demo.sh stop

demo: $(PROGRAMS)
	PG_BINDIR="$(PG_BINDIR)" sh contrib/demo.sh

# Unit tests are compiled TAP programs; integration tests are TAP shell
# scripts that start a private PostgreSQL themselves.  prove(1) runs both.
check: $(PROGRAMS) $(UNIT_TESTS) $(PROBES)
	sh contrib/install-deps.sh --check
	PG_BINDIR="$(PG_BINDIR)" TICKETD_TOP="$(CURDIR)" prove -f --exec '' $(UNIT_TESTS) $(sort $(wildcard tests/integration/*.sh))

unit-check: $(UNIT_TESTS)
	prove -f --exec '' $(UNIT_TESTS)

bench: $(PROGRAMS)
	PG_BINDIR="$(PG_BINDIR)" sh contrib/bench.sh

install: $(PROGRAMS)
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(sysconfdir)/ticketd \
		$(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(mandir)/man1
	$(INSTALL) -m 755 daemon/ticketd $(DESTDIR)$(sbindir)/ticketd
	$(INSTALL) -m 755 daemon/ticketctl $(DESTDIR)$(bindir)/ticketctl
	$(INSTALL) -m 644 etc/ticketd.conf.example $(DESTDIR)$(sysconfdir)/ticketd/ticketd.conf.example
	$(INSTALL) -m 644 man/ticketd.8 $(DESTDIR)$(mandir)/man8/ticketd.8
	$(INSTALL) -m 644 man/ticketctl.1 $(DESTDIR)$(mandir)/man1/ticketctl.1
	$(INSTALL) -m 644 man/ticketd.conf.5 $(DESTDIR)$(mandir)/man5/ticketd.conf.5

uninstall:
	rm -f $(DESTDIR)$(sbindir)/ticketd $(DESTDIR)$(bindir)/ticketctl \
		$(DESTDIR)$(sysconfdir)/ticketd/ticketd.conf.example \
		$(DESTDIR)$(mandir)/man8/ticketd.8 $(DESTDIR)$(mandir)/man1/ticketctl.1 \
		$(DESTDIR)$(mandir)/man5/ticketd.conf.5

clean:
	rm -f lib/*.o lib/*.d lib/libticketd.a lib/migrations.c daemon/*.o daemon/*.d \
		tests/*.o tests/*.d $(PROGRAMS) $(UNIT_TESTS) $(PROBES)
	rm -rf tests/tmp

distclean: clean
	rm -rf configure config.mk config.log config.status autom4te.cache _demo

-include $(wildcard lib/*.d daemon/*.d tests/*.d)
