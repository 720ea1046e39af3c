/*
 * bench_lt_search.cu -- cuBLASLt's kernels for config (b)'s MLP matmuls with GELU epilogues, and
 * beyond its heuristic. First every candidate the heuristic offers (as kernels.cuh's lt_matmul
 * asks for them), each timed and compared bit for bit with the first, for the DGELU product
 * (c_proj's backward), the same with DGELU_BGRAD (the bias gradient in the epilogue: none on an
 * H100/H200), the GELU_AUX product (c_fc's forward) and the DGELU product without its epilogue.
 * The heuristic offers only one kernel family (algo 39, 128x128 tiles) for DGELU, which runs at
 * ~450 TFLOP/s where the same product without the epilogue gets ~650. Then the search: each
 * algorithm id cuBLASLt lists for bf16 in / bf16 out is combined with every tile, stage count,
 * cluster shape, CTA swizzle and custom option its capabilities name; the combinations that
 * cublasLtMatmulAlgoCheck accepts run once each (a screen), the fastest 12 are timed again (median
 * of 15) and compared bit for bit with the heuristic's first kernel (the trainer keeps only
 * kernels with those bits).
 * Also, for the two matmuls whose output is added to the residual stream (attn c_proj, mlp
 * c_proj): the bf16 output the trainer writes now against an fp32 output with beta = 1 (the
 * residual add in the epilogue), heuristic's candidates, each timed.
 * Build and run (repository root): make dev/bench/bench_lt_search && dev/bench/bench_lt_search [--all: also search the
 * column-major forms (session 18, H100: nothing faster than the heuristic's) | --quick: the candidates only, no search]
 */
#include "../../seqmodels.h"
#include "../../kernels.cuh"
#include "bench_util.cuh"

struct Case {
    const char* name;
    cublasOperation_t opA, opB;
    int m, n, k, lda, ldb, ldd;
    const void *A, *B;
    void* D;
    cudaDataType_t dtype;
    cublasLtEpilogue_t epi;
    void* aux;
    float beta;
    int row_major; // CUBLASLT_ORDER_ROW on every matrix (the same memory, seen as its transpose)
    float* dbias;  // DGELU_BGRAD's fp32 bias gradient
};
struct Lt {
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t Ad, Bd, Dd;
};
static Lt lt_make(cublasLtHandle_t h, const Case& c) {
    Lt t = {h};
    cublasCheck(cublasLtMatmulDescCreate(&t.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasCheck(cublasLtMatmulDescSetAttribute(t.op, CUBLASLT_MATMUL_DESC_TRANSA, &c.opA, sizeof(c.opA)));
    cublasCheck(cublasLtMatmulDescSetAttribute(t.op, CUBLASLT_MATMUL_DESC_TRANSB, &c.opB, sizeof(c.opB)));
    if (c.epi != CUBLASLT_EPILOGUE_DEFAULT) {
        int64_t ld_aux = c.ldd;
        cublasCheck(cublasLtMatmulDescSetAttribute(t.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &c.epi, sizeof(c.epi)));
        cublasCheck(cublasLtMatmulDescSetAttribute(t.op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &c.aux, sizeof(c.aux)));
        cublasCheck(cublasLtMatmulDescSetAttribute(t.op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld_aux, sizeof(ld_aux)));
    }
    if (c.dbias) {
        cudaDataType_t bt = CUDA_R_32F;
        cublasCheck(cublasLtMatmulDescSetAttribute(t.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &c.dbias, sizeof(c.dbias)));
        cublasCheck(cublasLtMatmulDescSetAttribute(t.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)));
    }
    cublasCheck(cublasLtMatrixLayoutCreate(&t.Ad, CUDA_R_16BF, c.opA == CUBLAS_OP_N ? c.m : c.k, c.opA == CUBLAS_OP_N ? c.k : c.m, c.lda));
    cublasCheck(cublasLtMatrixLayoutCreate(&t.Bd, CUDA_R_16BF, c.opB == CUBLAS_OP_N ? c.k : c.n, c.opB == CUBLAS_OP_N ? c.n : c.k, c.ldb));
    cublasCheck(cublasLtMatrixLayoutCreate(&t.Dd, c.dtype, c.m, c.n, c.ldd));
    if (c.row_major) {
        cublasLtOrder_t row = CUBLASLT_ORDER_ROW;
        for (cublasLtMatrixLayout_t l : {t.Ad, t.Bd, t.Dd})
            cublasCheck(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_ORDER, &row, sizeof(row)));
    }
    return t;
}
static cublasStatus_t lt_run(const Lt& t, const Case& c, const cublasLtMatmulAlgo_t* a) {
    const float one = 1.0f;
    return cublasLtMatmul(t.lt, t.op, &one, c.A, t.Ad, c.B, t.Bd, &c.beta, c.D, t.Dd, c.D, t.Dd, a, gpu::cublas_workspace(),
                          CUBLAS_WORKSPACE, cudaStreamPerThread);
}
static double time_ms(const Lt& t, const Case& c, const cublasLtMatmulAlgo_t* a, int reps) {
    return median_ms([&] { cublasCheck(lt_run(t, c, a)); }, reps);
}
static size_t d_bytes(const Case& c) { return (size_t)c.ldd * c.n * (c.dtype == CUDA_R_32F ? 4 : 2); }
static int cfg(const cublasLtMatmulAlgo_t* a, cublasLtMatmulAlgoConfigAttributes_t w) { return gpu::lt_algo_attr(a, w); }
static void print_algo(const char* tag, const cublasLtMatmulAlgo_t* a, double ms, double flop, bool same) {
    printf("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %.4f | %.0f | %s |\n", tag, cfg(a, CUBLASLT_ALGO_CONFIG_ID),
           cfg(a, CUBLASLT_ALGO_CONFIG_TILE_ID), cfg(a, CUBLASLT_ALGO_CONFIG_STAGES_ID), cfg(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM),
           cfg(a, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING), cfg(a, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION),
           cfg(a, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID), cfg(a, CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID), ms, flop / ms / 1e9,
           same ? "yes" : "no");
}
#define TABLE_HEAD "| kernel | algo | tile | stages | splitK | swizzle | custom | cluster | inner | ms | TFLOP/s | first's bits |\n" \
                   "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"

