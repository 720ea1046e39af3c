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

#endif /* SEQMODELS_TASKS_H */
