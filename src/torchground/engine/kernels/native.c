/* An epoch of training steps for a block of models, every step fused, and the epoch's
 * metrics: the CPU counterpart of the Triton kernels (triton_tiled.py, triton_unrolled.py;
 * native.py says why). The element-wise rules come from rules.py, inserted at @RULES@.
 *
 * Compiled per group configuration: native.py prepends the definitions
 *   NL           layers;  SIZES[NL + 1] widths (F, hidden..., 1);  OFFS[NL] weight offsets
 *   NP           parameters per model;  W  the largest width
 *   N, B, REST   points per epoch, batch size, points of the last, shorter batch (0: none)
 *   VB           models per vector (one SIMD register of floats, or two)
 *   MIN_BLOCKS   fewer than twice this many vectors in all: the calling thread alone
 *   SHARED       1: one batch order on the same data for all models (a point is a scalar, broadcast)
 *   HID, OUT     activation ids (0 identity, 1 tanh, 2 sigmoid, 3 relu)
 *   HALF         half MSE;  OPT  0 SGD, 1 Adam(W);  MOMENTUM, NESTEROV, DECOUPLED, L2, L1  flags
 *   CLASSIFY     the ±1 problem (accuracy) or regression (RMSE, R²);  NE  evaluation sets (0–2)
 *
 * Layouts (models last, as the twin's tensors; M models, row stride M):
 *   p, s1, s2  (NP, M)  parameters and optimiser state, trained in place
 *   x (D, N, F), y (D, N, 1)  the training data, D = 1 or M;  order (M, N) this epoch's order
 *   pred (N·M,)         each point's output before its step, column j·M + m
 *   hp (11, M)          neg_lr, wd, momentum, 1 − dampening, 1 − β1, β2, 1 − β2, eps, decay, l2, l1
 *   dead (NP, M) bytes  L1's dead weights (the Playground's rule), updated in place
 *   sk (S, 2, M)        Adam's step size and √(bias correction 2) of each step
 *   stats (M, T)        the epoch's table, as epoch.py's epoch_stats: each step's loss, then the
 *                       training metrics and each evaluation set's, after the epoch
 *
 * The arithmetic is the engine's (rules.py, ops.py, optim.py, epoch.py), operation for operation
 * except the order of sums, tanh (rules.py's fit, within 3 ulp) and exp (about 2 ulp), and
 * except subnormal numbers, which the kernel's threads flush to zero (x86's FTZ and DAZ, set
 * for the call and restored): weights and optimiser state that decay below float32's smallest
 * normal number (weight decay on a dead unit, Adam's momentum) otherwise slowed every
 * operation they entered many times over. The eager engine keeps them; below 1.2e-38, they
 * change no output it shows.
 */
/* PART: the library is three parts compiled side by side and linked (build_cache.py's parts):
 * 1, the steps' forward halves; 2, their backward halves; 3, the rest (a block's epoch, the
 * evaluation, tg_epoch). 0 (the default) is all of it in one. */
#ifndef PART
#define PART 0
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef float vf __attribute__((vector_size(VB * 4)));
typedef int32_t vi __attribute__((vector_size(VB * 4)));
typedef uint32_t vu __attribute__((vector_size(VB * 4)));

#define INLINE static inline __attribute__((always_inline))

INLINE vf splat(float x) { return (vf){0} + x; }
/* mask ? a : b, lane by lane (mask lanes are all ones or all zeros, as comparisons give) */
INLINE vf sel(vi mask, vf a, vf b) { return (vf)((mask & (vi)a) | (~mask & (vi)b)); }

INLINE vf loadn(const float *src, int nv) {
    vf v = {0};
    memcpy(&v, src, (size_t)nv * 4);
    return v;
}

INLINE void storen(float *dst, vf v, int nv) { memcpy(dst, &v, (size_t)nv * 4); }

/* min(x, c) and max(x, c) that keep a NaN x (as the eager engine propagates it): one
 * instruction where the vector is one register (x86's min/max return their second operand
 * when either is NaN), else a compare and a select. GCC's own builtins where it has them,
 * not <immintrin.h>, whose parsing took much of a build; other compilers take the header. */
