/*
 * data/tasks.h -- the synthetic in-context tasks of ../shared/spec/tasks.md, as generators that are
 * deterministic from (seed, task parameters). Included by seqmodels.h (section 9b) after its
 * utilities: it uses sm_fail, mallocCheck, hash64 and the rng_* functions.
 *
 * An example is a token sequence tokens[0..len-1]; the model reads tokens[0..len-2] and predicts
 * tokens[1..len-1]. Masks are over TARGET positions t = 0..len-2 (t scores the prediction of
 * tokens[t+1] from tokens[0..t]):
 *   loss_mask[t]   1 = trained on (cross-entropy)
 *   metric_mask[t] 1 = counted by the task's metric (AR/IH: the last target only; MQAR: the
 *                  query answers; DFA: every target inside an example; copy/lookup: the answer
 *                  tokens and the final '.')
 *   valid[t]       (DFA only, else NULL) bitmask over the vocabulary (vocab <= 32) of predictions
 *                  that count as correct at t; for the other tasks the target itself is the only
 *                  correct prediction.
 * Rows of a TaskSet are padded to max_len with the task's pad id; masks are 0 there.
 *
 * Token ids (the README repeats this table):
 *   ar        vocab V (default 40): 0..V-3 ordinary (first half keys, second half values),
 *             V-2 = '=>' (query marker), V-1 = '.' (noop / pad)
 *   induction vocab V (default 16): 0..V-3 ordinary, V-2 = '=>', V-1 = '.'
 *   mqar      vocab V (default 8192): 0 = pad, keys 1..V/2-1, values V/2..V-1
 *   dfa       vocab V (default 20): 0..V-3 symbols, V-2 = '|' (separator), V-1 = '.' (pad)
 *   copy, prefix_ngram, suffix_ngram
 *             letters 0..A-1 (A = --task_vocab, default 10), A = '$' (BOS), A+1 = '|',
 *             A+2 = '.' (EOS), A+3 = '*' (pad): vocab A + 4
 */
#ifndef SEQMODELS_TASKS_H
#define SEQMODELS_TASKS_H

enum { TASK_AR, TASK_INDUCTION, TASK_MQAR, TASK_DFA, TASK_COPY, TASK_PREFIX_NGRAM, TASK_SUFFIX_NGRAM, TASK_COUNT };
static const char* TASK_NAMES[TASK_COUNT] = {"ar", "induction", "mqar", "dfa", "copy", "prefix_ngram", "suffix_ngram"};

typedef struct {
    int task;         /* TASK_* */
    int vocab;        /* ar, induction, mqar, dfa: the model vocabulary (specials included);
                         copy/lookup: the number of letters A (model vocab A + 4) */
    int seq_len;      /* ar, induction: body length (input_seq_len); mqar: sequence length */
    int num_pairs;    /* mqar: key-value pairs (= queries) */
    int n_train, n_test;          /* sizes of the fixed sets */
    int min_len, max_len;         /* copy/lookup: training string lengths; dfa: examples per sequence [min, max) */
    int min_eval_len, max_eval_len; /* copy/lookup: the lengths of the length-generalisation eval */
    int context_len;  /* copy/lookup: tokens per packed training row */
    int n_gram;       /* prefix/suffix lookup: n-gram length */
    int dfa_max_nodes, dfa_max_edges, dfa_max_example_len; /* dfa: states in [2, max), edges, walk length [0, max) */
    uint64_t seed;
} TaskConfig;

typedef struct {
    int n, max_len;        /* examples, row length */
    int* tokens;           /* (n, max_len), padded */
    int* len;              /* (n) tokens in each example */
    uint8_t* loss_mask;    /* (n, max_len) over target positions */
    uint8_t* metric_mask;  /* (n, max_len) */
    uint32_t* valid;       /* (n, max_len) or NULL */
} TaskSet;

/* TASK_* of a name, or -1 */
static int task_find(const char* name);
/* the spec's defaults for a task (tasks.md): sizes, set sizes, seed 0 */
static void task_defaults(TaskConfig* tc, int task);
/* impossible sizes (more pairs than the vocab allows, length < 1, ...) -> sm_fail, -1 */
static int task_check(const TaskConfig* tc);
/* the model vocabulary and the longest example (tokens) the task produces */
static int task_vocab_size(const TaskConfig* tc);
static int task_max_len(const TaskConfig* tc);
/* the fixed train and test sets, deterministic from tc->seed (deduplicated / disjoint where the
 * spec says so); -1 with sm_err if the sizes cannot be met (e.g. too few distinct examples) */
static int task_make_sets(const TaskConfig* tc, TaskSet* train, TaskSet* test);
static void taskset_free(TaskSet* s);
/* one fresh example into caller buffers of capacity cap tokens; str_len: copy/lookup string length
 * (-1 = uniform in [min_len, max_len]); returns the example's length, or -1 with sm_err */
static int task_example(const TaskConfig* tc, uint64_t* rng, int str_len, int* tokens, uint8_t* loss_mask,
                        uint8_t* metric_mask, uint32_t* valid, int cap);
/* copy/lookup training (tasks.md §5): one row of `len` tokens packed with fresh random examples
 * (string lengths uniform in [min_len, max_len]); loss_mask (len - 1 targets) on the answers and
 * the final '.'; a last example that does not fit is cut off */
static void task_packed_row(const TaskConfig* tc, uint64_t* rng, int* tokens, uint8_t* loss_mask, int len);

/* ---- definitions ---- */

/* Limits that keep every size in an int and the O(L^2) n-gram search cheap. */
#define TASK_MAX_SEQ (1 << 24)      /* ar, induction, mqar sequence length; dfa row length */
#define TASK_MAX_STR (1 << 16)      /* copy/lookup string length */
#define TASK_NGRAM_DRAWS 100000     /* strings drawn before a lookup example gives up */
#define TASK_NGRAM_PROBE 1000       /* task_check: draws that must find a unique n-gram */
#define TASK_MQAR_POWER_A 0.01      /* zoology's train_power_a / test_power_a default */

