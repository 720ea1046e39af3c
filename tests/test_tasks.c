/*
 * tests/test_tasks.c -- the synthetic task generators of data/tasks.h against their own rules
 * (../shared/spec/tasks.md §1-5): every answer is determined by its context, the masks cover
 * exactly the scored targets, ids stay in the vocabulary, sets are deterministic from the seed,
 * deduplicated and disjoint where promised, and impossible sizes are refused with a message.
 * Prints one line per check and ends with "N passed, N failed" (exit status 1 on a failure).
 *
 *   gcc -O2 -Wall -Wextra -std=gnu11 -o /tmp/test_tasks tests/test_tasks.c -lm && /tmp/test_tasks
 */
#include "../seqmodels.h"
#include "../data/tasks.h"

static int n_pass = 0, n_fail = 0;
static void expect(int ok, const char* fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    printf("%-4s %s\n", ok ? "ok" : "FAIL", what);
    ok ? n_pass++ : n_fail++;
}
/* for "bad input is rejected" checks: rc must be -1 and sm_err must mention `needle` */
static void expect_error(const char* what, int rc, const char* needle) {
    int ok = rc == -1 && strstr(sm_err, needle) != NULL;
    printf("%-4s %-52s -> \"%s\"\n", ok ? "ok" : "FAIL", what, rc == -1 ? sm_err : "(accepted!)");
    ok ? n_pass++ : n_fail++;
}

static TaskConfig config(int task) {
    TaskConfig tc;
    task_defaults(&tc, task);
    return tc;
}
/* row i of a set */
static const int* row_tok(const TaskSet* s, int i) { return s->tokens + (size_t)i * s->max_len; }
static const uint8_t* row_loss(const TaskSet* s, int i) { return s->loss_mask + (size_t)i * s->max_len; }
static const uint8_t* row_metric(const TaskSet* s, int i) { return s->metric_mask + (size_t)i * s->max_len; }
static const uint32_t* row_valid(const TaskSet* s, int i) { return s->valid ? s->valid + (size_t)i * s->max_len : NULL; }
static int count_mask(const uint8_t* m, int n) {
    int c = 0;
    for (int t = 0; t < n; t++) c += m[t] != 0;
    return c;
}

/* ---- invariants of every set ---- */

/* ids in [0, vocab); past len only the pad id; masks (and valid) zero from target len-1 on */
static int set_layout_ok(const TaskConfig* tc, const TaskSet* s) {
    int V = task_vocab_size(tc), pad = tc->task == TASK_MQAR ? 0 : task_is_string(tc->task) ? tc->vocab + 3 : tc->vocab - 1;
    for (int i = 0; i < s->n; i++) {
        const int* tok = row_tok(s, i);
        if (s->len[i] < 0 || s->len[i] > s->max_len) return 0;
        for (int t = 0; t < s->max_len; t++) {
            if (tok[t] < 0 || tok[t] >= V) return 0;
            if (t >= s->len[i] && tok[t] != pad) return 0;
            if (t >= s->len[i] - 1 && (row_loss(s, i)[t] || row_metric(s, i)[t] || (s->valid && row_valid(s, i)[t]))) return 0;
        }
    }
    return 1;
}
static int sets_equal(const TaskSet* a, const TaskSet* b) {
    size_t cells = (size_t)a->n * a->max_len;
    if (a->n != b->n || a->max_len != b->max_len || !a->valid != !b->valid) return 0;
    return !memcmp(a->tokens, b->tokens, cells * sizeof(int)) && !memcmp(a->len, b->len, a->n * sizeof(int)) &&
           !memcmp(a->loss_mask, b->loss_mask, cells) && !memcmp(a->metric_mask, b->metric_mask, cells) &&
           (!a->valid || !memcmp(a->valid, b->valid, cells * sizeof(uint32_t)));
}
typedef struct { const int* tok; int len; } RowRef;
static int rowref_cmp(const void* x, const void* y) {
    const RowRef *a = (const RowRef*)x, *b = (const RowRef*)y;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return memcmp(a->tok, b->tok, (size_t)a->len * sizeof(int));
}
/* how many rows of a (and b, if given) equal an earlier row of the union */
static int count_duplicates(const TaskSet* a, const TaskSet* b) {
    int n = a->n + (b ? b->n : 0), dup = 0;
    RowRef* r = (RowRef*)mallocCheck((size_t)(n > 0 ? n : 1) * sizeof(RowRef));
    for (int i = 0; i < n; i++) {
        const TaskSet* s = i < a->n ? a : b;
        int k = i < a->n ? i : i - a->n;
        r[i] = (RowRef){row_tok(s, k), s->len[k]};
    }
    qsort(r, (size_t)n, sizeof(RowRef), rowref_cmp);
    for (int i = 1; i < n; i++) dup += rowref_cmp(&r[i - 1], &r[i]) == 0;
    free(r);
    return dup;
}