#if defined(__has_builtin) && !defined(__clang__)
#define GCC_HAS(b) __has_builtin(b)
#else
#define GCC_HAS(b) 0
#endif
#if defined(__AVX512F__) && VB == 16 && GCC_HAS(__builtin_ia32_minps512_mask) && GCC_HAS(__builtin_ia32_maxps512_mask)
INLINE vf vmin(vf x, float c) { return __builtin_ia32_minps512_mask(splat(c), x, x, (unsigned short)-1, 4); }
INLINE vf vmax(vf x, float c) { return __builtin_ia32_maxps512_mask(splat(c), x, x, (unsigned short)-1, 4); }
#elif defined(__AVX__) && VB == 8 && GCC_HAS(__builtin_ia32_minps256) && GCC_HAS(__builtin_ia32_maxps256)
INLINE vf vmin(vf x, float c) { return __builtin_ia32_minps256(splat(c), x); }
INLINE vf vmax(vf x, float c) { return __builtin_ia32_maxps256(splat(c), x); }
#elif defined(__AVX512F__) && VB == 16
#include <immintrin.h>
INLINE vf vmin(vf x, float c) { return (vf)_mm512_min_ps((__m512)splat(c), (__m512)x); }
INLINE vf vmax(vf x, float c) { return (vf)_mm512_max_ps((__m512)splat(c), (__m512)x); }
#elif defined(__AVX__) && VB == 8
#include <immintrin.h>
INLINE vf vmin(vf x, float c) { return (vf)_mm256_min_ps((__m256)splat(c), (__m256)x); }
INLINE vf vmax(vf x, float c) { return (vf)_mm256_max_ps((__m256)splat(c), (__m256)x); }
#else
INLINE vf vmin(vf x, float c) { return sel(x > c, splat(c), x); }
INLINE vf vmax(vf x, float c) { return sel(x < c, splat(c), x); }
#endif

/* x within [lo, hi]; NaN stays NaN. */
INLINE vf vclamp(vf x, float lo, float hi) { return vmax(vmin(x, hi), lo); }

INLINE vf vsqrt(vf x) {
    vf r;
    for (int v = 0; v < VB; v++) r[v] = __builtin_sqrtf(x[v]);
    return r;
}

/* e^x: x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its Taylor series to r⁷ (relative
 * error below 3e-9 before rounding), times 2ⁿ built in the exponent bits. Saturates to
 * +inf above about 88.7 and to 2⁻¹²⁶ below −87.3 (0 where tg_epoch flushes subnormals);
 * NaN stays NaN. */
INLINE vf vexp(vf x) {
    x = vmax(vmin(x, 89.0f), -87.3f);
    const vf big = splat(12582912.0f); /* 1.5·2²³: adding it rounds to an integer */
    vf t = x * 1.44269504088896341f + big;
    vf n = t - big;
    vf r = (x - n * 0.693359375f) + n * 2.12194440e-4f; /* ln 2 in two parts */
    vf y = splat(1.0f / 5040.0f);
    y = y * r + 1.0f / 720.0f;
    y = y * r + 1.0f / 120.0f;
    y = y * r + 1.0f / 24.0f;
    y = y * r + 1.0f / 6.0f;
    y = y * r + 0.5f;
    y = y * r + 1.0f;
    y = y * r + 1.0f;
    /* 2ⁿ: t's low bits hold n + 2²² (its mantissa), whose 2²² and above shift out */
    return y * (vf)(((vu)t << 23) + (127u << 23)); /* unsigned: the shift may carry out */
}

/* |x|: the sign bit cleared (as torch.abs: −0 becomes 0; NaN stays NaN). */
INLINE vf vabs(vf x) { return (vf)((vi)x & 0x7fffffff); }

/* The element-wise rules, generated from rules.py (native.py inserts them here): Hyper,
 * sign, act, act_back, loss_grad, batch_loss, hit, penalize, update, l1_dead. */