static int task_imin(int a, int b) { return a < b ? a : b; }
static int task_imax(int a, int b) { return a > b ? a : b; }

/* train and test draw from two independent streams of the seed (stream 3: task_check's probe) */
static uint64_t task_stream(uint64_t seed, uint64_t which) { return hash64(hash64(seed) ^ (which * 0xD1B54A32D192ED03ull)); }

static int task_find(const char* name) {
    for (int i = 0; name && i < TASK_COUNT; i++)
        if (strcmp(name, TASK_NAMES[i]) == 0) return i;
    return -1;
}

static void task_defaults(TaskConfig* tc, int task) {
    memset(tc, 0, sizeof(*tc));
    tc->task = task;
    tc->seed = 0;
    switch (task) {
    case TASK_AR: // seq_icl assoc_recall.yaml over safari's icl_synthetics defaults (tasks.md §1)
        tc->vocab = 40, tc->seq_len = 384, tc->n_train = 5000, tc->n_test = 500;
        break;
    case TASK_INDUCTION: // seq_icl induction_head.yaml (tasks.md §2)
        tc->vocab = 16, tc->seq_len = 256, tc->n_train = 5000, tc->n_test = 500;
        break;
    case TASK_MQAR: // zoology's MQAR (tasks.md §3); zoology trains on 100k examples and tests on 3k,
                    // we keep a 20k / 1k fixed set (20 MB of tokens; raise n_train for capacity sweeps)
        tc->vocab = 8192, tc->seq_len = 256, tc->num_pairs = 64, tc->n_train = 20000, tc->n_test = 1000;
        break;
    case TASK_DFA: // seq_icl icl_dfa.yaml (tasks.md §4)
        tc->vocab = 20, tc->n_train = 5000, tc->n_test = 500, tc->min_len = 10, tc->max_len = 20;
        tc->dfa_max_nodes = 10, tc->dfa_max_edges = 5, tc->dfa_max_example_len = 50;
        break;
    case TASK_COPY: case TASK_PREFIX_NGRAM: case TASK_SUFFIX_NGRAM: // transformers_ssm_copy (tasks.md §5)
        tc->vocab = 10, tc->min_len = 5, tc->max_len = 20, tc->min_eval_len = 5, tc->max_eval_len = 20;
        tc->context_len = 256, tc->n_gram = 3, tc->n_train = 0, tc->n_test = 100;
        break;
    }
}

/* ---- token ids of each layout (table at the top) ---- */

static int task_is_lookup(int task) { return task == TASK_PREFIX_NGRAM || task == TASK_SUFFIX_NGRAM; }
static int task_is_string(int task) { return task == TASK_COPY || task_is_lookup(task); }
static int task_pad_id(const TaskConfig* tc) {
    if (tc->task == TASK_MQAR) return 0;
    return task_is_string(tc->task) ? tc->vocab + 3 : tc->vocab - 1; // '*' / '.'
}

static int task_vocab_size(const TaskConfig* tc) { return task_is_string(tc->task) ? tc->vocab + 4 : tc->vocab; }

/* copy/lookup: the longest example for strings of L letters: copy `$ s | s .` = 2L+3; prefix
 * `$ g | s | answer .` = 2L+4-p and suffix `$ s | g answer .` = 2L+3-p, longest at n-gram start p = 0 */
static int string_longest(const TaskConfig* tc, int L) { return 2 * L + (tc->task == TASK_PREFIX_NGRAM ? 4 : 3); }

static int task_max_len(const TaskConfig* tc) {
    switch (tc->task) {
    case TASK_AR: return tc->seq_len + 3;        // body, '=>', key, value
    case TASK_INDUCTION: return tc->seq_len + 2; // body, '=>', copied token
    case TASK_MQAR: return tc->seq_len;
    case TASK_DFA: return (tc->max_len - 1) * tc->dfa_max_example_len - 1; // k examples of <= max-1 symbols, k-1 '|'
    default: // the longest of a packed training row and an eval example
        return task_imax(tc->context_len, string_longest(tc, task_imax(tc->max_len, tc->max_eval_len)));
    }
}

/* ---- task_check: one message per impossible size ---- */

