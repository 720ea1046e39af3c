/*
 * bench_dgelu.cu -- the MLP's backward matmul with its GELU-gradient epilogue at config (b)'s
 * shape (dgelu_in (N,4C) = (dout (N,C) W (C,4C)) * GELU'(gelu_in), N = 16384, C = 768), as
 * kernels.cuh's dgelu_fused asks cuBLASLt for it, with every kernel cuBLASLt's heuristic offers
 * (up to 32), each timed: does a faster one exist than the first, which the trainer takes? Also
 * the same matmul with no epilogue (what the kernel would cost without the GELU') and with
 * DGELU_BGRAD (the c_fc bias gradient in the same epilogue). Prints per candidate its algorithm
 * attributes, ms, TFLOP/s and the largest difference from candidate 0's output.
 * Build and run (repository root): make dev/bench/bench_dgelu && dev/bench/bench_dgelu
 */
#include "../../seqmodels.h"
#include "../../kernels.cuh"
#include "bench_util.cuh"

int main() {
    const int N = 16384, C = 768, H = 4 * C; // D (H,N) col-major = W (H,C) col-major x dout^T (C,N)
    cudaDeviceProp p;
    cudaCheck(cudaGetDeviceProperties(&p, 0));
    printf("device: %s, %d SMs; D (%d x %d) = W (%d x %d) dout (%d x %d) [* GELU'(aux)], bf16, fp32 accumulation\n\n", p.name,
           p.multiProcessorCount, H, N, H, C, C, N);
    uint64_t rng = 99;
    __nv_bfloat16 *W = dev_rand<__nv_bfloat16>((size_t)H * C, 0.05f, 0.0f, &rng), *dout = dev_rand<__nv_bfloat16>((size_t)C * N, 1.0f, 0.0f, &rng);
    __nv_bfloat16 *aux = dev_rand<__nv_bfloat16>((size_t)H * N, 2.0f, 0.0f, &rng), *D;
    float* dbias;
    cudaCheck(cudaMalloc(&D, (size_t)H * N * 2));
    cudaCheck(cudaMalloc(&dbias, H * 4));
    cublasLtHandle_t lt;
    cublasCheck(cublasLtCreate(&lt));
    void* ws = gpu::cublas_workspace();
    double flop = 2.0 * H * N * C;
    struct Epi { const char* name; cublasLtEpilogue_t epi; } epis[] = {
        {"DEFAULT (no epilogue)", CUBLASLT_EPILOGUE_DEFAULT}, {"DGELU", CUBLASLT_EPILOGUE_DGELU}, {"DGELU_BGRAD", CUBLASLT_EPILOGUE_DGELU_BGRAD}};
    std::vector<__nv_bfloat16> h0((size_t)H * N), h1((size_t)H * N);
    for (const Epi& e : epis) {
        cublasLtMatmulDesc_t op;
        cublasLtMatrixLayout_t Ad, Bd, Dd;
        cublasOperation_t nn = CUBLAS_OP_N;
        cublasCheck(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
        cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &nn, sizeof(nn)));
        cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &nn, sizeof(nn)));
        cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e.epi, sizeof(e.epi)));
        if (e.epi != CUBLASLT_EPILOGUE_DEFAULT) {
            int64_t ld_aux = H;
            cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof(aux)));
            cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld_aux, sizeof(ld_aux)));
        }
        if (e.epi == CUBLASLT_EPILOGUE_DGELU_BGRAD) {
            cudaDataType_t bt = CUDA_R_32F;
            cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &dbias, sizeof(dbias)));
            cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)));
        }
        cublasCheck(cublasLtMatrixLayoutCreate(&Ad, CUDA_R_16BF, H, C, H));
        cublasCheck(cublasLtMatrixLayoutCreate(&Bd, CUDA_R_16BF, C, N, C));
        cublasCheck(cublasLtMatrixLayoutCreate(&Dd, CUDA_R_16BF, H, N, H));
        cublasLtMatmulPreference_t pref;
        uint64_t ws_bytes = CUBLAS_WORKSPACE;
        cublasCheck(cublasLtMatmulPreferenceCreate(&pref));
        cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof(ws_bytes)));
        cublasLtMatmulHeuristicResult_t res[32];
        int found = 0;
        cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt, op, Ad, Bd, Dd, Dd, pref, 32, res, &found);
        printf("## %s: %d candidates (status %d)\n\n| # | algo | tile | stages | splitK | swizzle | custom | cluster | ws KiB | ms | TFLOP/s | max diff vs #0 |\n"
               "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
               e.name, found, (int)st);
        const float one = 1.0f, zero = 0.0f;
        for (int i = 0; i < found; i++) {
            const cublasLtMatmulAlgo_t* a = &res[i].algo;
            auto run = [&] {
                cublasCheck(cublasLtMatmul(lt, op, &one, W, Ad, dout, Bd, &zero, D, Dd, D, Dd, a, ws, CUBLAS_WORKSPACE, cudaStreamPerThread));
            };
            cudaCheck(cudaMemset(D, 0, (size_t)H * N * 2));
            run();
            cudaCheck(cudaDeviceSynchronize());
            cudaCheck(cudaMemcpy(i == 0 ? h0.data() : h1.data(), D, (size_t)H * N * 2, cudaMemcpyDeviceToHost));
            double md = 0;
            if (i > 0)
                for (size_t j = 0; j < h0.size(); j++) md = std::max(md, (double)fabsf((float)h0[j] - (float)h1[j]));
            double ms = median_ms(run);
            auto at = [&](cublasLtMatmulAlgoConfigAttributes_t w) { return gpu::lt_algo_attr(a, w); };
            printf("| %d | %d | %d | %d | %d | %d | %d | %d | %zu | %.4f | %.0f | %.3g |\n", i, at(CUBLASLT_ALGO_CONFIG_ID),
                   at(CUBLASLT_ALGO_CONFIG_TILE_ID), at(CUBLASLT_ALGO_CONFIG_STAGES_ID), at(CUBLASLT_ALGO_CONFIG_SPLITK_NUM),
                   at(CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING), at(CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION), at(CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID),
                   res[i].workspaceSize / 1024, ms, flop / ms / 1e9, md);
        }
        printf("\n");
        cublasLtMatmulPreferenceDestroy(pref);
        cublasLtMatrixLayoutDestroy(Ad);
        cublasLtMatrixLayoutDestroy(Bd);
        cublasLtMatrixLayoutDestroy(Dd);
        cublasLtMatmulDescDestroy(op);
    }
    return 0;
}