/* the heuristic's first kernel, and every candidate it offers, each timed */
static bool heuristic(const Lt& t, const Case& c, cublasLtMatmulAlgo_t* first, unsigned long long* ref, int show) {
    cublasLtMatmulHeuristicResult_t res[LT_CANDIDATES];
    int found = gpu::lt_heuristic(t.lt, t.op, t.Ad, t.Bd, t.Dd, res, LT_CANDIDATES);
    if (!found) { printf("no heuristic candidate\n\n"); return false; }
    *first = res[0].algo;
    double flop = 2.0 * c.m * c.n * c.k;
    for (int i = 0; i < (show ? found : 1); i++) {
        cudaCheck(cudaMemset(c.D, 0, d_bytes(c)));
        cublasCheck(lt_run(t, c, &res[i].algo));
        unsigned long long h = gpu::bits_hash(c.D, d_bytes(c));
        if (i == 0) *ref = h;
        char tag[32];
        snprintf(tag, sizeof tag, "heuristic #%d", i);
        if (show) print_algo(tag, &res[i].algo, time_ms(t, c, &res[i].algo, 15), flop, h == *ref);
    }
    return true;
}

static void search(cublasLtHandle_t h, const Case& c) {
    Lt t = lt_make(h, c);
    double flop = 2.0 * c.m * c.n * c.k;
    printf("## %s: D (%d x %d) %s, k %d, epilogue %d, %s-major\n\n", c.name, c.m, c.n, c.dtype == CUDA_R_32F ? "fp32" : "bf16", c.k,
           (int)c.epi, c.row_major ? "row" : "column");
    cublasLtMatmulAlgo_t first;
    unsigned long long ref = 0;
    printf(TABLE_HEAD);
    bool have_first = heuristic(t, c, &first, &ref, 1); // (none: the search still runs; no bits to compare)
    int ids[256], n_ids = 0;
    cublasCheck(cublasLtMatmulAlgoGetIds(h, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16BF, CUDA_R_16BF, c.dtype, c.dtype, 256, ids, &n_ids));
    struct Cand { cublasLtMatmulAlgo_t a; double ms; };
    std::vector<Cand> ok;
    long tried = 0;
    for (int ii = 0; ii < n_ids; ii++) {
        cublasLtMatmulAlgo_t a;
        if (cublasLtMatmulAlgoInit(h, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16BF, CUDA_R_16BF, c.dtype, c.dtype, ids[ii], &a) != CUBLAS_STATUS_SUCCESS)
            continue;
        uint32_t epi_mask = 0, tiles[128], stages[128];
        int custom_max = 0, swz = 0;
        size_t got = 0, n_tiles = 0, n_stages = 0;
        cublasLtMatmulAlgoCapGetAttribute(&a, CUBLASLT_ALGO_CAP_EPILOGUE_MASK, &epi_mask, sizeof(epi_mask), &got);
        if (c.epi != CUBLASLT_EPILOGUE_DEFAULT && (epi_mask & c.epi) != (uint32_t)c.epi) continue;
        cublasLtMatmulAlgoCapGetAttribute(&a, CUBLASLT_ALGO_CAP_TILE_IDS, tiles, sizeof(tiles), &got);
        n_tiles = got / 4;
        cublasLtMatmulAlgoCapGetAttribute(&a, CUBLASLT_ALGO_CAP_STAGES_IDS, stages, sizeof(stages), &got);
        n_stages = got / 4;
        cublasLtMatmulAlgoCapGetAttribute(&a, CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX, &custom_max, sizeof(custom_max), &got);
        cublasLtMatmulAlgoCapGetAttribute(&a, CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT, &swz, sizeof(swz), &got);
        if (n_tiles == 0) tiles[n_tiles++] = 0;
        if (n_stages == 0) stages[n_stages++] = 0;
        // an algorithm that lists no tiles (nvjet, id 66: the heuristic gives it tiles 23, 24, 209, ...
        // with stages 64xAUTO): every tile id with those stages, its custom options, no cluster
        bool open = n_tiles == 1 && tiles[0] == 0;
        static uint32_t all_tiles[CUBLASLT_MATMUL_TILE_END];
        if (open) {
            for (uint32_t i = 0; i < CUBLASLT_MATMUL_TILE_END; i++) all_tiles[i] = i;
            n_stages = 2, stages[0] = 0, stages[1] = CUBLASLT_MATMUL_STAGES_64xAUTO;
        }
        const uint32_t* tile_list = open ? all_tiles : tiles;
        if (open) n_tiles = CUBLASLT_MATMUL_TILE_END;
        int n_ok0 = (int)ok.size();
        for (size_t ti = 0; ti < n_tiles; ti++)
            for (size_t si = 0; si < n_stages; si++)
                for (uint32_t cl = 0; cl < (open ? 1u : (uint32_t)CUBLASLT_CLUSTER_SHAPE_END); cl++)
                    for (uint32_t sw = 0; sw <= (uint32_t)(swz ? 1 : 0); sw++)
                        for (uint32_t co = 0; co <= (uint32_t)std::min(custom_max, 15); co++) {
                            if (cl == 1) continue; // (no cluster shape has id 1)
                            cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile_list[ti], 4);
                            cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages[si], 4);
                            cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cl, 4);
                            cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &sw, 4);
                            cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, &co, 4);
                            cublasLtMatmulHeuristicResult_t r;
                            tried++;
                            if (cublasLtMatmulAlgoCheck(h, t.op, t.Ad, t.Bd, t.Dd, t.Dd, &a, &r) != CUBLAS_STATUS_SUCCESS) continue;
                            if (r.workspaceSize > CUBLAS_WORKSPACE) continue;
                            if (lt_run(t, c, &a) != CUBLAS_STATUS_SUCCESS) continue;
                            ok.push_back({a, 0.0});
                        }
        printf("<!-- algo %d: epilogue mask 0x%x, %zu tiles, %zu stages, custom <= %d, swizzle %d: %d configurations accepted -->\n",
               ids[ii], epi_mask, n_tiles, n_stages, custom_max, swz, (int)ok.size() - n_ok0);
    }
    cudaCheck(cudaDeviceSynchronize());
    for (Cand& x : ok) x.ms = time_ms(t, c, &x.a, 3); // the screen
    std::sort(ok.begin(), ok.end(), [](const Cand& p, const Cand& q) { return p.ms < q.ms; });
    printf("\n%ld configurations tried, %zu accepted and run; the fastest 12 of the screen, timed again:\n\n" TABLE_HEAD, tried, ok.size());
    for (size_t i = 0; i < ok.size() && i < 12; i++) {
        cudaCheck(cudaMemset(c.D, 0, d_bytes(c)));
        cublasCheck(lt_run(t, c, &ok[i].a));
        bool same = have_first && gpu::bits_hash(c.D, d_bytes(c)) == ref;
        char tag[32];
        snprintf(tag, sizeof tag, "search #%zu", i);
        print_algo(tag, &ok[i].a, time_ms(t, c, &ok[i].a, 15), flop, same);
    }
    printf("\n");
}
/* the heuristic's candidates only */
static void candidates(cublasLtHandle_t h, const Case& c) {
    Lt t = lt_make(h, c);
    printf("## %s: D (%d x %d) %s, k %d, beta %g\n\n" TABLE_HEAD, c.name, c.m, c.n, c.dtype == CUDA_R_32F ? "fp32" : "bf16", c.k, c.beta);
    cublasLtMatmulAlgo_t first;
    unsigned long long ref;
    heuristic(t, c, &first, &ref, 1);
    printf("\n");
}