/* @RULES@ */

static const int SIZES[NL + 1] = SIZES_INIT;
static const int OFFS[NL] = OFFS_INIT;

/* What the Python side passes (native.py's Args mirrors it). */
typedef struct {
    float *p, *s1, *s2;       /* (NP, M) parameters and optimiser state, trained in place */
    uint8_t *dead;            /* (NP, M) L1's dead weights (L1 only), updated in place */
    const float *x, *y;       /* the training points (D, N, F) and labels (D, N, 1), D = 1 or M */
    const int64_t *order;     /* (M, N) each model's order of the points this epoch (rows may repeat) */
    float *pred;              /* (N·M,) each point's output before its step */
    const float *hp, *sk;     /* (10, M) hyper-parameters; (S, 2, M) Adam's per-step scalars */
    double *stats;            /* (M, T) the epoch's table: S step losses, then the metrics */
    const double *train_sst;  /* (1 or M,) the training labels' sum of squares about their mean */
    int64_t sst_per_model;    /* 1: train_sst has a value per model */
    int64_t M, order_stride;  /* models; the row stride of order (0: one order for all) */
    int64_t data_per_model;   /* 1: D = M */
    const float *ex[2], *ey[2], *esst[2]; /* evaluation sets: x (D, n, F), y (D, n, 1), sst (D,) */
    int64_t en[2], ed[2];     /* their points, and whether D = M (1) or 1 (0) */
} Args;

#define S_STEPS (N / B + (REST > 0))
#define QUALITY (CLASSIFY ? 1 : 2) /* accuracy, or RMSE and R² */
#define T (S_STEPS + (1 + NE) * (1 + QUALITY))

/* Scratch of one block: per point, the activations of every layer (B, NL + 1, W); the
 * backward signals (2, B, W). */
#define ACT(l, k, u) act[((k) * (NL + 1) + (l)) * W + (u)]
#define SIG(s, k, u) sig[((s) * B + (k)) * W + (u)]

/* The forward pass of one point: a[0 .. F) holds its inputs; fills a[l·W + u] for every
 * layer l ≥ 1; → the output. */
INLINE vf forward(const vf *restrict p, vf *restrict a) {
#pragma GCC unroll 16
    for (int l = 0; l < NL; l++) {
        const int I = SIZES[l], O = SIZES[l + 1], off = OFFS[l];
#pragma GCC unroll 16
        for (int o = 0; o < O; o++) {
            vf z = p[off + O * I + o];
#pragma GCC unroll 16
            for (int i = 0; i < I; i++) z += p[off + o * I + i] * a[l * W + i];
            a[(l + 1) * W + o] = act(z, l == NL - 1 ? OUT : HID);
        }
    }
    return a[NL * W];
}

/* Lane i of v into stats[mb + i, col], as a double. */
INLINE void put(double *stats, int64_t mb, int nv, int col, vf v) {
    for (int i = 0; i < nv; i++) stats[(mb + i) * T + col] = (double)v[i];
}

/* The training metrics a block gathers over the epoch's steps. */
typedef struct {
    vf sse, hits;       /* Σ (out − y)² in float, as the trainer sums; points classed right */
    double loss[VB];    /* Σ step loss × step size */
} Train;

/* A step on points j0 .. j0 + cnt − 1 is two halves, each in a part of its own: the forward
 * passes, the step's loss and the gradient at the outputs (step_forward, part 1); the
 * backward pass and the updates (step_backward, part 2). cnt is B or REST: each half has an
 * entry point for each (…_b, …_rest), so that cnt stays a constant. */
#define STEP_FORWARD_ARGS int64_t j0, int64_t s, const Args *A, const vf *restrict p, vf *restrict act, vf *restrict sig, Train *tr, int64_t mb, int nv
#define STEP_BACKWARD_ARGS int64_t s, const Args *A, vf *restrict p, vf *restrict s1, vf *restrict s2, vi *restrict dead, const Hyper *h, const vf *restrict act, vf *restrict sig, int64_t mb, int nv
void tg_step_forward_b(STEP_FORWARD_ARGS);
void tg_step_forward_rest(STEP_FORWARD_ARGS);
void tg_step_backward_b(STEP_BACKWARD_ARGS);
void tg_step_backward_rest(STEP_BACKWARD_ARGS);