static int ar_check(const TaskConfig* tc) {
    if (tc->vocab < 4) return sm_fail("ar: vocab %d < 4 (2 specials + at least one key and one value)", tc->vocab);
    if (tc->seq_len < 2 || tc->seq_len > TASK_MAX_SEQ) return sm_fail("ar: seq_len %d not in [2, %d]", tc->seq_len, TASK_MAX_SEQ);
    if (tc->seq_len % 2) return sm_fail("ar: seq_len %d is odd (the body is seq_len/2 key-value pairs)", tc->seq_len);
    return 0;
}
static int induction_check(const TaskConfig* tc) {
    if (tc->vocab < 3) return sm_fail("induction: vocab %d < 3 (2 specials + at least one ordinary token)", tc->vocab);
    if (tc->seq_len < 3 || tc->seq_len > TASK_MAX_SEQ)
        return sm_fail("induction: seq_len %d not in [3, %d] (the trigger goes in [0, seq_len-2))", tc->seq_len, TASK_MAX_SEQ);
    return 0;
}
static int mqar_check(const TaskConfig* tc) {
    if (tc->vocab < 4) return sm_fail("mqar: vocab %d < 4 (pad 0, keys 1..vocab/2-1, values vocab/2..vocab-1)", tc->vocab);
    if (tc->seq_len < 4 || tc->seq_len > TASK_MAX_SEQ) return sm_fail("mqar: seq_len %d not in [4, %d]", tc->seq_len, TASK_MAX_SEQ);
    if (tc->num_pairs < 1) return sm_fail("mqar: num_pairs %d < 1", tc->num_pairs);
    if (4LL * tc->num_pairs > tc->seq_len) // zoology: num_kv_pairs * 4 <= input_seq_len
        return sm_fail("mqar: %d pairs need 4*num_pairs = %lld <= seq_len %d (the pairs, then a key+value query per pair)",
                       tc->num_pairs, 4LL * tc->num_pairs, tc->seq_len);
    if (tc->num_pairs > tc->vocab / 2 - 1)
        return sm_fail("mqar: %d pairs > %d distinct keys (ids 1..vocab/2-1 of vocab %d)", tc->num_pairs, tc->vocab / 2 - 1, tc->vocab);
    return 0;
}
static int dfa_check(const TaskConfig* tc) {
    if (tc->vocab > 32) return sm_fail("dfa: vocab %d > 32 is not supported (valid[] is a 32-bit mask over the vocabulary)", tc->vocab);
    if (tc->vocab < 4) return sm_fail("dfa: vocab %d < 4 (2 specials + at least 2 symbols)", tc->vocab);
    if (tc->dfa_max_nodes < 3) return sm_fail("dfa: dfa_max_nodes %d < 3 (states are drawn in [2, max))", tc->dfa_max_nodes);
    if (tc->dfa_max_nodes - 1 > tc->vocab - 2) // the alphabet has one distinct symbol per state
        return sm_fail("dfa: up to %d states need as many symbols, vocab %d has %d", tc->dfa_max_nodes - 1, tc->vocab, tc->vocab - 2);
    if (tc->dfa_max_edges < 2)
        return sm_fail("dfa: dfa_max_edges %d < 2 (edges per state are drawn in [1, min(max_edges, states)))", tc->dfa_max_edges);
    if (tc->dfa_max_example_len < 1)
        return sm_fail("dfa: dfa_max_example_len %d < 1 (walk lengths are drawn in [0, max))", tc->dfa_max_example_len);
    if (tc->min_len < 1 || tc->max_len <= tc->min_len)
        return sm_fail("dfa: examples per sequence [min_len, max_len) = [%d, %d) must be non-empty with min_len >= 1", tc->min_len,
                       tc->max_len);
    if ((long long)(tc->max_len - 1) * tc->dfa_max_example_len > TASK_MAX_SEQ)
        return sm_fail("dfa: rows of up to %lld tokens > %d", (long long)(tc->max_len - 1) * tc->dfa_max_example_len, TASK_MAX_SEQ);
    return 0;
}

/* lookup: draw strings s (L letters) until one has a unique n-gram; returns its start p, or -1 */
static int ngram_draw(const TaskConfig* tc, uint64_t* rng, int* s, int L, int max_draws);

static int string_check(const TaskConfig* tc) {
    const char* name = TASK_NAMES[tc->task];
    int lookup = task_is_lookup(tc->task), shortest = lookup ? tc->n_gram + 2 : 1;
    if (tc->vocab < (lookup ? 2 : 1)) return sm_fail("%s: vocab (letters) %d < %d", name, tc->vocab, lookup ? 2 : 1);
    if (lookup && tc->n_gram < 1) return sm_fail("%s: n_gram %d < 1", name, tc->n_gram);
    if (tc->min_len < shortest || tc->min_eval_len < shortest)
        return sm_fail("%s: string lengths min_len %d, min_eval_len %d must be >= %d%s", name, tc->min_len, tc->min_eval_len, shortest,
                       lookup ? " (n_gram + 2: the n-gram is followed by at least 2 letters)" : "");
    if (tc->max_len < tc->min_len) return sm_fail("%s: max_len %d < min_len %d", name, tc->max_len, tc->min_len);
    if (tc->max_eval_len < tc->min_eval_len)
        return sm_fail("%s: max_eval_len %d < min_eval_len %d", name, tc->max_eval_len, tc->min_eval_len);
    if (tc->max_len > TASK_MAX_STR || tc->max_eval_len > TASK_MAX_STR)
        return sm_fail("%s: string lengths above %d are not supported", name, TASK_MAX_STR);
    if (tc->context_len < string_longest(tc, tc->max_len)) // a packed row holds at least one whole example
        return sm_fail("%s: context_len %d < %d, the longest training example (strings of max_len %d)", name, tc->context_len,
                       string_longest(tc, tc->max_len), tc->max_len);
    if ((long long)tc->n_test * (tc->max_eval_len - tc->min_eval_len + 1) > 0x7fffffff)
        return sm_fail("%s: n_test x eval lengths overflows", name);
    if (!lookup) return 0;
    // a random string must have a unique n-gram often enough: probe the extreme lengths
    int probe_len[4] = {tc->min_len, tc->max_len, tc->min_eval_len, tc->max_eval_len};
    int* s = (int*)mallocCheck((size_t)task_imax(tc->max_len, tc->max_eval_len) * sizeof(int));
    uint64_t rng = task_stream(tc->seed, 3);
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++)
        if (ngram_draw(tc, &rng, s, probe_len[i], TASK_NGRAM_PROBE) < 0)
            rc = sm_fail("%s: %d random strings of length %d over %d letters had no unique %d-gram; raise vocab or n_gram", name,
                         TASK_NGRAM_PROBE, probe_len[i], tc->vocab, tc->n_gram);
    free(s);
    return rc;
}

static int task_check(const TaskConfig* tc) {
    if (tc->task < 0 || tc->task >= TASK_COUNT) return sm_fail("unknown task id %d", tc->task);
    if (tc->n_train < 0) return sm_fail("%s: n_train %d < 0", TASK_NAMES[tc->task], tc->n_train);
    if (tc->n_test < 1) return sm_fail("%s: n_test %d < 1", TASK_NAMES[tc->task], tc->n_test);
    switch (tc->task) {
    case TASK_AR: return ar_check(tc);
    case TASK_INDUCTION: return induction_check(tc);
    case TASK_MQAR: return mqar_check(tc);
    case TASK_DFA: return dfa_check(tc);
    default: return string_check(tc);
    }
}

/* ---- sets: allocation, padding, dedup ---- */