int main(int argc, char** argv) {
    const int N = 16384, C = 768, H = 4 * C;
    cudaDeviceProp p;
    cudaCheck(cudaGetDeviceProperties(&p, 0));
    int ver = 0;
    cublasLtHandle_t h;
    cublasCheck(cublasLtCreate(&h));
    ver = (int)cublasLtGetVersion();
    printf("device: %s, %d SMs; cuBLASLt %d; config (b)'s shapes, N = %d tokens, C = %d\n\n", p.name, p.multiProcessorCount, ver, N, C);
    uint64_t rng = 7;
    __nv_bfloat16 *W = dev_rand<__nv_bfloat16>((size_t)H * C, 0.05f, 0.0f, &rng), *x = dev_rand<__nv_bfloat16>((size_t)C * N, 1.0f, 0.0f, &rng);
    __nv_bfloat16 *aux = dev_rand<__nv_bfloat16>((size_t)H * N, 2.0f, 0.0f, &rng), *xh = dev_rand<__nv_bfloat16>((size_t)H * N, 1.0f, 0.0f, &rng);
    void *D16, *D32;
    float* dbias;
    cudaCheck(cudaMalloc(&D16, (size_t)H * N * 2));
    cudaCheck(cudaMalloc(&D32, (size_t)C * N * 4));
    cudaCheck(cudaMalloc(&dbias, H * 4));
    bool quick = argc > 1 && !strcmp(argv[1], "--quick");
    // as kernels.cuh's dgelu_fused: dgelu_in^T (H,N) = W (H,C) dout^T (C,N), epilogue * GELU'(aux)
    Case dgelu = {"DGELU (c_proj backward)", CUBLAS_OP_N, CUBLAS_OP_N, H, N, C, H, C, H, W, x, D16, CUDA_R_16BF, CUBLASLT_EPILOGUE_DGELU, aux, 0.0f};
    // as linear_gelu_fused: act^T (H,N) = GELU(W_fc (C,H)^T ln2^T (C,N)), aux = the pre-activation
    Case gelu_aux = {"GELU_AUX (c_fc forward)", CUBLAS_OP_T, CUBLAS_OP_N, H, N, C, C, C, H, W, x, D16, CUDA_R_16BF, CUBLASLT_EPILOGUE_GELU_AUX, aux, 0.0f};
    Case plain = {"no epilogue (the DGELU product alone)", CUBLAS_OP_N, CUBLAS_OP_N, H, N, C, H, C, H, W, x, D16, CUDA_R_16BF, CUBLASLT_EPILOGUE_DEFAULT, NULL, 0.0f};
    // the same two as row-major products: dgelu_in (N,H) = dout (N,C) W (C,H); act (N,H) = ln2 (N,C) W_fc (H,C)^T
    Case dgelu_row = {"DGELU (c_proj backward)", CUBLAS_OP_N, CUBLAS_OP_N, N, H, C, C, H, H, x, W, D16, CUDA_R_16BF, CUBLASLT_EPILOGUE_DGELU, aux, 0.0f, 1};
    Case gelu_aux_row = {"GELU_AUX (c_fc forward)", CUBLAS_OP_N, CUBLAS_OP_T, N, H, C, C, C, H, x, W, D16, CUDA_R_16BF, CUBLASLT_EPILOGUE_GELU_AUX, aux, 0.0f, 1};
    Case dgelu_bgrad = dgelu; dgelu_bgrad.name = "DGELU_BGRAD (c_proj backward, c_fc's bias gradient)";
    dgelu_bgrad.epi = CUBLASLT_EPILOGUE_DGELU_BGRAD; dgelu_bgrad.dbias = dbias;
    candidates(h, dgelu); candidates(h, dgelu_bgrad); candidates(h, gelu_aux); candidates(h, plain);
    if (!quick) { search(h, dgelu_row); search(h, gelu_aux_row); }
    if (argc > 1 && !strcmp(argv[1], "--all")) { search(h, dgelu); search(h, gelu_aux); }
    // the residual-branch outputs: attn c_proj (k = C) and mlp c_proj (k = 4C), (C,N) = W^T x
    Case att16 = {"attn c_proj, bf16 out", CUBLAS_OP_T, CUBLAS_OP_N, C, N, C, C, C, C, W, x, D16, CUDA_R_16BF, CUBLASLT_EPILOGUE_DEFAULT, NULL, 0.0f};
    Case att32 = att16; att32.name = "attn c_proj, fp32 out + residual (beta 1)"; att32.D = D32; att32.dtype = CUDA_R_32F; att32.beta = 1.0f;
    Case mlp16 = {"mlp c_proj, bf16 out", CUBLAS_OP_T, CUBLAS_OP_N, C, N, H, H, H, C, W, xh, D16, CUDA_R_16BF, CUBLASLT_EPILOGUE_DEFAULT, NULL, 0.0f};
    Case mlp32 = mlp16; mlp32.name = "mlp c_proj, fp32 out + residual (beta 1)"; mlp32.D = D32; mlp32.dtype = CUDA_R_32F; mlp32.beta = 1.0f;
    candidates(h, att16); candidates(h, att32); candidates(h, mlp16); candidates(h, mlp32);
    return 0;
}