/* ---- AR (§1): pairs key->value consistent within the row, '=>', a present key, its value ---- */
static int ar_row_ok(const TaskConfig* tc, const int* tok, int len, const uint8_t* loss, const uint8_t* metric) {
    int V = tc->vocab, K = (V - 2) / 2, T = tc->seq_len, value_of[64];
    if (len != T + 3 || K > 64) return 0;
    for (int k = 0; k < K; k++) value_of[k] = -1;
    for (int i = 0; i < T / 2; i++) {
        int k = tok[2 * i], v = tok[2 * i + 1];
        if (k < 0 || k >= K || v < K || v >= V - 2) return 0;
        if (value_of[k] >= 0 && value_of[k] != v) return 0; // one value per key in an example
        value_of[k] = v;
    }
    int q = tok[T + 1];
    if (tok[T] != V - 2 || q < 0 || q >= K || value_of[q] < 0 || tok[T + 2] != value_of[q]) return 0;
    return count_mask(loss, len - 1) == len - 1 && count_mask(metric, len - 1) == 1 && metric[len - 2];
}
/* ---- induction (§2): one planted '=>' in [0, T-2), the answer is the token after it ---- */
static int induction_row_ok(const TaskConfig* tc, const int* tok, int len, const uint8_t* loss, const uint8_t* metric) {
    int T = tc->seq_len, arrow = tc->vocab - 2, p = -1, n_arrows = 0;
    if (len != T + 2) return 0;
    for (int t = 0; t < T; t++) {
        if (tok[t] == arrow) p = t, n_arrows++;
        else if (tok[t] < 0 || tok[t] >= arrow) return 0;
    }
    if (n_arrows != 1 || p >= T - 2 || tok[T] != arrow || tok[T + 1] != tok[p + 1]) return 0;
    return count_mask(loss, len - 1) == len - 1 && count_mask(metric, len - 1) == 1 && metric[len - 2];
}
/* ---- MQAR (§3): distinct keys/values, every key queried once as `key value` in a slot ---- */
static int mqar_row_ok(const TaskConfig* tc, const int* tok, int len, const uint8_t* loss, const uint8_t* metric, int* pair_of,
                       int* first_slot) {
    int V = tc->vocab, P = tc->num_pairs, half = V / 2, ok = len == tc->seq_len;
    for (int i = 0; ok && i < P; i++) { // pair_of: (V) scratch, -1 everywhere on entry and exit
        int k = tok[2 * i], v = tok[2 * i + 1];
        ok = k >= 1 && k < half && v >= half && v < V && pair_of[k] < 0 && pair_of[v] < 0;
        if (ok) pair_of[k] = pair_of[v] = i;
    }
    int asked[4096] = {0}, n_scored = 0;
    for (int t = 0; ok && t < len - 1; t++) {
        if (loss[t] != metric[t]) ok = 0;
        if (!loss[t]) continue;
        int k = tok[t], i = k >= 1 && k < half ? pair_of[k] : -1;
        ok = t >= 2 * P && (t - 2 * P) % 2 == 0 && i >= 0 && i < 4096 && tok[t + 1] == tok[2 * i + 1] && !asked[i];
        if (ok) asked[i] = 1, n_scored++;
        if (ok && i == 0) *first_slot = (t - 2 * P) / 2;
    }
    for (int i = 0; i < P; i++) {
        if (tok[2 * i] >= 1 && tok[2 * i] < V) pair_of[tok[2 * i]] = -1;
        if (tok[2 * i + 1] >= 0 && tok[2 * i + 1] < V) pair_of[tok[2 * i + 1]] = -1;
    }
    return ok && n_scored == P;
}

/* ---- DFA (§4) ---- */
static int dfa_edges(const TaskDfas* d, int i, int s) {
    int n = 0;
    for (int a = 0; a < d->n_sym; a++) n += d->next[(size_t)i * d->stride + s * d->n_sym + a] != 0;
    return n;
}
/* the machine: states in [2, max), 1..min(max_edges, states)-1 edges each, over <= states symbols */
static int dfa_shape_ok(const TaskConfig* tc, const TaskDfas* d, int i) {
    int S = d->n_states[i], used = 0;
    if (S < 2 || S >= tc->dfa_max_nodes) return 0;
    for (int s = 0; s < S; s++) {
        int e = dfa_edges(d, i, s);
        if (e < 1 || e > task_imin(tc->dfa_max_edges, S) - 1) return 0;
    }
    for (int a = 0; a < d->n_sym; a++) {
        int any = 0;
        for (int s = 0; s < S; s++) {
            int to = d->next[(size_t)i * d->stride + s * d->n_sym + a];
            if (to > S) return 0;
            any |= to != 0;
        }
        used += any;
    }
    return used <= S; // the alphabet has one symbol per state
}
/* the row: k in [min, max) examples of < max_example_len symbols, each a walk from state 0;
 * valid[t] = exactly the edges of the reached state, + '|' where the example ends; every target scored */
static int dfa_row_ok(const TaskConfig* tc, const TaskDfas* d, int i, const int* tok, int len, const uint8_t* loss,
                      const uint8_t* metric, const uint32_t* valid) {
    int sep = tc->vocab - 2, n_sym = d->n_sym, s = 0, k = 1, ex_len = 0;
    const uint8_t* next = d->next + (size_t)i * d->stride;
    for (int t = 0; t < len; t++) {
        if (tok[t] == sep) s = 0, k++, ex_len = 0;
        else {
            if (tok[t] < 0 || tok[t] >= n_sym || !next[s * n_sym + tok[t]]) return 0; // not an edge
            s = next[s * n_sym + tok[t]] - 1;
            if (++ex_len >= tc->dfa_max_example_len) return 0;
        }
        if (t == len - 1) break;
        uint32_t want = tok[t + 1] == sep ? 1u << sep : 0;
        for (int a = 0; a < n_sym; a++) if (next[s * n_sym + a]) want |= 1u << a;
        if (valid[t] != want || !((valid[t] >> tok[t + 1]) & 1) || !loss[t] || !metric[t]) return 0;
    }
    return len == 0 || (k >= tc->min_len && k < tc->max_len);
}
/* without the machine (task_example): the next token is always valid, '|' only where an example
 * ends, no pad bit, and every example starts with the same valid symbols (state 0) */