static void taskset_free(TaskSet* s) {
    free(s->tokens);
    free(s->len);
    free(s->loss_mask);
    free(s->metric_mask);
    free(s->valid);
    memset(s, 0, sizeof(*s));
}
static void taskset_alloc(TaskSet* s, int n, int max_len, int with_valid) {
    size_t cells = (size_t)n * max_len;
    s->n = n, s->max_len = max_len;
    s->tokens = (int*)mallocCheck(cells * sizeof(int));          // (n, max_len)
    s->len = (int*)mallocCheck((size_t)n * sizeof(int));         // (n)
    s->loss_mask = (uint8_t*)mallocCheck(cells);                 // (n, max_len), zeroed
    s->metric_mask = (uint8_t*)mallocCheck(cells);               // (n, max_len), zeroed
    s->valid = with_valid ? (uint32_t*)mallocCheck(cells * sizeof(uint32_t)) : NULL;
}
/* row i holds len tokens: pad the rest of the row; masks past the last target are zero */
static void taskset_finish_row(TaskSet* s, int i, int len, int pad) {
    size_t row = (size_t)i * s->max_len;
    s->len[i] = len;
    for (int t = len; t < s->max_len; t++) s->tokens[row + t] = pad;
    for (int t = len > 0 ? len - 1 : 0; t < s->max_len; t++) {
        s->loss_mask[row + t] = s->metric_mask[row + t] = 0;
        if (s->valid) s->valid[row + t] = 0;
    }
}

static uint64_t bytes_hash(const void* data, size_t nbytes) {
    const unsigned char* p = (const unsigned char*)data;
    uint64_t h = hash64(nbytes), word;
    for (; nbytes >= 8; p += 8, nbytes -= 8) {
        memcpy(&word, p, 8);
        h = hash64(h ^ word);
    }
    for (; nbytes > 0; p++, nbytes--) h = hash64(h ^ *p);
    return h;
}

/* a set of byte strings (token rows, DFA tables) by exact content; the strings stay where they are */
typedef struct {
    uint64_t hash;
    const void* data; /* NULL = empty slot */
    size_t nbytes;
} SeenSlot;
typedef struct {
    SeenSlot* slots;
    size_t mask; /* capacity - 1, capacity a power of two >= 2 x items */
} TaskSeen;

static void seen_init(TaskSeen* s, size_t max_items) {
    size_t cap = 16;
    while (cap < 2 * max_items) cap *= 2;
    s->slots = (SeenSlot*)mallocCheck(cap * sizeof(SeenSlot));
    s->mask = cap - 1;
}
static void seen_free(TaskSeen* s) { free(s->slots); s->slots = NULL; }
/* 1 if new (then it is remembered by pointer), 0 if an equal string is already in */
static int seen_insert(TaskSeen* s, const void* data, size_t nbytes) {
    uint64_t h = bytes_hash(data, nbytes);
    for (size_t i = h & s->mask;; i = (i + 1) & s->mask) { // linear probing
        SeenSlot* sl = &s->slots[i];
        if (!sl->data) { sl->hash = h, sl->data = data, sl->nbytes = nbytes; return 1; }
        if (sl->hash == h && sl->nbytes == nbytes && memcmp(sl->data, data, nbytes) == 0) return 0;
    }
}

/* ---- AR (tasks.md §1, safari generate_assoc_recall with num_keys 1, allow_dot false) ----
 * ids: keys 0..K-1 (K = (V-2)/2), values K..V-3, '=>' V-2.
 * safari builds kv_map inside generate_assoc_recall, i.e. a fresh random key->value map PER
 * EXAMPLE (each key an independent uniform value; values may repeat). We derive it from one
 * 64-bit draw per example, value(k) = hash of (map seed, k), so it needs no table. */
static int ar_value(uint64_t map_seed, int key, int n_keys, int n_values) {
    return n_keys + (int)(hash64(map_seed + (uint64_t)key) % (uint64_t)n_values);
}
static int ar_key_in_body(const int* tok, int n_pairs, int key) {
    for (int i = 0; i < n_pairs; i++) if (tok[2 * i] == key) return 1;
    return 0;
}
static int ar_example(const TaskConfig* tc, const double* unused, uint64_t* rng, int* tok, uint8_t* loss, uint8_t* metric) {
    (void)unused;
    int n_ordinary = tc->vocab - 2, n_keys = n_ordinary / 2, n_values = n_ordinary - n_keys;
    int n_pairs = tc->seq_len / 2, len = tc->seq_len + 3;
    uint64_t map_seed = rng_u64(rng);
    for (int i = 0; i < n_pairs; i++) { // body: uniformly random keys, each followed by its value
        int k = (int)rng_below(rng, n_keys);
        tok[2 * i] = k;
        tok[2 * i + 1] = ar_value(map_seed, k, n_keys, n_values);
    }
    // query: uniform over the keys present in the body (safari redraws until one is present)
    int q;
    do q = (int)rng_below(rng, n_keys); while (!ar_key_in_body(tok, n_pairs, q));
    tok[len - 3] = tc->vocab - 2; // '=>'
    tok[len - 2] = q;
    tok[len - 1] = ar_value(map_seed, q, n_keys, n_values);
    for (int t = 0; t < len - 1; t++) loss[t] = 1, metric[t] = 0; // plain LM loss on every target
    metric[len - 2] = 1; // scored: the value after '=> key'
    return len;
}

/* ---- induction head (tasks.md §2, safari generate_induction_head, induction_len 1, one trigger) ---- */
static int induction_example(const TaskConfig* tc, const double* unused, uint64_t* rng, int* tok, uint8_t* loss,
                             uint8_t* metric) {
    (void)unused;
    int T = tc->seq_len, arrow = tc->vocab - 2, len = T + 2;
    for (int i = 0; i < T; i++) tok[i] = (int)rng_below(rng, tc->vocab - 2); // body: ordinary tokens only
    int p = (int)rng_below(rng, T - 2); // trigger position in [0, T-2)
    tok[p] = arrow;
    tok[T] = arrow;
    tok[T + 1] = tok[p + 1]; // the token after the planted trigger is the answer
    for (int t = 0; t < len - 1; t++) loss[t] = 1, metric[t] = 0;
    metric[len - 2] = 1;
    return len;
}

