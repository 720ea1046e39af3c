# session 20: make a copy of the tree whose scan backward takes dg (DG=1) and/or writes dxc (DXC=1)
# in fp32 while the rest stays bf16, to find which of the two slowed the kernel (bench_scan only).
# usage: python3 dev/runs/s20_scan_types.py DEST DG DXC   (DEST: a copy of the repository root)
import sys
dest, dg, dxc = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
k = open(dest + "/kernels.cuh").read()
b = open(dest + "/dev/bench/bench_scan.cu").read()
def rep(s, a, c, n=1):
    assert s.count(a) == n, (a, s.count(a))
    return s.replace(a, c)
if dg:
    k = rep(k, "const X* __restrict__ dg, const float* __restrict__ hck,", "const float* __restrict__ dg, const float* __restrict__ hck,")
    k = rep(k, "    X dg[SSM_CHUNK][SSM_BWD_CH];", "    float dg[SSM_CHUNK][SSM_BWD_CH];")
    k = rep(k, "__device__ inline void scan_bwd_prefetch_l2(const X* xc, const X* dtr, const X* xz, const X* dg,", "__device__ inline void scan_bwd_prefetch_l2(const X* xc, const X* dtr, const X* xz, const float* dg,")
    k = rep(k, "case 4: if (sizeof(X) == 4 && eb", "case 4: if (eb")
    k = rep(k, "constexpr int XPR = 16 / sizeof(X), PR = CH / XPR; // elements, 16-byte pieces per row", "constexpr int XPR = 4, PR = CH / XPR;")
    k = rep(k, "float* part_ad, const X* dg, const float* hck,", "float* part_ad, const float* dg, const float* hck,", 2)
    k = rep(k, "float* scratch, const X* dg,", "float* scratch, const float* dg,")
    k = rep(k, ": X(0.0f);\n            }\n        }\n        scan_fetch_xvz", ": 0.0f;\n            }\n        }\n        scan_fetch_xvz")
    k = rep(k, "        X *dg = (X*)d.dg, *dxc = (X*)d.dxc;", "        X *dxc = (X*)d.dxc; float* dg = d.dg;")
    b = rep(b, "*dxc, *dg = dev_rand<__nv_bfloat16>(n, 1, 0, &rng);", "*dxc;\n    float* dg = dev_rand(n, 1, 0, &rng);")
if dxc:
    k = rep(k, "ssm_scan_backward_kernel(X* __restrict__ dxc,", "ssm_scan_backward_kernel(float* __restrict__ dxc,")
    k = rep(k, "(X* dxc, X* ddtr, X* dxz, float* part_bc", "(float* dxc, X* ddtr, X* dxz, float* part_bc", 2)
    k = rep(k, "static void ssm_scan_backward(X* dxc,", "static void ssm_scan_backward(float* dxc,")
    k = rep(k, "        X *dg = (X*)d.dg, *dxc = (X*)d.dxc;", "        X* dg = (X*)d.dg; float* dxc = d.dxc;")
    k = rep(k, "d.conv_scratch, dxc, xz,", "d.conv_scratch, (X*)dxc, xz,")
    b = rep(b, "    cudaCheck(cudaMalloc(&dxc, n * 2));", "    float* dxc32;\n    cudaCheck(cudaMalloc(&dxc32, n * 4)); cudaCheck(cudaMalloc(&dxc, n * 2));")
    b = rep(b, "gpu::ssm_scan_backward(dxc,", "gpu::ssm_scan_backward(dxc32,")
open(dest + "/kernels.cuh", "w").write(k)
open(dest + "/dev/bench/bench_scan.cu", "w").write(b)
