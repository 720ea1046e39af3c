# seqmodels -- `make help` lists the targets.
CC ?= gcc
CFLAGS ?= -O3 -march=native
CFLAGS += -Wall -Wextra -Wno-unused-function -std=gnu11
# we never read floating-point exception flags; this lets GCC vectorise loops with clamps (exp_fast)
CFLAGS += -fno-trapping-math
# nor errno: sqrt then vectorises (AdamW); IEEE sqrt is exact either way, results do not change
CFLAGS += -fno-math-errno
LDLIBS = -lm

# OpenMP unless NO_OMP=1 (the code is the same; pragmas are then ignored)
ifeq ($(NO_OMP),1)
  CFLAGS += -fopenmp-simd -Wno-unknown-pragmas
  $(info OpenMP: off (NO_OMP=1))
else
  CFLAGS += -fopenmp
  $(info OpenMP: on (NO_OMP=1 to build without))
endif

# PNG plots (--plot) are drawn with stb_image_write.h (Debian: libstb-dev); without it the
# trainers build and --plot says what to install
# (STB_INCLUDE=DIR: a folder holding stb/stb_image_write.h, for machines without the package)
STB_INCLUDE ?= /usr/include
STB_H := $(wildcard $(STB_INCLUDE)/stb/stb_image_write.h)
ifneq ($(STB_H),)
  PLOT_FLAGS = -DSM_PLOTS $(if $(filter /usr/include,$(STB_INCLUDE)),,-I$(STB_INCLUDE))
  $(info plots: on ($(STB_H)))
else
  $(info plots: off (apt-get install libstb-dev for --plot))
endif
CFLAGS += $(PLOT_FLAGS)

HEADERS = seqmodels.h data/tasks.h plot.h

# CUDA (built with nvcc; runs only where there is a GPU: `make test_gpu` on the device machine)
NVCC ?= nvcc
NVCC_FLAGS ?= -O3 -arch=sm_90a
NVCC_FLAGS += --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 $(PLOT_FLAGS)

.PHONY: all test clean help cuda test_gpu
all: train_cpu test_gradcheck

train_cpu: train_cpu.c $(HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# gradient checks run in double precision
test_gradcheck: test_gradcheck.c $(HEADERS)
	$(CC) $(CFLAGS) -DSM_DOUBLE -o $@ $< $(LDLIBS)

# task generators' invariants and metrics; the plotting routine
tests/test_tasks: tests/test_tasks.c $(HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)
tests/test_plot: tests/test_plot.c plot.h
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# the matmul alone: GFLOP/s on one training step's shapes (OMP_NUM_THREADS=2 dev/bench/bench_matmul)
dev/bench/bench_matmul: dev/bench/bench_matmul.c $(HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# every CPU test: gradient checks and file formats (test_gradcheck), task generators and plots,
# then the trainer's command line, resume, error handling and a small task learned end to end
# (tests/test_cli.sh); each prints "N passed, N failed"
TEST_PLOT = $(if $(STB_H),tests/test_plot,)
test: train_cpu test_gradcheck tests/test_tasks $(TEST_PLOT)
	OMP_NUM_THREADS=2 ./test_gradcheck
	./tests/test_tasks
	$(if $(STB_H),./tests/test_plot,@echo "skip tests/test_plot (no stb_image_write.h)")
	bash tests/test_cli.sh

# compile every CUDA program (CI does this with no GPU, so the CUDA code never rots)
cuda: train_gpu test_gpu.out dev/bench/bench_scan_cuda dev/bench/scan_fwd_variants dev/bench/attn_bwd_atomic dev/bench/bench_dw dev/bench/bench_attn_cuda dev/bench/bench_lt_search dev/bench/gemm_tma

train_gpu: train_gpu.cu kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) -o $@ $< -lcublasLt -lcublas -lm

test_gpu.out: test_gpu.cu kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) -o $@ $< -lcublasLt -lcublas -lm

# the scan kernels alone (ms, GB/s, roofline terms): dev/bench/bench_scan_cuda [B T E N]
dev/bench/bench_scan_cuda: dev/bench/bench_scan.cu dev/bench/bench_util.cuh kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) -o $@ $< -lcublasLt -lcublas -lm

# kernel experiment: forms of the scan forward against kernels.cuh's (dev/bench/scan_fwd_variants [B T E])
dev/bench/scan_fwd_variants: dev/bench/scan_fwd_variants.cu dev/bench/bench_util.cuh kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) -o $@ $< -lcublasLt -lcublas -lm

# kernel experiment: attention backward in one kernel, dQ by atomics, against kernels.cuh's
# deterministic pair (dev/bench/attn_bwd_atomic)
dev/bench/attn_bwd_atomic: dev/bench/attn_bwd_atomic.cu dev/bench/bench_util.cuh kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) -o $@ $< -lcublasLt -lcublas -lm

# the tiled attention kernels alone: ms and TFLOP/s at config (b)'s shape (dev/bench/bench_attn runs it next to PyTorch)
dev/bench/bench_attn_cuda: dev/bench/bench_attn.cu dev/bench/bench_util.cuh kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) -I. -o $@ $< -lcublasLt -lcublas -lm

# the weight-gradient matmuls of config (b): one cuBLAS call against a split over the tokens (dev/bench/bench_dw)
dev/bench/bench_dw: dev/bench/bench_dw.cu dev/bench/bench_util.cuh kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) -o $@ $< -lcublasLt -lcublas -lm

# the MLP's GELU-epilogue matmuls: every kernel cuBLASLt's heuristic offers, then every configuration it accepts, timed (dev/bench/bench_lt_search)
dev/bench/bench_lt_search: dev/bench/bench_lt_search.cu dev/bench/bench_util.cuh kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) -o $@ $< -lcublasLt -lcublas -lm

# the DGELU product on a TMA-fed, warp-specialized matmul kernel of our own, against cuBLASLt's (dev/bench/gemm_tma)
dev/bench/gemm_tma: dev/bench/gemm_tma.cu dev/bench/bench_util.cuh kernels.cuh $(HEADERS)
	$(NVCC) $(NVCC_FLAGS) $(GT_FLAGS) -o $@ $< -lcublasLt -lcublas -lm

# on a GPU machine: build and run every kernel against its CPU op
test_gpu: test_gpu.out
	./test_gpu.out

clean:
	rm -f train_cpu test_gradcheck test_gpu.out train_gpu tests/test_tasks tests/test_plot dev/bench/bench_scan_cuda dev/bench/scan_fwd_variants \
	      dev/bench/bench_matmul dev/bench/attn_bwd_atomic dev/bench/bench_dw dev/bench/bench_attn_cuda dev/bench/bench_lt_search dev/bench/gemm_tma
	rm -rf tests/tmp

help:
	@echo "targets:"
	@echo "  train_cpu       CPU trainer / evaluator / sampler (./train_cpu -h)"
	@echo "  test_gradcheck  finite-difference checks of every op and architecture (double precision)"
	@echo "  test            build and run every CPU test"
	@echo "  dev/bench/bench_matmul  the CPU matmul's GFLOP/s on one training step's shapes"
	@echo "  train_gpu       CUDA trainer, same flags as train_cpu (./train_gpu -h)"
	@echo "  cuda            compile the CUDA programs (no GPU needed)"
	@echo "  test_gpu        build and run every CUDA kernel against its CPU op (needs a GPU)"
	@echo "  clean           remove build outputs"
	@echo "options: NO_OMP=1 (no OpenMP), CC=..., CFLAGS=..."