/* ---- MQAR (tasks.md §3, zoology multiquery_ar / _mqar) ----
 * tokens[0..2P): k_0 v_0 k_1 v_1 ..., keys distinct in [1, V/2), values distinct in [V/2, V)
 * (zoology draws both without replacement). The rest holds G = (T-2P)/2 query slots of two
 * tokens; key i is asked once, in slot g_i, as `k_i v_i` at 2P + 2g_i: the target at the key's
 * position is its value (zoology puts only the key in the input and the value in the labels;
 * one token stream needs the value to follow). Slots are drawn like zoology's gaps: without
 * replacement, key by key, with weight (g+1)^(a-1), a = 0.01 (its power law: near slots are
 * favoured). Every other position is a uniformly random token in [0, V) (random_non_queries). */
/* weights[g] = (g+1)^(a-1) for the G slots, computed once per set */
static double* mqar_slot_weights(const TaskConfig* tc) {
    int n_slots = (tc->seq_len - 2 * tc->num_pairs) / 2;
    double* w = (double*)mallocCheck((size_t)task_imax(n_slots, 1) * sizeof(double));
    for (int g = 0; g < n_slots; g++) w[g] = pow(g + 1.0, TASK_MQAR_POWER_A - 1.0);
    return w;
}
static int mqar_draw_distinct(uint64_t* rng, const int* tok, int n_before, int lo, int n_ids) {
    for (;;) { // rejection: P is at most V/2-1 and usually far below it
        int x = lo + (int)rng_below(rng, n_ids), dup = 0;
        for (int j = 0; j < n_before && !dup; j++) dup = tok[2 * j] == x;
        if (!dup) return x;
    }
}
/* the next slot for a key: drawn by weight among the slots still free (rest[2g] < 0) */
static int mqar_draw_slot(uint64_t* rng, const int* rest, const double* weights, int n_slots, double* free_weight) {
    double u = rng_uniform(rng) * *free_weight, acc = 0;
    int last_free = -1;
    for (int g = 0; g < n_slots; g++) {
        if (rest[2 * g] >= 0) continue;
        last_free = g;
        acc += weights[g];
        if (acc > u) break;
    }
    *free_weight -= weights[last_free]; // rounding can leave u past the sum: then the last free slot
    return last_free;
}
static int mqar_example(const TaskConfig* tc, const double* weights, uint64_t* rng, int* tok, uint8_t* loss, uint8_t* metric) {
    int V = tc->vocab, P = tc->num_pairs, T = tc->seq_len, half = V / 2;
    int* rest = tok + 2 * P;
    int n_slots = (T - 2 * P) / 2;
    for (int i = 0; i < P; i++) tok[2 * i] = mqar_draw_distinct(rng, tok, i, 1, half - 1);
    for (int i = 0; i < P; i++) tok[2 * i + 1] = mqar_draw_distinct(rng, tok + 1, i, half, V - half);
    for (int t = 2 * P; t < T; t++) rest[t - 2 * P] = -1; // -1: not yet filled
    memset(loss, 0, (size_t)(T - 1));
    double free_weight = 0;
    for (int g = 0; g < n_slots; g++) free_weight += weights[g];
    for (int i = 0; i < P; i++) {
        int g = mqar_draw_slot(rng, rest, weights, n_slots, &free_weight);
        rest[2 * g] = tok[2 * i];
        rest[2 * g + 1] = tok[2 * i + 1];
        loss[2 * P + 2 * g] = 1; // the target at the query key is its value
    }
    for (int t = 2 * P; t < T; t++) if (tok[t] < 0) tok[t] = (int)rng_below(rng, V);
    memcpy(metric, loss, (size_t)(T - 1));
    return T;
}

/* ---- fixed sets of distinct rows (ar, induction, mqar) ----
 * safari removes duplicate examples within each set (torch.unique, then draws until full); we
 * also keep every test row out of the train set, so the test set measures generalisation. */
/* a fixed-length example; weights: mqar's slot weights, else unused */
typedef int (*TaskGen)(const TaskConfig*, const double* weights, uint64_t*, int*, uint8_t*, uint8_t*);

static int fill_distinct(const TaskConfig* tc, TaskGen gen, const double* weights, TaskSet* s, uint64_t* rng, TaskSeen* seen,
                         const char* which) {
    long max_draws = 10L * s->n + 1000, draws = 0;
    for (int i = 0; i < s->n; i++) {
        size_t row = (size_t)i * s->max_len;
        int len;
        do {
            if (draws++ >= max_draws)
                return sm_fail("%s: only %d distinct %s examples after %ld draws (need %d); the example space is too small",
                               TASK_NAMES[tc->task], i, which, max_draws, s->n);
            len = gen(tc, weights, rng, s->tokens + row, s->loss_mask + row, s->metric_mask + row);
        } while (!seen_insert(seen, s->tokens + row, (size_t)len * sizeof(int)));
        taskset_finish_row(s, i, len, task_pad_id(tc));
    }
    return 0;
}
static int make_distinct_sets(const TaskConfig* tc, TaskGen gen, TaskSet* train, TaskSet* test) {
    int max_len = task_max_len(tc);
    taskset_alloc(train, tc->n_train, max_len, 0);
    taskset_alloc(test, tc->n_test, max_len, 0);
    TaskSeen seen;
    seen_init(&seen, (size_t)tc->n_train + tc->n_test);
    uint64_t rng_train = task_stream(tc->seed, 1), rng_test = task_stream(tc->seed, 2);
    double* weights = tc->task == TASK_MQAR ? mqar_slot_weights(tc) : NULL;
    int rc = fill_distinct(tc, gen, weights, train, &rng_train, &seen, "train");
    if (rc == 0) rc = fill_distinct(tc, gen, weights, test, &rng_test, &seen, "test"); // test rows also differ from train rows
    seen_free(&seen);
    free(weights);
    return rc;
}

