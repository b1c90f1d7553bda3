# Stackhouse top-level build.
#
# The extension is built with PGXS from extension/ (st_*.c: PostgreSQL-
# independent core, pg_*.c: server glue) and sql/parts/*.sql (concatenated
# into the install script).  The core objects are also linked into the
# ingest CLI, the C unit tests and the fuzzers.
#
#   make            build everything
#   make install    install the extension and the CLI (as root)
#   make test       build, install, start a throwaway server, run every test
#   make demo       the README's first command, minus package installation

PG_CONFIG ?= pg_config
# Versions: 0.1 = the stacktree type, merge and the inspection functions
# (sql/parts/0*-3*); 0.2 adds diff/filters/flame graphs, the warehouse and
# retention (sql/parts/4* and up).  A fresh install gets 0.2; a 0.1 install
# updates with ALTER EXTENSION stackhouse UPDATE.
EXTVERSION = 0.2
PARTS_ALL = $(sort $(wildcard sql/parts/*.sql))
PARTS_01 = $(filter sql/parts/0% sql/parts/1% sql/parts/2% sql/parts/3%,$(PARTS_ALL))
PARTS_02 = $(filter-out $(PARTS_01),$(PARTS_ALL))

MODULE_big = stackhouse
PROTO_C = extension/profile.pb-c.c
CORE_SRCS = $(sort $(wildcard extension/st_*.c))
PG_SRCS = $(sort $(wildcard extension/pg_*.c))
CORE_OBJS = $(CORE_SRCS:.c=.o) $(PROTO_C:.c=.o)
OBJS = $(CORE_OBJS) $(PG_SRCS:.c=.o)
MODULEDIR = extension
DATA = sql/stackhouse.control
DATA_built = sql/stackhouse--0.1.sql sql/stackhouse--0.2.sql sql/stackhouse--0.1--0.2.sql
SHLIB_LINK = -lzstd -lz -lprotobuf-c
PG_CPPFLAGS = -Iextension
PG_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
EXTRA_CLEAN = $(PROTO_C) extension/profile.pb-c.h $(UNIT_BINS) $(CLI_BIN) ingest-cli/*.o

REGRESS_DIR = regress

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# ---- generated protobuf code ----
extension/profile.pb-c.c extension/profile.pb-c.h: extension/profile.proto
	protoc-c --proto_path=extension --c_out=extension profile.proto

# the generated file is not ours: build it without our warning policy
extension/profile.pb-c.o: extension/profile.pb-c.c
	$(CC) $(filter-out -Werror,$(CFLAGS)) $(CPPFLAGS) -c -o $@ $<

$(CORE_SRCS:.c=.o) $(PG_SRCS:.c=.o): extension/profile.pb-c.h $(wildcard extension/*.h)

# the server's ingest glue shares the CLI's ingest rules (ingest_shared.h)
extension/pg_ingest.o extension/pg_ingest.bc: $(wildcard ingest-cli/*.h)

sql/stackhouse--0.1.sql: $(PARTS_01)
	cat $^ > $@

sql/stackhouse--0.2.sql: $(PARTS_ALL)
	cat $^ > $@

sql/stackhouse--0.1--0.2.sql: $(PARTS_02)
	( printf '%s\n' '-- stackhouse 0.1 -> 0.2, assembled from sql/parts/4* and up by make.' \
	    '\echo Use "ALTER EXTENSION stackhouse UPDATE" to load this file. \quit'; \
	  cat $^ ) > $@

# ---- the ingest CLI ----
CLI_BIN = ingest-cli/stackhouse-ingest
CLI_SRCS = $(sort $(wildcard ingest-cli/*.c))
CLI_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iextension -I$(shell $(PG_CONFIG) --includedir)
CORE_LIBS = -lzstd -lz -lprotobuf-c

ifneq ($(CLI_SRCS),)
all: $(CLI_BIN)
endif

$(CLI_BIN): $(CLI_SRCS) $(CORE_OBJS) $(wildcard ingest-cli/*.h)
	$(CC) $(CLI_CFLAGS) -o $@ $(CLI_SRCS) $(CORE_OBJS) -L$(shell $(PG_CONFIG) --libdir) -lpq $(CORE_LIBS)

install-cli: $(CLI_BIN)
	$(INSTALL_PROGRAM) $(CLI_BIN) '$(DESTDIR)$(bindir)/stackhouse-ingest'
	@mkdir -p '$(DESTDIR)/usr/local/bin' && ln -sf '$(bindir)/stackhouse-ingest' '$(DESTDIR)/usr/local/bin/stackhouse-ingest'

ifneq ($(CLI_SRCS),)
install: install-cli
endif

# ---- C unit tests (no server) ----
UNIT_SRCS = $(sort $(wildcard regress/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:.c=)

regress/unit/test_%: regress/unit/test_%.c $(CORE_OBJS) $(wildcard regress/unit/*.h)
	$(CC) $(CLI_CFLAGS) -Iregress/unit -o $@ $< $(CORE_OBJS) $(CORE_LIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; ./$$t; done

# ---- everything, against a throwaway server ----
test: all install $(UNIT_BINS)
	bash regress/run_tests.sh

demo: all install
	bash scripts/demo.sh

.PHONY: unit test demo install-cli
