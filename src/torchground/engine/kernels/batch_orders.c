/* Each model's batch order per epoch, drawn as a shuffled DataLoader draws it, for K
 * generators at once (see batch_orders.py for why and how it is checked).
 *
 * A torch.Generator on the CPU is MT19937 (Matsumoto and Nishimura, 1998), seeded by the
 * reference initialisation from the low 32 bits of its seed. Per epoch a DataLoader draws
 * from it: the iterator's base seed (int64 random_: two 32-bit words), the epoch's
 * permutation (randperm(n) for n below 2³²/20: n − 1 words, a swap with position
 * i + word mod (n − i) for each i), and the permutation the sampler starts once exhausted
 * (n − 1 more words). A generator of an unshuffled loader draws the base seed only.
 */
#include <stdint.h>

#define MT_N 624
#define MT_M 397

typedef struct {
    uint32_t word[MT_N];
    int32_t next; /* index of the next word; MT_N: the block must be regenerated first */
} Stream;

static void seed_stream(Stream *s, uint64_t seed) {
    s->word[0] = (uint32_t)seed;
    for (int i = 1; i < MT_N; i++) s->word[i] = 1812433253u * (s->word[i - 1] ^ (s->word[i - 1] >> 30)) + (uint32_t)i;
    s->next = MT_N;
}

static void regenerate(Stream *s) {
    for (int i = 0; i < MT_N; i++) {
        uint32_t y = (s->word[i] & 0x80000000u) | (s->word[(i + 1) % MT_N] & 0x7fffffffu);
        s->word[i] = s->word[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    s->next = 0;
}

static inline uint32_t draw(Stream *s) {
    if (s->next >= MT_N) regenerate(s);
    uint32_t y = s->word[s->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* Streams seeded with seeds[k], k < K. */
void tg_seed(Stream *streams, const int64_t *seeds, int64_t K) {
    for (int64_t k = 0; k < K; k++) seed_stream(&streams[k], (uint64_t)seeds[k]);
}

/* One epoch of each stream: perms (K, n) int64 gets the epoch's permutation where
 * shuffle[k], else 0 … n − 1. */
void tg_epoch_orders(Stream *streams, const uint8_t *shuffle, int64_t K, int64_t n, int64_t *perms) {
#pragma omp parallel for schedule(static) if (K >= 64)
    for (int64_t k = 0; k < K; k++) {
        Stream *s = &streams[k];
        int64_t *r = perms + k * n;
        for (int64_t i = 0; i < n; i++) r[i] = i;
        draw(s); /* the DataLoader iterator's base seed */
        draw(s);
        if (!shuffle[k]) continue;
        for (int64_t i = 0; i < n - 1; i++) {
            int64_t z = (int64_t)(draw(s) % (uint32_t)(n - i));
            int64_t t = r[i];
            r[i] = r[z + i];
            r[z + i] = t;
        }
        for (int64_t i = 0; i < n - 1; i++) draw(s); /* the sampler's next permutation, unused */
    }
}