/* ---- DFA languages (tasks.md §4, seq_icl dfa.py: RandomDFASampler, generate_example) ----
 * Symbols are ids 0..V-3 (one token per symbol: the reference's two-character symbols split
 * into two tokens, we do not), '|' = V-2, pad '.' = V-1. A DFA is a table next[s * n_sym + a] =
 * target state + 1, or 0 = no edge on a; state 0 starts; every state has >= 1 edge, so a walk
 * never gets stuck. Two DFAs are the same if they have the same states and the same table (the
 * reference hashes (num_nodes, alphabet, transitions); the drawn alphabet's order adds nothing
 * to the language, so we leave it out). */
typedef struct {
    int n, n_sym, stride; /* DFAs, symbols, bytes per table */
    int* n_states;        /* (n) */
    uint8_t* next;        /* (n, stride): rows of n_sym per state */
} TaskDfas;

static void dfas_free(TaskDfas* d) {
    free(d->n_states);
    free(d->next);
    memset(d, 0, sizeof(*d));
}
static void shuffle_prefix(uint64_t* rng, int* a, int n, int k) { // a[0..k) = k distinct uniform picks of a[0..n)
    for (int i = 0; i < k; i++) {
        int j = i + (int)rng_below(rng, n - i), tmp = a[i];
        a[i] = a[j], a[j] = tmp;
    }
}
/* one random DFA into next (stride bytes, zeroed here); returns its number of states */
static int dfa_sample(const TaskConfig* tc, uint64_t* rng, uint8_t* next, int n_sym, int stride) {
    int n_states = 2 + (int)rng_below(rng, tc->dfa_max_nodes - 2); // [2, max_nodes)
    int alphabet[32], pick[32];
    for (int a = 0; a < n_sym; a++) alphabet[a] = a;
    shuffle_prefix(rng, alphabet, n_sym, n_states); // alphabet: n_states distinct symbols
    int max_out = task_imin(tc->dfa_max_edges, n_states);
    memset(next, 0, (size_t)stride);
    for (int s = 0; s < n_states; s++) {
        int n_out = 1 + (int)rng_below(rng, max_out - 1); // [1, max_out), as rng.integers(1, max_out)
        memcpy(pick, alphabet, sizeof(int) * n_states);
        shuffle_prefix(rng, pick, n_states, n_out); // edge symbols without replacement
        for (int j = 0; j < n_out; j++) next[s * n_sym + pick[j]] = (uint8_t)(1 + rng_below(rng, n_states));
    }
    return n_states;
}
/* one sequence of the DFA: k in [min_len, max_len) walks of length [0, max_example_len), each
 * from state 0 with uniformly chosen outgoing symbols, joined by '|' (no final '|'). Every target
 * is a symbol inside an example or the '|' ending one, so loss = metric = every target; valid[t]
 * = the symbols leaving the state after tokens[0..t] within the current example, plus '|' where
 * the example really ends there. (Every state may end a walk, so counting '|' as valid everywhere
 * would let a constant '|' predictor score 100%: the metric credits the end only where it is.) */
static int dfa_sequence(const TaskConfig* tc, uint64_t* rng, const uint8_t* next, int n_states, int* tok, uint8_t* loss,
                        uint8_t* metric, uint32_t* valid) {
    int n_sym = tc->vocab - 2, sep = tc->vocab - 2;
    int out[32][32], n_out[32]; // out[s][j]: the j-th symbol leaving state s
    uint32_t state_valid[32];
    for (int s = 0; s < n_states; s++) {
        n_out[s] = 0, state_valid[s] = 0;
        for (int a = 0; a < n_sym; a++)
            if (next[s * n_sym + a]) out[s][n_out[s]++] = a, state_valid[s] |= 1u << a;
    }
    int n_examples = tc->min_len + (int)rng_below(rng, tc->max_len - tc->min_len), len = 0;
    for (int e = 0; e < n_examples; e++) {
        int walk = (int)rng_below(rng, tc->dfa_max_example_len), s = 0;
        if (e > 0) { // the separator ends the previous example; the next starts at state 0
            if (valid) valid[len] = state_valid[0];
            tok[len++] = sep;
        }
        for (int i = 0; i < walk; i++) {
            int a = out[s][rng_below(rng, n_out[s])];
            s = next[s * n_sym + a] - 1;
            if (valid) valid[len] = state_valid[s];
            tok[len++] = a;
        }
    }
    for (int t = 0; t + 1 < len; t++) {
        loss[t] = metric[t] = 1;
        if (valid && tok[t + 1] == sep) valid[t] |= 1u << sep;
    }
    if (len > 0) { // the last token has no target
        loss[len - 1] = metric[len - 1] = 0;
        if (valid) valid[len - 1] = 0;
    }
    return len;
}
/* train DFAs from the train stream, test DFAs from the test stream; a DFA already drawn (in
 * either set) is redrawn, so the sets are disjoint. seq_icl draws up to 10 x n_train DFAs and
 * shrinks the sets if too few are distinct; we draw up to 10 x (n_train + n_test) + 1000 and fail.
 * dfas: NULL, or receives the machines (train rows first, then test rows); free with dfas_free. */