#if PART == 0 || PART == 1 /* the forward halves */

INLINE void step_forward(const int cnt, STEP_FORWARD_ARGS) {
    const int64_t M = A->M;
    vf sq = {0};
    /* forward, point by point; the loss gradient (MSE, or half of it), mean over the batch */
    for (int k = 0; k < cnt; k++) {
        int64_t j = j0 + k;
        vf y;
        if (SHARED) { /* one order on one data set: the point is the same for every model */
            int64_t r = A->order[j];
            for (int f = 0; f < SIZES[0]; f++) ACT(0, k, f) = splat(A->x[r * SIZES[0] + f]);
            y = splat(A->y[r]);
        } else { /* gathered lane by lane */
            y = splat(0.0f);
            for (int f = 0; f < SIZES[0]; f++) ACT(0, k, f) = splat(0.0f);
            for (int i = 0; i < nv; i++) {
                int64_t m = mb + i, r = (A->data_per_model ? m * N : 0) + A->order[m * A->order_stride + j];
                for (int f = 0; f < SIZES[0]; f++) ACT(0, k, f)[i] = A->x[r * SIZES[0] + f];
                y[i] = A->y[r];
            }
        }
        vf out = forward(p, &ACT(0, k, 0));
        storen(A->pred + j * M + mb, out, nv);
        vf e = out - y;
        sq += e * e;
        if (CLASSIFY) tr->hits += hit(out, y);
        SIG(NL % 2, k, 0) = loss_grad(out, y, splat((float)cnt));
    }
    /* the step's loss as the trainer reads it: the batch mean, in float */
    vf loss = batch_loss(sq, splat((float)cnt));
    put(A->stats, mb, nv, (int)s, loss);
    tr->sse += sq;
    for (int i = 0; i < nv; i++) tr->loss[i] += (double)loss[i] * cnt;
}

void tg_step_forward_b(STEP_FORWARD_ARGS) { step_forward(B, j0, s, A, p, act, sig, tr, mb, nv); }
void tg_step_forward_rest(STEP_FORWARD_ARGS) { step_forward(REST, j0, s, A, p, act, sig, tr, mb, nv); }

#endif

#if PART == 0 || PART == 2 /* the backward halves */

INLINE void step_backward(const int cnt, STEP_BACKWARD_ARGS) {
    const int64_t M = A->M;
    vf step_size = {0}, bc2_sqrt = {0};
    if (OPT == 1) {
        step_size = loadn(A->sk + (2 * s) * M + mb, nv);
        bc2_sqrt = loadn(A->sk + (2 * s + 1) * M + mb, nv);
    }
    /* backward, last layer first; each layer updated once its weights have been used */
#pragma GCC unroll 16
    for (int l = NL - 1; l >= 0; l--) {
        const int I = SIZES[l], O = SIZES[l + 1], off = OFFS[l];
        vf gw[W * W], gb[W];
        for (int u = 0; u < O * I; u++) gw[u] = splat(0.0f);
        for (int o = 0; o < O; o++) gb[o] = splat(0.0f);
        for (int k = 0; k < cnt; k++) {
            vf delta[W];
#pragma GCC unroll 16
            for (int o = 0; o < O; o++) {
                delta[o] = act_back(SIG((l + 1) % 2, k, o), ACT(l + 1, k, o), l == NL - 1 ? OUT : HID);
                gb[o] += delta[o];
#pragma GCC unroll 16
                for (int i = 0; i < I; i++) gw[o * I + i] += delta[o] * ACT(l, k, i);
            }
            if (l > 0) {
#pragma GCC unroll 16
                for (int i = 0; i < I; i++) {
                    vf below = delta[0] * p[off + i];
#pragma GCC unroll 16
                    for (int o = 1; o < O; o++) below += delta[o] * p[off + o * I + i];
                    SIG(l % 2, k, i) = below;
                }
            }
        }
        for (int u = 0; u < O * I; u++) { /* the weights: penalties, update, L1's dead-weight rule */
            vf before = p[off + u], g = penalize(gw[u], before, h);
            vf after = update(before, g, &s1[off + u], &s2[off + u], h, step_size, bc2_sqrt);
            if (L1) after = l1_dead(after, before, &dead[off + u], h);
            p[off + u] = after;
        }
        for (int o = 0; o < O; o++) {
            int u = off + O * I + o;
            p[u] = update(p[u], gb[o], &s1[u], &s2[u], h, step_size, bc2_sqrt);
        }
    }
}

