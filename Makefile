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

# CUDA (built with nvcc; runs only where there is a GPU: `make test_gpu` on the device machine)
NVCC ?= nvcc
NVCC_FLAGS ?= -O3 -arch=sm_90a
NVCC_FLAGS += -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550

.PHONY: all test clean help cuda test_gpu
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

# compile every CUDA program (CI does this with no GPU, so the CUDA code never rots)
cuda: train_gpu test_gpu.out

train_gpu: train_gpu.cu kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) -o $@ $< -lcublas -lm

test_gpu.out: test_gpu.cu kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) -o $@ $< -lcublas -lm

# on a GPU machine: build and run every kernel against its CPU op
test_gpu: test_gpu.out
	./test_gpu.out

clean:
	rm -f train_cpu test_gradcheck test_gpu.out train_gpu
	rm -rf tests/tmp

help:
	@echo "targets:"
	@echo "  train_cpu       CPU trainer / evaluator / sampler (./train_cpu -h)"
	@echo "  test_gradcheck  finite-difference checks of every op and architecture (double precision)"
	@echo "  test            build and run every CPU test"
	@echo "  train_gpu       CUDA trainer, same flags as train_cpu (./train_gpu -h)"
	@echo "  cuda            compile the CUDA programs (no GPU needed)"
	@echo "  test_gpu        build and run every CUDA kernel against its CPU op (needs a GPU)"
	@echo "  clean           remove build outputs"
	@echo "options: NO_OMP=1 (no OpenMP), CC=..., CFLAGS=..."