static int dfa_make_sets(const TaskConfig* tc, TaskSet* train, TaskSet* test, TaskDfas* dfas) {
    int n_sym = tc->vocab - 2, stride = (tc->dfa_max_nodes - 1) * n_sym, total = tc->n_train + tc->n_test;
    TaskDfas d = {total, n_sym, stride, (int*)mallocCheck((size_t)total * sizeof(int)), (uint8_t*)mallocCheck((size_t)total * stride)};
    TaskSeen seen;
    seen_init(&seen, (size_t)total);
    long max_draws = 10L * total + 1000, draws = 0;
    int rc = 0, max_len = task_max_len(tc);
    taskset_alloc(train, tc->n_train, max_len, 1);
    taskset_alloc(test, tc->n_test, max_len, 1);
    uint64_t rngs[2] = {task_stream(tc->seed, 1), task_stream(tc->seed, 2)};
    for (int i = 0; i < total && rc == 0; i++) {
        int is_test = i >= tc->n_train, r = is_test ? i - tc->n_train : i;
        uint64_t* rng = &rngs[is_test];
        uint8_t* next = d.next + (size_t)i * stride;
        do {
            if (draws++ >= max_draws) {
                rc = sm_fail("dfa: only %d distinct DFAs after %ld draws (need %d + %d)", i, max_draws, tc->n_train, tc->n_test);
                break;
            }
            d.n_states[i] = dfa_sample(tc, rng, next, n_sym, stride);
        } while (!seen_insert(&seen, next, (size_t)d.n_states[i] * n_sym));
        if (rc) break;
        TaskSet* s = is_test ? test : train;
        size_t row = (size_t)r * max_len;
        int len = dfa_sequence(tc, rng, next, d.n_states[i], s->tokens + row, s->loss_mask + row, s->metric_mask + row,
                               s->valid + row);
        taskset_finish_row(s, r, len, task_pad_id(tc));
    }
    seen_free(&seen);
    if (dfas && rc == 0) *dfas = d;
    else dfas_free(&d);
    return rc;
}

/* ---- copy, prefix_ngram, suffix_ngram (tasks.md §5, transformers_ssm_copy data_utils.py) ----
 * letters 0..A-1, '$' = A, '|' = A+1, '.' = A+2, '*' = A+3.
 * n-gram rule: the reference lists the n-grams starting at p in [0, L-n-2] (range(L - n - 1),
 * so >= 2 letters follow), redraws s until one of them occurs once in that list, but then
 * picks from ALL listed n-grams (list_ngrams, not unique_n_grams; randint's exclusive high also
 * skips the last) and answers with the text after the n-gram's FIRST occurrence. We keep the
 * intent (tasks.md): p uniform among the starts in [0, L-n-2] whose n-gram occurs nowhere else
 * in s (all starts 0..L-n), answer = s[p+n..L). Cost O(L^2) per draw, with early exits. */
static int ngram_unique_at(const int* s, int L, int n, int p) {
    for (int q = 0; q + n <= L; q++) {
        if (q == p) continue;
        int k = 0;
        while (k < n && s[q + k] == s[p + k]) k++;
        if (k == n) return 0;
    }
    return 1;
}
/* how many starts in [0, L-n-2] have a unique n-gram; *pick = the which-th of them */
static int ngram_candidates(const int* s, int L, int n, int which, int* pick) {
    int count = 0;
    for (int p = 0; p <= L - n - 2; p++)
        if (ngram_unique_at(s, L, n, p)) {
            if (count == which) *pick = p;
            count++;
        }
    return count;
}
static int ngram_draw(const TaskConfig* tc, uint64_t* rng, int* s, int L, int max_draws) {
    for (int d = 0; d < max_draws; d++) {
        for (int i = 0; i < L; i++) s[i] = (int)rng_below(rng, tc->vocab);
        int p = -1, count = ngram_candidates(s, L, tc->n_gram, -1, &p);
        if (count == 0) continue;
        ngram_candidates(s, L, tc->n_gram, (int)rng_below(rng, count), &p);
        return p;
    }
    return -1;
}
/* one example of string length L at tok (capacity >= string_longest); mask over its targets:
 * 1 on the answer and the final '.'; returns its length or -1 */
static int string_example(const TaskConfig* tc, uint64_t* rng, int L, int* tok, uint8_t* mask) {
    int A = tc->vocab, n = tc->n_gram, bos = A, sep = A + 1, eos = A + 2, len, answer_at;
    if (tc->task == TASK_COPY) { // $ s | s .
        for (int i = 0; i < L; i++) tok[1 + i] = (int)rng_below(rng, A);
        tok[0] = bos, tok[L + 1] = sep;
        memcpy(tok + L + 2, tok + 1, sizeof(int) * L);
        answer_at = L + 2, len = 2 * L + 3;
    } else if (tc->task == TASK_PREFIX_NGRAM) { // $ g | s | answer .
        int* s = tok + n + 2, p = ngram_draw(tc, rng, s, L, TASK_NGRAM_DRAWS);
        if (p < 0) return sm_fail("prefix_ngram: no string of length %d with a unique %d-gram in %d draws", L, n, TASK_NGRAM_DRAWS);
        tok[0] = bos, tok[n + 1] = sep, tok[n + 2 + L] = sep;
        memcpy(tok + 1, s + p, sizeof(int) * n);
        memcpy(tok + n + 3 + L, s + p + n, sizeof(int) * (L - p - n));
        answer_at = n + 3 + L, len = 2 * L + 4 - p;
    } else { // suffix_ngram: $ s | g answer .
        int* s = tok + 1, p = ngram_draw(tc, rng, s, L, TASK_NGRAM_DRAWS);
        if (p < 0) return sm_fail("suffix_ngram: no string of length %d with a unique %d-gram in %d draws", L, n, TASK_NGRAM_DRAWS);
        tok[0] = bos, tok[L + 1] = sep;
        memcpy(tok + L + 2, s + p, sizeof(int) * (L - p)); // the n-gram, then the answer
        answer_at = L + 2 + n, len = 2 * L + 3 - p;
    }
    tok[len - 1] = eos;
    // token j is scored by target j-1 (the reference shifts its token mask by one: mask[:, 1:])
    for (int t = 0; t < len - 1; t++) mask[t] = t + 1 >= answer_at;
    return len;
}
static int string_draw_len(const TaskConfig* tc, uint64_t* rng) { return tc->min_len + (int)rng_below(rng, tc->max_len - tc->min_len + 1); }

/* train: n_train examples of lengths uniform in [min_len, max_len] (the packed rows of
 * task_packed_row are the usual training data); test: n_test examples of each length
 * min_eval_len..max_eval_len in that order (the reference evaluates np.arange(min, max), one
 * length at a time, max excluded; we include max_eval_len). Rows padded with '*'; no dedup. */