static int dfa_row_plausible(const TaskConfig* tc, const int* tok, int len, const uint8_t* loss, const uint32_t* valid) {
    int sep = tc->vocab - 2;
    uint32_t after_sep = 0;
    for (int t = 0; t + 1 < len; t++) {
        if (!((valid[t] >> tok[t + 1]) & 1) || ((valid[t] >> sep) & 1) != (tok[t + 1] == sep) || (valid[t] >> (tc->vocab - 1)) ||
            !loss[t])
            return 0;
        if (tok[t] == sep) { // every example starts in state 0 (compare without the end bit)
            uint32_t v = valid[t] & ~(1u << sep);
            if (after_sep && v != after_sep) return 0;
            after_sep = v;
        }
    }
    return 1;
}
static int dfa_cmp_n_sym, dfa_cmp_stride;
static const TaskDfas* dfa_cmp_set;
static int dfa_cmp(const void* x, const void* y) {
    int a = *(const int*)x, b = *(const int*)y;
    const TaskDfas* d = dfa_cmp_set;
    if (d->n_states[a] != d->n_states[b]) return d->n_states[a] < d->n_states[b] ? -1 : 1;
    return memcmp(d->next + (size_t)a * dfa_cmp_stride, d->next + (size_t)b * dfa_cmp_stride, (size_t)d->n_states[a] * dfa_cmp_n_sym);
}
static int dfa_duplicates(const TaskDfas* d) {
    int* idx = (int*)mallocCheck((size_t)d->n * sizeof(int)), dup = 0;
    for (int i = 0; i < d->n; i++) idx[i] = i;
    dfa_cmp_set = d, dfa_cmp_n_sym = d->n_sym, dfa_cmp_stride = d->stride;
    qsort(idx, (size_t)d->n, sizeof(int), dfa_cmp);
    for (int i = 1; i < d->n; i++) dup += dfa_cmp(&idx[i - 1], &idx[i]) == 0;
    free(idx);
    return dup;
}

/* ---- copy / lookups (§5) ---- */
/* the example at tok (at most avail tokens): structure, answer, mask; *elen its length, *L its
 * string length, *p the n-gram start; 0 if malformed */
static int string_example_ok(const TaskConfig* tc, const int* tok, int avail, const uint8_t* mask, int* elen, int* L, int* p) {
    int A = tc->vocab, n = tc->n_gram, sep = A + 1, eos = A + 2, i = 1, answer_at;
    const int *s, *g = NULL;
    if (avail < 3 || tok[0] != A) return 0;
    if (tc->task == TASK_PREFIX_NGRAM) { g = tok + 1, i = n + 1; if (i >= avail || tok[i++] != sep) return 0; }
    s = tok + i;
    while (i < avail && tok[i] >= 0 && tok[i] < A) i++;
    *L = (int)(tok + i - s);
    if (i >= avail || tok[i++] != sep) return 0;
    if (tc->task == TASK_SUFFIX_NGRAM) { g = tok + i, i += n; }
    answer_at = i;
    while (i < avail && tok[i] >= 0 && tok[i] < A) i++;
    if (i >= avail || tok[i] != eos) return 0;
    *elen = i + 1;
    int answer_len = *elen - 1 - answer_at;
    if (tc->task == TASK_COPY) {
        *p = 0;
        if (answer_len != *L || memcmp(tok + answer_at, s, sizeof(int) * *L)) return 0;
    } else { // g occurs exactly once in s, at p <= L-n-2, and the answer is what follows it
        int count = 0;
        for (int q = 0; q + n <= *L; q++)
            if (!memcmp(s + q, g, sizeof(int) * n)) *p = q, count++;
        if (count != 1 || *p > *L - n - 2 || answer_len != *L - *p - n) return 0;
        if (memcmp(tok + answer_at, s + *p + n, sizeof(int) * answer_len)) return 0;
    }
    for (int t = 0; t < *elen - 1; t++) // scored: the targets answer_at..elen-1, i.e. answer + '.'
        if (!mask[t] != !(t + 1 >= answer_at)) return 0;
    return count_mask(mask, *elen - 1) == answer_len + 1;
}
/* packed rows: whole examples with lengths in [min_len, max_len], then at most one cut one
 * with mask 0; nothing else scored */
static int packed_row_ok(const TaskConfig* tc, const int* tok, const uint8_t* mask, int len, int* n_whole, int* n_cut) {
    int pos = 0, elen, L, p;
    while (pos < len) {
        if (pos > 0 && mask[pos - 1]) return 0; // predicting the next '$' is not scored
        if (!string_example_ok(tc, tok + pos, len - pos, mask + pos, &elen, &L, &p)) break;
        if (L < tc->min_len || L > tc->max_len) return 0;
        pos += elen, (*n_whole)++;
    }
    if (pos < len) { // the cut example: its start '$', ids in range, nothing scored
        (*n_cut)++;
        if (tok[pos] != tc->vocab) return 0;
        for (int t = pos; t < len; t++) if (tok[t] < 0 || tok[t] > tc->vocab + 2) return 0;
        if (count_mask(mask + (pos > 0 ? pos - 1 : 0), len - 1 - (pos > 0 ? pos - 1 : 0))) return 0;
    }
    return 1;
}

/* ---- the checks ---- */

