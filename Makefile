# seqmodels -- `make help` lists the targets.
CC ?= gcc
CFLAGS ?= -O3 -march=native
CFLAGS += -Wall -Wextra -Wno-unused-function -std=gnu11
LDLIBS = -lm

# OpenMP unless NO_OMP=1 (the code is the same; pragmas are then ignored)
ifeq ($(NO_OMP),1)
  CFLAGS += -fopenmp-simd -Wno-unknown-pragmas
  $(info OpenMP: off (NO_OMP=1))
else
  CFLAGS += -fopenmp
  $(info OpenMP: on (NO_OMP=1 to build without))
endif

HEADERS = seqmodels.h

.PHONY: all test clean help
all: train_cpu test_gradcheck

train_cpu: train_cpu.c $(HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# gradient checks run in double precision
test_gradcheck: test_gradcheck.c $(HEADERS)
	$(CC) $(CFLAGS) -DSM_DOUBLE -o $@ $< $(LDLIBS)

# every CPU test: gradient checks and file formats (test_gradcheck), then the trainer's command
# line, resume and error handling (tests/test_cli.sh); each prints "N passed, N failed"
test: train_cpu test_gradcheck
	OMP_NUM_THREADS=2 ./test_gradcheck
	bash tests/test_cli.sh

clean:
	rm -f train_cpu test_gradcheck
	rm -rf tests/tmp

help:
	@echo "targets:"
	@echo "  train_cpu       CPU trainer / evaluator / sampler (./train_cpu -h)"
	@echo "  test_gradcheck  finite-difference checks of every op and architecture (double precision)"
	@echo "  test            build and run every CPU test"
	@echo "  clean           remove build outputs"
	@echo "options: NO_OMP=1 (no OpenMP), CC=..., CFLAGS=..."