void tg_step_backward_b(STEP_BACKWARD_ARGS) { step_backward(B, s, A, p, s1, s2, dead, h, act, sig, mb, nv); }
void tg_step_backward_rest(STEP_BACKWARD_ARGS) { step_backward(REST, s, A, p, s1, s2, dead, h, act, sig, mb, nv); }

#endif

#if PART == 0 || PART == 3 /* the block's epoch, its evaluation and the epoch's loop */

/* Column by column as epoch.py's epoch_stats: the training loss (size-weighted mean of the
 * step losses) and accuracy, or RMSE and R² (doubles from the float sums). */
INLINE void train_metrics(const Args *A, const Train *tr, int64_t mb, int nv) {
    for (int i = 0; i < nv; i++) {
        double *row = A->stats + (mb + i) * T + S_STEPS;
        row[0] = tr->loss[i] / N;
        if (CLASSIFY) {
            row[1] = (double)tr->hits[i] / N;
        } else {
            double sse = (double)tr->sse[i], sst = A->train_sst[A->sst_per_model ? mb + i : 0];
            row[1] = __builtin_sqrt(sse / N);
            row[2] = sst > 0 ? 1 - sse / sst : __builtin_nan("");
        }
    }
}

/* The epoch's steps of one vector of models, [mb, mb + nv), and its training metrics; the
 * trained parameters stay in the scratch ``mem`` too, for the evaluation. */
void tg_block_steps(vf *restrict mem, const Args *A, int64_t mb, int nv) {
    const int64_t M = A->M;
    const int state = OPT == 1 || MOMENTUM; /* whether s1 (and for Adam s2) are read */
    vf *act = mem, *sig = act + (NL + 1) * B * W, *p = sig + 2 * B * W, *s1 = p + NP, *s2 = s1 + NP;
    vi *dead = (vi *)(s2 + NP);
    Hyper h;
    vf *rows = (vf *)&h; /* the struct's fields are the table's rows, in order */
    for (int r = 0; r < N_HYPER; r++) rows[r] = loadn(A->hp + r * M + mb, nv);
    for (int u = 0; u < NP; u++) {
        p[u] = loadn(A->p + u * M + mb, nv);
        if (state) s1[u] = loadn(A->s1 + u * M + mb, nv);
        if (OPT == 1) s2[u] = loadn(A->s2 + u * M + mb, nv);
        if (L1) {
            vi d = {0};
            for (int i = 0; i < nv; i++) d[i] = A->dead[u * M + mb + i] ? -1 : 0;
            dead[u] = d;
        }
    }
    Train tr = {0};
    int64_t s = 0;
    for (; s < N / B; s++) {
        tg_step_forward_b(s * B, s, A, p, act, sig, &tr, mb, nv);
        tg_step_backward_b(s, A, p, s1, s2, dead, &h, act, sig, mb, nv);
    }
    if (REST) {
        tg_step_forward_rest(s * B, s, A, p, act, sig, &tr, mb, nv);
        tg_step_backward_rest(s, A, p, s1, s2, dead, &h, act, sig, mb, nv);
    }
    for (int u = 0; u < NP; u++) {
        storen(A->p + u * M + mb, p[u], nv);
        if (state) storen(A->s1 + u * M + mb, s1[u], nv);
        if (OPT == 1) storen(A->s2 + u * M + mb, s2[u], nv);
        if (L1)
            for (int i = 0; i < nv; i++) A->dead[u * M + mb + i] = dead[u][i] != 0;
    }
    train_metrics(A, &tr, mb, nv);
}