static void test_find_and_defaults(void) {
    for (int k = 0; k < TASK_COUNT; k++) expect(task_find(TASK_NAMES[k]) == k, "task_find(\"%s\") = %d", TASK_NAMES[k], k);
    expect(task_find("nope") == -1 && task_find("") == -1 && task_find("AR") == -1, "task_find of unknown names = -1");
    TaskConfig tc = config(TASK_AR);
    expect(tc.vocab == 40 && tc.seq_len == 384 && tc.n_train == 5000 && tc.n_test == 500 && tc.seed == 0 &&
               task_vocab_size(&tc) == 40 && task_max_len(&tc) == 387, "ar defaults: vocab 40, seq_len 384, 5000/500, len 387");
    tc = config(TASK_INDUCTION);
    expect(tc.vocab == 16 && tc.seq_len == 256 && tc.n_train == 5000 && tc.n_test == 500 && task_max_len(&tc) == 258,
           "induction defaults: vocab 16, seq_len 256, 5000/500, len 258");
    tc = config(TASK_MQAR);
    expect(tc.vocab == 8192 && tc.seq_len == 256 && tc.num_pairs == 64 && task_max_len(&tc) == 256,
           "mqar defaults: vocab 8192, seq_len 256, 64 pairs");
    tc = config(TASK_DFA);
    expect(tc.vocab == 20 && tc.min_len == 10 && tc.max_len == 20 && tc.dfa_max_nodes == 10 && tc.dfa_max_edges == 5 &&
               tc.dfa_max_example_len == 50 && tc.n_train == 5000 && tc.n_test == 500 && task_max_len(&tc) == 19 * 50 - 1,
           "dfa defaults: vocab 20, [10,20) examples, 10 nodes, 5 edges, length 50, rows 949");
    for (int k = TASK_COPY; k <= TASK_SUFFIX_NGRAM; k++) {
        tc = config(k);
        expect(tc.vocab == 10 && task_vocab_size(&tc) == 14 && tc.min_len == 5 && tc.max_len == 20 && tc.min_eval_len == 5 &&
                   tc.max_eval_len == 20 && tc.context_len == 256 && tc.n_gram == 3 && tc.n_train == 0 && task_max_len(&tc) == 256,
               "%s defaults: 10 letters (+4 specials), lengths 5..20, context 256", TASK_NAMES[k]);
    }
    for (int k = 0; k < TASK_COUNT; k++) {
        tc = config(k);
        expect(task_check(&tc) == 0, "task_check accepts the %s defaults", TASK_NAMES[k]);
    }
}