static int string_fill(const TaskConfig* tc, TaskSet* s, uint64_t* rng, int fixed_len) {
    for (int i = 0; i < s->n; i++) {
        size_t row = (size_t)i * s->max_len;
        int L = fixed_len ? tc->min_eval_len + i / tc->n_test : string_draw_len(tc, rng);
        int len = string_example(tc, rng, L, s->tokens + row, s->loss_mask + row);
        if (len < 0) return -1;
        memcpy(s->metric_mask + row, s->loss_mask + row, (size_t)(len - 1));
        taskset_finish_row(s, i, len, task_pad_id(tc));
    }
    return 0;
}
static int string_make_sets(const TaskConfig* tc, TaskSet* train, TaskSet* test) {
    int n_lengths = tc->max_eval_len - tc->min_eval_len + 1;
    taskset_alloc(train, tc->n_train, string_longest(tc, tc->max_len), 0);
    taskset_alloc(test, tc->n_test * n_lengths, string_longest(tc, tc->max_eval_len), 0);
    uint64_t rng_train = task_stream(tc->seed, 1), rng_test = task_stream(tc->seed, 2);
    if (string_fill(tc, train, &rng_train, 0)) return -1;
    return string_fill(tc, test, &rng_test, 1);
}

/* ---- the API ---- */

static int task_make_sets(const TaskConfig* tc, TaskSet* train, TaskSet* test) {
    memset(train, 0, sizeof(*train));
    memset(test, 0, sizeof(*test));
    if (task_check(tc)) return -1;
    int rc;
    switch (tc->task) {
    case TASK_AR: rc = make_distinct_sets(tc, ar_example, train, test); break;
    case TASK_INDUCTION: rc = make_distinct_sets(tc, induction_example, train, test); break;
    case TASK_MQAR: rc = make_distinct_sets(tc, mqar_example, train, test); break;
    case TASK_DFA: rc = dfa_make_sets(tc, train, test, NULL); break;
    default: rc = string_make_sets(tc, train, test); break;
    }
    if (rc) {
        taskset_free(train);
        taskset_free(test);
    }
    return rc;
}

/* tc must have passed task_check (not repeated here: the lookup probe is not free); marked
 * unused because seqmodels.h itself does not call it (the tests and fresh-sample loops do) */
__attribute__((unused)) static int task_example(const TaskConfig* tc, uint64_t* rng, int str_len, int* tokens, uint8_t* loss_mask,
                        uint8_t* metric_mask, uint32_t* valid, int cap) {
    if (task_is_string(tc->task)) {
        const char* name = TASK_NAMES[tc->task];
        int L = str_len < 0 ? string_draw_len(tc, rng) : str_len, shortest = task_is_lookup(tc->task) ? tc->n_gram + 2 : 1;
        if (L < shortest || L > TASK_MAX_STR) return sm_fail("%s: string length %d not in [%d, %d]", name, L, shortest, TASK_MAX_STR);
        if (cap < string_longest(tc, L)) return sm_fail("%s: buffer of %d tokens < %d needed", name, cap, string_longest(tc, L));
        int len = string_example(tc, rng, L, tokens, loss_mask);
        if (len > 0) memcpy(metric_mask, loss_mask, (size_t)(len - 1));
        return len;
    }
    if (cap < task_max_len(tc)) return sm_fail("%s: buffer of %d tokens < %d needed", TASK_NAMES[tc->task], cap, task_max_len(tc));
    switch (tc->task) {
    case TASK_AR: return ar_example(tc, NULL, rng, tokens, loss_mask, metric_mask);
    case TASK_INDUCTION: return induction_example(tc, NULL, rng, tokens, loss_mask, metric_mask);
    case TASK_MQAR: { // one fresh example: its own weight table
        double* weights = mqar_slot_weights(tc);
        int len = mqar_example(tc, weights, rng, tokens, loss_mask, metric_mask);
        free(weights);
        return len;
    }
    default: { // a fresh DFA and one sequence of it
        uint8_t next[32 * 32];
        int n_states = dfa_sample(tc, rng, next, tc->vocab - 2, (int)sizeof(next));
        return dfa_sequence(tc, rng, next, n_states, tokens, loss_mask, metric_mask, valid);
    }
    }
}

/* The reference packs whole examples while they fit; the first that does not is cut at the
 * row's end with its mask all 0. An example that might overrun is built aside (one buffer per
 * row, only then), the others in place. On the (post-task_check: negligible) failure to find a
 * unique n-gram the rest of the row is '*' with mask 0. */
static void task_packed_row(const TaskConfig* tc, uint64_t* rng, int* tokens, uint8_t* loss_mask, int len) {
    if (len <= 0) return;
    memset(loss_mask, 0, (size_t)(len - 1));
    int pos = 0, longest = string_longest(tc, tc->max_len);
    int* aside = NULL;
    uint8_t* aside_mask = NULL;
    while (pos < len) {
        int L = string_draw_len(tc, rng), n;
        if (pos + string_longest(tc, L) <= len) { // fits whatever the n-gram: write in place
            n = string_example(tc, rng, L, tokens + pos, loss_mask + pos);
            if (n < 0) break;
            pos += n;
            continue;
        }
        if (!aside) {
            aside = (int*)mallocCheck((size_t)longest * sizeof(int));
            aside_mask = (uint8_t*)mallocCheck((size_t)longest);
        }
        n = string_example(tc, rng, L, aside, aside_mask);
        if (n < 0) break;
        int keep = task_imin(n, len - pos);
        memcpy(tokens + pos, aside, sizeof(int) * keep);
        if (keep == n) memcpy(loss_mask + pos, aside_mask, (size_t)(n - 1)); // whole: keep its mask
        pos += keep;
    }
    for (; pos < len; pos++) tokens[pos] = task_pad_id(tc);
    free(aside);
    free(aside_mask);
}

#endif /* SEQMODELS_TASKS_H */