/* An evaluation set's loss and accuracy, or RMSE and R², after the epoch: in float, then
 * doubles (Trainer.valid_step's tensors). */
INLINE void eval_metrics(const Args *A, int e, const vf *restrict p, vf *restrict a, int64_t mb, int nv) {
    const float *x = A->ex[e], *ys = A->ey[e];
    const int64_t n = A->en[e];
    vf sq = {0}, hits = {0};
    for (int64_t j = 0; j < n; j++) {
        vf y;
        if (A->ed[e]) { /* each model its own points */
            y = splat(0.0f);
            for (int f = 0; f < SIZES[0]; f++) {
                vf v = {0};
                for (int i = 0; i < nv; i++) v[i] = x[((mb + i) * n + j) * SIZES[0] + f];
                a[f] = v;
            }
            for (int i = 0; i < nv; i++) y[i] = ys[(mb + i) * n + j];
        } else {
            for (int f = 0; f < SIZES[0]; f++) a[f] = splat(x[j * SIZES[0] + f]);
            y = splat(ys[j]);
        }
        vf out = forward(p, a);
        vf d = out - y;
        sq += d * d;
        if (CLASSIFY) hits += hit(out, y);
    }
    int col = S_STEPS + (1 + e) * (1 + QUALITY);
    put(A->stats, mb, nv, col, batch_loss(sq, splat((float)n)));
    if (CLASSIFY) {
        for (int i = 0; i < nv; i++) A->stats[(mb + i) * T + col + 1] = (double)hits[i] / n;
    } else {
        vf sst = {0};
        for (int i = 0; i < nv; i++) sst[i] = A->esst[e][A->ed[e] ? mb + i : 0];
        put(A->stats, mb, nv, col + 1, vsqrt(sq / (float)n));
        put(A->stats, mb, nv, col + 2, sel(sst > 0.0f, 1.0f - sq / sst, splat(__builtin_nanf(""))));
    }
}

/* The epoch of one vector of models, [mb, mb + nv): steps, then metrics. */
static void block(vf *restrict mem, const Args *A, int64_t mb, int nv) {
    tg_block_steps(mem, A, mb, nv);
    vf *act = mem, *p = act + (NL + 3) * B * W; /* as tg_block_steps lays the scratch out */
    for (int e = 0; e < NE; e++) eval_metrics(A, e, p, act, mb, nv);
}

/* The epoch of models [0, M), vectors handed to OpenMP's threads as they come free (the runtime torch
 * itself uses, so no second pool competes for the cores). 0 on success, 1 when scratch
 * memory could not be allocated. */
int tg_epoch(const Args *A) {
    const int64_t M = A->M, blocks = (M + VB - 1) / VB;
    const size_t bytes = (sizeof(vf) * ((size_t)(NL + 3) * B * W + 4 * NP) + 63) / 64 * 64; /* + dead (NP vi) */
    int failed = 0;
#pragma omp parallel if (blocks >= 2 * MIN_BLOCKS) reduction(| : failed)
    {
        vf *mem = aligned_alloc(64, bytes);
        failed |= !mem;
#if defined(__SSE__) && defined(__GNUC__)
        const unsigned csr = __builtin_ia32_stmxcsr();
        __builtin_ia32_ldmxcsr(csr | 0x8040); /* flush subnormals to zero, in and out */
#endif
#pragma omp for schedule(dynamic) /* a thread the OS holds back keeps only its current vector */
        for (int64_t b = 0; b < blocks; b++) {
            int64_t mb = b * VB;
            if (mem) block(mem, A, mb, M - mb < VB ? (int)(M - mb) : VB);
        }
#if defined(__SSE__) && defined(__GNUC__)
        __builtin_ia32_ldmxcsr(csr);
#endif
        free(mem);
    }
    return failed;
}

#endif