static void test_check_rejects(void) {
    TaskConfig tc;
    char what[128];
#define REJECT(task, edit, needle)                                          \
    do {                                                                    \
        tc = config(task);                                                  \
        edit;                                                               \
        snprintf(what, sizeof(what), "%s: %s", TASK_NAMES[task], #edit);   \
        expect_error(what, task_check(&tc), needle);                        \
    } while (0)
    tc = config(TASK_AR), tc.task = 99;
    expect_error("task id 99", task_check(&tc), "unknown task");
    REJECT(TASK_AR, tc.n_test = 0, "n_test");
    REJECT(TASK_AR, tc.n_train = -1, "n_train");
    REJECT(TASK_AR, tc.vocab = 3, "vocab 3");
    REJECT(TASK_AR, tc.seq_len = 0, "seq_len 0");
    REJECT(TASK_AR, tc.seq_len = 7, "odd");
    REJECT(TASK_INDUCTION, tc.vocab = 2, "vocab 2");
    REJECT(TASK_INDUCTION, tc.seq_len = 2, "seq_len 2");
    REJECT(TASK_MQAR, tc.num_pairs = 65, "4*num_pairs");
    REJECT(TASK_MQAR, tc.num_pairs = 0, "num_pairs 0");
    REJECT(TASK_MQAR, (tc.vocab = 64, tc.num_pairs = 40, tc.seq_len = 256), "distinct keys");
    REJECT(TASK_MQAR, tc.vocab = 2, "vocab 2");
    REJECT(TASK_DFA, tc.vocab = 33, "32");
    REJECT(TASK_DFA, tc.dfa_max_nodes = 2, "dfa_max_nodes 2");
    REJECT(TASK_DFA, tc.vocab = 8, "symbols");
    REJECT(TASK_DFA, tc.dfa_max_edges = 1, "dfa_max_edges 1");
    REJECT(TASK_DFA, tc.dfa_max_example_len = 0, "dfa_max_example_len 0");
    REJECT(TASK_DFA, tc.max_len = 10, "examples per sequence");
    REJECT(TASK_DFA, tc.min_len = 0, "examples per sequence");
    REJECT(TASK_COPY, tc.vocab = 0, "letters");
    REJECT(TASK_COPY, tc.min_len = 0, "min_len 0");
    REJECT(TASK_COPY, tc.max_len = 4, "max_len 4 < min_len 5");
    REJECT(TASK_COPY, tc.max_eval_len = 4, "max_eval_len 4 < min_eval_len 5");
    REJECT(TASK_COPY, tc.context_len = 42, "context_len 42 < 43");
    REJECT(TASK_COPY, tc.n_test = 0, "n_test");
    REJECT(TASK_PREFIX_NGRAM, tc.min_len = 4, "n_gram + 2");
    REJECT(TASK_SUFFIX_NGRAM, tc.min_eval_len = 4, "n_gram + 2");
    REJECT(TASK_PREFIX_NGRAM, tc.n_gram = 0, "n_gram 0");
    REJECT(TASK_SUFFIX_NGRAM, tc.vocab = 1, "letters");
    REJECT(TASK_PREFIX_NGRAM, tc.context_len = 43, "context_len 43 < 44");
    REJECT(TASK_PREFIX_NGRAM, (tc.vocab = 2, tc.n_gram = 1, tc.max_eval_len = 200), "no unique 1-gram");
#undef REJECT
    TaskSet a, b;
    tc = config(TASK_MQAR), tc.num_pairs = 100;
    expect_error("task_make_sets refuses what task_check refuses", task_make_sets(&tc, &a, &b), "num_pairs");
}

/* determinism and seeds, on a smaller copy of the defaults */
static void test_seeds(int task, TaskConfig tc) {
    TaskSet a1, b1, a2, b2;
    task_make_sets(&tc, &a1, &b1);
    task_make_sets(&tc, &a2, &b2);
    expect(sets_equal(&a1, &a2) && sets_equal(&b1, &b2), "%s: same seed -> identical train and test sets", TASK_NAMES[task]);
    taskset_free(&a2), taskset_free(&b2);
    tc.seed = 1;
    task_make_sets(&tc, &a2, &b2);
    int train_differs = a1.n == 0 || memcmp(a1.tokens, a2.tokens, (size_t)a1.n * a1.max_len * sizeof(int));
    expect(train_differs && memcmp(b1.tokens, b2.tokens, (size_t)b1.n * b1.max_len * sizeof(int)),
           "%s: seed 1 -> different sets from seed 0", TASK_NAMES[task]);
    taskset_free(&a1), taskset_free(&b1), taskset_free(&a2), taskset_free(&b2);
}

static void test_ar(void) {
    TaskConfig tc = config(TASK_AR);
    TaskSet tr, te;
    double t0 = wall_ms();
    int rc = task_make_sets(&tc, &tr, &te);
    expect(rc == 0 && tr.n == 5000 && te.n == 500 && tr.max_len == 387 && !tr.valid, "ar: default sets 5000/500 of 387 tokens (%.0f ms)",
           wall_ms() - t0);
    expect(set_layout_ok(&tc, &tr) && set_layout_ok(&tc, &te), "ar: ids in the vocabulary, rows full length");
    int bad = 0, map_changes = 0;
    for (int i = 0; i < tr.n + te.n; i++) {
        const TaskSet* s = i < tr.n ? &tr : &te;
        int r = i < tr.n ? i : i - tr.n;
        bad += !ar_row_ok(&tc, row_tok(s, r), s->len[r], row_loss(s, r), row_metric(s, r));
    }
    expect(bad == 0, "ar: answer = the value paired with the queried key in the body; loss on all 386 targets, metric on the last (%d bad)", bad);
    for (int i = 1; i < tr.n; i++) { // key -> value maps are drawn per example (safari): the first pair's key maps differently
        const int *a = row_tok(&tr, 0), *b = row_tok(&tr, i);
        for (int j = 0; j < tc.seq_len; j += 2)
            if (b[j] == a[0]) { map_changes += b[j + 1] != a[1]; break; }
    }
    expect(map_changes > tr.n / 2, "ar: the key->value map is redrawn per example (%d of %d rows map key %d elsewhere)", map_changes,
           tr.n - 1, row_tok(&tr, 0)[0]);
    expect(count_duplicates(&tr, NULL) == 0 && count_duplicates(&te, NULL) == 0 && count_duplicates(&tr, &te) == 0,
           "ar: train rows distinct, test rows distinct, test disjoint from train");
    taskset_free(&tr), taskset_free(&te);
    // the test stream does not depend on the train set's size
    TaskSet tr2, te2;
    tc.n_train = 100, tc.n_test = 50;
    task_make_sets(&tc, &tr, &te);
    tc.n_train = 7;
    task_make_sets(&tc, &tr2, &te2);
    expect(sets_equal(&te, &te2), "ar: train and test from separate streams (test set unchanged by n_train)");
    taskset_free(&tr), taskset_free(&te), taskset_free(&tr2), taskset_free(&te2);
    tc = config(TASK_AR), tc.n_train = 200, tc.n_test = 50;
    test_seeds(TASK_AR, tc);
    // dedup: vocab 4, seq_len 2 has exactly one sequence, so the test set cannot avoid the train set
    tc.vocab = 4, tc.seq_len = 2, tc.n_train = 1, tc.n_test = 1;
    expect_error("ar: 1 possible sequence, 1 train + 1 test", task_make_sets(&tc, &tr, &te), "distinct");
    expect(tr.tokens == NULL && te.tokens == NULL, "ar: a failed task_make_sets leaves empty sets");
}

static void test_induction(void) {
    TaskConfig tc = config(TASK_INDUCTION);
    TaskSet tr, te;
    double t0 = wall_ms();
    int rc = task_make_sets(&tc, &tr, &te);
    expect(rc == 0 && tr.n == 5000 && te.n == 500 && tr.max_len == 258, "induction: default sets 5000/500 of 258 tokens (%.0f ms)",
           wall_ms() - t0);
    expect(set_layout_ok(&tc, &tr) && set_layout_ok(&tc, &te), "induction: ids in the vocabulary");
    int bad = 0;
    for (int i = 0; i < tr.n; i++) bad += !induction_row_ok(&tc, row_tok(&tr, i), tr.len[i], row_loss(&tr, i), row_metric(&tr, i));
    for (int i = 0; i < te.n; i++) bad += !induction_row_ok(&tc, row_tok(&te, i), te.len[i], row_loss(&te, i), row_metric(&te, i));
    expect(bad == 0, "induction: one trigger in [0, 254), answer = the token after it, last target scored (%d bad)", bad);
    expect(count_duplicates(&tr, &te) == 0, "induction: rows distinct, test disjoint from train");
    taskset_free(&tr), taskset_free(&te);
    tc.n_train = 200, tc.n_test = 50;
    test_seeds(TASK_INDUCTION, tc);
    // dedup: vocab 4 (2 ordinary), seq_len 4 has exactly 2 trigger positions x 2^3 bodies = 16 sequences
    tc.vocab = 4, tc.seq_len = 4, tc.n_train = 12, tc.n_test = 4;
    rc = task_make_sets(&tc, &tr, &te);
    expect(rc == 0 && count_duplicates(&tr, &te) == 0, "induction: dedup fills 12 + 4 rows with all 16 distinct sequences");
    taskset_free(&tr), taskset_free(&te);
    tc.n_test = 5;
    expect_error("induction: 12 + 5 rows of 16 possible", task_make_sets(&tc, &tr, &te), "distinct");
}

static void test_mqar(void) {
    TaskConfig tc = config(TASK_MQAR);
    TaskSet tr, te;
    double t0 = wall_ms();
    int rc = task_make_sets(&tc, &tr, &te);
    expect(rc == 0 && tr.n == tc.n_train && te.n == tc.n_test && tr.max_len == 256, "mqar: default sets %d/%d of 256 tokens (%.0f ms)",
           tc.n_train, tc.n_test, wall_ms() - t0);
    expect(set_layout_ok(&tc, &tr) && set_layout_ok(&tc, &te), "mqar: ids in the vocabulary");
    int* pair_of = (int*)mallocCheck(8192 * sizeof(int)), bad = 0, slot;
    for (int v = 0; v < 8192; v++) pair_of[v] = -1;
    for (int i = 0; i < tr.n; i++) bad += !mqar_row_ok(&tc, row_tok(&tr, i), tr.len[i], row_loss(&tr, i), row_metric(&tr, i), pair_of, &slot);
    for (int i = 0; i < te.n; i++) bad += !mqar_row_ok(&tc, row_tok(&te, i), te.len[i], row_loss(&te, i), row_metric(&te, i), pair_of, &slot);
    expect(bad == 0, "mqar: 64 distinct keys/values, each key asked once as `key value`, 64 scored targets, loss = metric (%d bad)", bad);
    expect(count_duplicates(&tr, &te) == 0, "mqar: rows distinct, test disjoint from train");
    taskset_free(&tr), taskset_free(&te);
    // fewer pairs than slots: zoology's power law puts queries near the end of the pairs
    tc.num_pairs = 8, tc.n_train = 1000, tc.n_test = 1;
    task_make_sets(&tc, &tr, &te);
    double mean_slot = 0;
    bad = 0;
    for (int i = 0; i < tr.n; i++) {
        slot = -1;
        bad += !mqar_row_ok(&tc, row_tok(&tr, i), tr.len[i], row_loss(&tr, i), row_metric(&tr, i), pair_of, &slot);
        mean_slot += slot;
    }
    mean_slot /= tr.n;
    expect(bad == 0 && mean_slot > 5 && mean_slot < 40, "mqar: 8 pairs in 120 slots, first key's slot mean %.1f (power law 21.7, uniform 59.5)",
           mean_slot);
    taskset_free(&tr), taskset_free(&te);
    free(pair_of);
    tc = config(TASK_MQAR), tc.n_train = 200, tc.n_test = 50;
    test_seeds(TASK_MQAR, tc);
}

static void test_dfa(void) {
    TaskConfig tc = config(TASK_DFA);
    TaskSet tr, te, tr2, te2;
    TaskDfas d;
    double t0 = wall_ms();
    int rc = dfa_make_sets(&tc, &tr, &te, &d);
    expect(rc == 0 && tr.n == 5000 && te.n == 500 && tr.max_len == 949 && tr.valid && te.valid,
           "dfa: default sets 5000/500, rows of 949, with valid[] (%.0f ms)", wall_ms() - t0);
    task_make_sets(&tc, &tr2, &te2);
    expect(sets_equal(&tr, &tr2) && sets_equal(&te, &te2), "dfa: task_make_sets = dfa_make_sets");
    taskset_free(&tr2), taskset_free(&te2);
    expect(set_layout_ok(&tc, &tr) && set_layout_ok(&tc, &te), "dfa: ids in the vocabulary, '.' padding");
    int bad_shape = 0, bad_row = 0, longest = 0;
    for (int i = 0; i < d.n; i++) {
        const TaskSet* s = i < tr.n ? &tr : &te;
        int r = i < tr.n ? i : i - tr.n;
        bad_shape += !dfa_shape_ok(&tc, &d, i);
        bad_row += !dfa_row_ok(&tc, &d, i, row_tok(s, r), s->len[r], row_loss(s, r), row_metric(s, r), row_valid(s, r));
        longest = task_imax(longest, s->len[r]);
    }
    expect(bad_shape == 0, "dfa: machines have [2,10) states, 1..min(5,states)-1 edges each, <= states symbols (%d bad)", bad_shape);
    expect(bad_row == 0, "dfa: rows are [10,20) valid walks of < 50 symbols; valid[] = the reached state's edges (+ '|' where the example ends) (%d bad)", bad_row);
    expect(longest > 600 && longest <= 949, "dfa: longest row %d <= 949", longest);
    expect(dfa_duplicates(&d) == 0, "dfa: all 5500 DFAs distinct (train and test disjoint)");
    dfas_free(&d), taskset_free(&tr), taskset_free(&te);
    tc.n_train = 200, tc.n_test = 50;
    test_seeds(TASK_DFA, tc);
    // dedup: 3 symbols, 2 states, 1 edge each -> 6 x 6 = 36 possible DFAs
    tc = config(TASK_DFA), tc.vocab = 5, tc.dfa_max_nodes = 3, tc.dfa_max_edges = 2, tc.n_train = 30, tc.n_test = 6;
    rc = dfa_make_sets(&tc, &tr, &te, &d);
    expect(rc == 0 && dfa_duplicates(&d) == 0, "dfa: dedup finds all 36 distinct DFAs of a tiny space (30 + 6)");
    if (rc == 0) dfas_free(&d), taskset_free(&tr), taskset_free(&te);
    tc.n_test = 7;
    expect_error("dfa: 30 + 7 DFAs of 36 possible", task_make_sets(&tc, &tr, &te), "distinct DFAs");
}

static void test_string_task(int task) {
    const char* name = TASK_NAMES[task];
    TaskConfig tc = config(task);
    TaskSet tr, te;
    int rc = task_make_sets(&tc, &tr, &te), n_len = tc.max_eval_len - tc.min_eval_len + 1;
    expect(rc == 0 && tr.n == 0 && te.n == 100 * n_len && te.max_len == 2 * 20 + (task == TASK_PREFIX_NGRAM ? 4 : 3),
           "%s: default sets: no train rows, 100 test rows for each length 5..20", name);
    expect(set_layout_ok(&tc, &te), "%s: ids in the vocabulary, '*' padding", name);
    int bad = 0, bad_len = 0, elen, L, p, p_seen[32] = {0}, n_p = 0;
    for (int i = 0; i < te.n; i++) {
        bad += !string_example_ok(&tc, row_tok(&te, i), te.len[i], row_loss(&te, i), &elen, &L, &p) || elen != te.len[i] ||
               memcmp(row_loss(&te, i), row_metric(&te, i), (size_t)te.max_len);
        bad_len += L != tc.min_eval_len + i / tc.n_test;
        if (p < 32 && !p_seen[p]) p_seen[p] = 1, n_p++;
    }
    expect(bad == 0, "%s: every row's answer is right, loss = metric = exactly the answer + '.' (%d bad)", name, bad);
    expect(bad_len == 0, "%s: test rows ordered by string length, n_test per length", name);
    if (task != TASK_COPY) expect(n_p > 5, "%s: the unique n-gram starts at %d different places", name, n_p);
    taskset_free(&tr), taskset_free(&te);
    // a train set when asked for one: lengths in [min_len, max_len]
    tc.n_train = 300, tc.n_test = 3;
    task_make_sets(&tc, &tr, &te);
    bad = 0;
    for (int i = 0; i < tr.n; i++)
        bad += !string_example_ok(&tc, row_tok(&tr, i), tr.len[i], row_loss(&tr, i), &elen, &L, &p) || L < tc.min_len || L > tc.max_len;
    expect(tr.n == 300 && bad == 0 && set_layout_ok(&tc, &tr), "%s: n_train 300 -> valid train rows of lengths 5..20", name);
    TaskSet tr2, te2;
    tc.n_train = 0;
    task_make_sets(&tc, &tr2, &te2);
    expect(sets_equal(&te, &te2), "%s: test set independent of n_train (separate streams)", name);
    taskset_free(&tr), taskset_free(&te), taskset_free(&tr2), taskset_free(&te2);
    tc = config(task);
    test_seeds(task, tc);
    // packed training rows (default context, and a short one that cuts most rows' last example)
    int ctx[2] = {257, 50}, tok[257], tok2[257];
    uint8_t mask[256], mask2[256];
    for (int c = 0; c < 2; c++) {
        uint64_t rng = 7;
        int whole = 0, cut = 0, bad_rows = 0;
        for (int r = 0; r < 300; r++) {
            task_packed_row(&tc, &rng, tok, mask, ctx[c]);
            bad_rows += !packed_row_ok(&tc, tok, mask, ctx[c], &whole, &cut);
        }
        expect(bad_rows == 0 && whole > 300 && cut > 0, "%s: packed rows of %d: %d whole examples scored, %d cut ones unscored", name,
               ctx[c], whole, cut);
    }
    uint64_t r1 = 11, r2 = 11;
    task_packed_row(&tc, &r1, tok, mask, 257);
    task_packed_row(&tc, &r2, tok2, mask2, 257);
    expect(!memcmp(tok, tok2, sizeof(tok)) && !memcmp(mask, mask2, sizeof(mask)) && r1 == r2, "%s: packed rows deterministic from the rng",
           name);
    // task_example: a given length, the buffer capacity, impossible lengths
    uint8_t metric[257];
    uint64_t rng = 3;
    int n = task_example(&tc, &rng, 40, tok, mask, metric, NULL, 257);
    expect(n > 0 && string_example_ok(&tc, tok, n, mask, &elen, &L, &p) && L == 40 && !memcmp(mask, metric, (size_t)(n - 1)),
           "%s: task_example(str_len 40) is a right example of 40 letters", name);
    expect_error("task_example into a buffer too small", task_example(&tc, &rng, 40, tok, mask, metric, NULL, 60), "buffer");
    expect_error("task_example(str_len 0)", task_example(&tc, &rng, 0, tok, mask, metric, NULL, 257), "string length 0");
}

/* fresh examples of the fixed-set tasks */
static void test_task_example(void) {
    int tok[1000], bad;
    uint8_t loss[1000], metric[1000];
    uint32_t valid[1000];
    uint64_t rng = 5;
    TaskConfig tc = config(TASK_AR);
    bad = 0;
    for (int i = 0; i < 50; i++) bad += !ar_row_ok(&tc, tok, task_example(&tc, &rng, -1, tok, loss, metric, NULL, 1000), loss, metric);
    expect(bad == 0, "ar: task_example gives right examples");
    expect_error("ar: task_example into a buffer of 386", task_example(&tc, &rng, -1, tok, loss, metric, NULL, 386), "buffer");
    tc = config(TASK_INDUCTION);
    bad = 0;
    for (int i = 0; i < 50; i++)
        bad += !induction_row_ok(&tc, tok, task_example(&tc, &rng, -1, tok, loss, metric, NULL, 1000), loss, metric);
    expect(bad == 0, "induction: task_example gives right examples");
    tc = config(TASK_MQAR);
    int* pair_of = (int*)mallocCheck(8192 * sizeof(int)), slot;
    for (int v = 0; v < 8192; v++) pair_of[v] = -1;
    bad = 0;
    for (int i = 0; i < 50; i++)
        bad += !mqar_row_ok(&tc, tok, task_example(&tc, &rng, -1, tok, loss, metric, NULL, 1000), loss, metric, pair_of, &slot);
    expect(bad == 0, "mqar: task_example gives right examples");
    free(pair_of);
    tc = config(TASK_DFA);
    bad = 0;
    for (int i = 0; i < 50; i++) {
        int n = task_example(&tc, &rng, -1, tok, loss, metric, valid, 1000);
        bad += n < 0 || !dfa_row_plausible(&tc, tok, n, loss, valid);
    }
    expect(bad == 0, "dfa: task_example: next tokens valid, '|' valid only where an example ends, one state per example start");
}

/* ---- the metric (task_score in seqmodels.h) on hand-made cases: a fake backend whose logits put
 * the argmax where the test wants it ---- */
static int fake_argmax[64]; /* per (row, position) of the last forward, B*T <= 64 */
static double fake_forward(Backend* be, Model* m, const int* in, const int* tg, const uint8_t* mask, int B, int T) {
    (void)be; (void)m; (void)in; (void)tg; (void)mask; (void)B; (void)T;
    return 0.5;
}
static void fake_logits(Backend* be, Model* m, int row0, int n, real* out) {
    (void)be;
    int V = m->cfg.vocab_size;
    for (int r = 0; r < n; r++)
        for (int v = 0; v < V; v++) out[r * V + v] = v == fake_argmax[row0 + r] ? 1.0f : 0.0f;
}
static void test_metric(void) {
    Backend be = {.name = "fake", .forward = fake_forward, .logits_rows = fake_logits};
    Model m;
    memset(&m, 0, sizeof(m));
    m.cfg.vocab_size = 8;
    // two rows of 4 tokens; row 0 scores targets 1 and 2, row 1 scores target 2 only
    int tokens[8] = {0, 3, 4, 5, 1, 2, 6, 7}, len[2] = {4, 4};
    uint8_t loss[8] = {1, 1, 1, 0, 1, 1, 1, 0}, metric[8] = {0, 1, 1, 0, 0, 0, 1, 0};
    TaskSet s = {2, 4, tokens, len, loss, metric, NULL};
    int in[8], tg[8];
    uint8_t mk[8];
    real logits[4 * 8];
    // T = 3 per row: row 0 targets (3, 4, 5), row 1 targets (2, 6, 7); argmax rows at b*T + t
    int right[6] = {0, 4, 5, 0, 0, 7}, one_wrong[6] = {0, 4, 0, 0, 0, 7}, row1_wrong[6] = {0, 4, 5, 0, 0, 1};
    memcpy(fake_argmax, right, sizeof(right));
    TaskScore sc = task_score(&be, &m, &s, 0, 2, 2, in, tg, mk, logits);
    expect(sc.n_pos == 3 && sc.n_rows == 2 && sc.acc == 1 && sc.acc_seq == 1 && fabs(sc.loss - 0.5) < 1e-12,
           "metric: every scored argmax right -> acc 1, acc_seq 1, 3 positions in 2 rows");
    memcpy(fake_argmax, one_wrong, sizeof(one_wrong));
    sc = task_score(&be, &m, &s, 0, 2, 2, in, tg, mk, logits);
    expect(fabs(sc.acc - 2.0 / 3) < 1e-12 && fabs(sc.acc_seq - 0.5) < 1e-12, "metric: one wrong character -> acc 2/3, row 0 not exact");
    memcpy(fake_argmax, row1_wrong, sizeof(row1_wrong));
    sc = task_score(&be, &m, &s, 0, 2, 1, in, tg, mk, logits); // one row per batch: rows at 0..T-1 each time
    expect(sc.n_pos == 3, "metric: batches of one row");
    // DFA-style: a bitmask of acceptable predictions replaces the target
    uint32_t valid[8] = {0, (1u << 4) | (1u << 6), 1u << 5, 0, 0, 0, 1u << 1, 0};
    s.valid = valid;
    int dfa_pred[6] = {0, 6, 5, 0, 0, 1};
    memcpy(fake_argmax, dfa_pred, sizeof(dfa_pred));
    sc = task_score(&be, &m, &s, 0, 2, 2, in, tg, mk, logits);
    expect(sc.acc == 1 && sc.acc_seq == 1, "metric: valid[] accepts any allowed prediction (6 where the target is 4)");
    dfa_pred[1] = 3;
    memcpy(fake_argmax, dfa_pred, sizeof(dfa_pred));
    sc = task_score(&be, &m, &s, 0, 2, 2, in, tg, mk, logits);
    expect(fabs(sc.acc - 2.0 / 3) < 1e-12, "metric: valid[] rejects a prediction outside the mask");
}

int main(void) {
    double t0 = wall_ms();
    test_metric();
    test_find_and_defaults();
    test_check_rejects();
    test_ar();
    test_induction();
    test_mqar();
    test_dfa();
    for (int k = TASK_COPY; k <= TASK_SUFFIX_NGRAM; k++) test_string_task(k);
    test_task_example();
    printf("(%.1f s)\n%d passed, %d failed\n", (wall_ms() - t0) / 1000, n_pass, n_fail);
    return n_fail ? 1 : 0;
}
