"""Longest common subsequence and substring kernels on int64 sequences.

Symbols are arbitrary int64 values. Each function codes the symbols of its pattern
densely (0..K-1 in order of first appearance, through a direct table when their range
is small, else an open-addressing hash table) and the other sequence with the same
codes (-1 for a symbol the pattern lacks).

- ``lcs_length`` / ``lcs_lengths``: bit-parallel LCS (Allison-Dix, Hyyro): one bit per
  pattern position, 64 to a word, and for each text symbol with match mask M
  ``V' = (V + (V & M)) | (V & ~M)``; the LCS is the number of zero bits of V. Words
  are swept in strips of four held in registers; the carry out of a strip is kept per
  text position for the next strip. A pattern of at most 64 symbols takes one word.
- ``lcs_align``: Hirschberg's divide and conquer over the same bit-parallel columns,
  in linear memory.
- ``common_runs``: the longest run of matching pairs on one diagonal (the longest
  common substring) per piece, by a one-row DP; optionally on intervals
  (transposition) and with a tolerance on inter-onset intervals.

``lcs_py.py`` is the plain-Python twin with the same API; the tests compare both.
"""
from cpython.long cimport PyLong_AsLong, PyLong_AsLongLong
from libc.math cimport fabs, NAN
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset

import numpy as np

cdef extern from *:
    """
    static inline int lcs_popcount64(uint64_t x) {
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_popcountll(x);
    #else
        x = x - ((x >> 1) & 0x5555555555555555ULL);
        x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
        x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
        return (int)((x * 0x0101010101010101ULL) >> 56);
    #endif
    }
    """
    int lcs_popcount64(uint64_t x) nogil

cdef extern from *:
    """
    #if defined(__x86_64__) || defined(_M_X64)
    #include <immintrin.h>
    static inline uint64_t lcs_add_carry(uint64_t a, uint64_t b, uint64_t* carry) {
        unsigned long long s;
        *carry = _addcarry_u64((unsigned char)*carry, a, b, &s);
        return s;
    }
    #else
    static inline uint64_t lcs_add_carry(uint64_t a, uint64_t b, uint64_t* carry) {
        uint64_t s = a + b + *carry;
        *carry = (s < a) | ((s == a) & *carry);
        return s;
    }
    #endif
    """
    uint64_t lcs_add_carry(uint64_t a, uint64_t b, uint64_t* carry) nogil

cdef enum:
    STRIP = 4                  # words per strip (held in registers)
    STRIP_BITS = 256           # pattern positions per strip
    DIRECT_SLACK = 256         # direct code table when range < 2 * n + DIRECT_SLACK
    NO_MEMORY = -1

cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL


# -- symbol codes -------------------------------------------------------------------------

cdef struct Alphabet:
    int64_t lo
    uint64_t span          # > 0: direct table of ``span`` entries; 0: hash table
    int32_t* table         # direct: code of (value - lo); hash: code per slot (-1 empty)
    int64_t* keys          # hash: the value in each slot
    uint64_t mask          # hash: slots - 1
    int shift              # hash: 64 - log2(slots)
    int32_t size           # distinct symbols


cdef inline uint64_t slot_of(const Alphabet* al, int64_t v) noexcept nogil:
    return ((<uint64_t>v) * GOLDEN) >> al.shift


cdef inline int32_t code_of(const Alphabet* al, int64_t v) noexcept nogil:
    """The code of ``v``, or -1 when the alphabet lacks it."""
    cdef uint64_t off, h
    if al.span:
        off = <uint64_t>v - <uint64_t>al.lo
        return al.table[off] if off < al.span else -1
    h = slot_of(al, v)
    while al.table[h] >= 0:
        if al.keys[h] == v:
            return al.table[h]
        h = (h + 1) & al.mask
    return -1


cdef int alphabet_build(Alphabet* al, const int64_t* x, Py_ssize_t n,
                        int32_t* codes) noexcept nogil:
    """Code the symbols of ``x`` (codes written to ``codes``); NO_MEMORY on failure."""
    cdef int64_t lo = x[0] if n else 0, hi = lo, v
    cdef uint64_t h, slots = 1, off
    cdef Py_ssize_t i
    cdef int bits = 0
    memset(al, 0, sizeof(Alphabet))
    for i in range(n):
        lo = x[i] if x[i] < lo else lo
        hi = x[i] if x[i] > hi else hi
    al.lo = lo
    if <uint64_t>hi - <uint64_t>lo < <uint64_t>(2 * n + DIRECT_SLACK):
        al.span = <uint64_t>hi - <uint64_t>lo + 1
        al.table = <int32_t*>malloc(al.span * sizeof(int32_t))
        if al.table == NULL:
            return NO_MEMORY
        memset(al.table, 0xFF, al.span * sizeof(int32_t))
        for i in range(n):
            off = <uint64_t>x[i] - <uint64_t>lo
            if al.table[off] < 0:
                al.table[off] = al.size
                al.size += 1
            codes[i] = al.table[off]
        return 0
    while slots < <uint64_t>(2 * n):
        slots <<= 1
        bits += 1
    al.mask = slots - 1
    al.shift = 64 - bits if bits else 63
    al.table = <int32_t*>malloc(slots * sizeof(int32_t))
    al.keys = <int64_t*>malloc(slots * sizeof(int64_t))
    if al.table == NULL or al.keys == NULL:
        return NO_MEMORY
    memset(al.table, 0xFF, slots * sizeof(int32_t))
    for i in range(n):
        v = x[i]
        h = slot_of(al, v) & al.mask
        while al.table[h] >= 0 and al.keys[h] != v:
            h = (h + 1) & al.mask
        if al.table[h] < 0:
            al.keys[h] = v
            al.table[h] = al.size
            al.size += 1
        codes[i] = al.table[h]
    return 0


cdef void alphabet_free(Alphabet* al) noexcept nogil:
    free(al.table)
    free(al.keys)
    al.table = NULL
    al.keys = NULL


cdef Py_ssize_t encode(const Alphabet* al, const int64_t* x, Py_ssize_t n, int32_t* out,
                       bint keep_absent) noexcept nogil:
    """Code ``x`` into ``out``; symbols the alphabet lacks are -1, or dropped unless
    ``keep_absent``. Returns the number written."""
    cdef Py_ssize_t i, k = 0
    cdef int32_t c
    for i in range(n):
        c = code_of(al, x[i])
        if c >= 0 or keep_absent:
            out[k] = c
            k += 1
    return k


# -- bit-parallel columns ------------------------------------------------------------------

cdef struct BitPattern:
    Py_ssize_t n           # pattern positions (bits)
    Py_ssize_t strips      # strips of STRIP words; 0 when n <= 64 (one word)
    int32_t K              # alphabet size (rows of the mask table)
    uint64_t* masks        # one word: masks[code]; else masks[(strip * K + code) * 4 + word]


cdef inline Py_ssize_t mask_at(const BitPattern* bp, int32_t code, Py_ssize_t i) noexcept nogil:
    if bp.strips == 0:
        return code
    return ((i // STRIP_BITS) * bp.K + code) * STRIP + (i // 64) % STRIP


cdef inline Py_ssize_t strips_for(Py_ssize_t n) noexcept nogil:
    return 0 if n <= 64 else (n + STRIP_BITS - 1) // STRIP_BITS


cdef inline Py_ssize_t mask_words(Py_ssize_t n, int32_t K) noexcept nogil:
    cdef Py_ssize_t strips = strips_for(n)
    return (K if strips == 0 else strips * K * STRIP) + 1


cdef void bits_set(BitPattern* bp, const int32_t* pattern, Py_ssize_t n) noexcept nogil:
    """Fill the (all-zero) mask table for ``pattern`` (codes 0..K-1)."""
    cdef Py_ssize_t i
    bp.n = n
    bp.strips = strips_for(n)
    for i in range(n):
        bp.masks[mask_at(bp, pattern[i], i)] |= (<uint64_t>1) << (i % 64)


cdef void bits_clear(BitPattern* bp, const int32_t* pattern, Py_ssize_t n) noexcept nogil:
    """Zero the masks ``bits_set`` filled, leaving the table all-zero for reuse."""
    cdef Py_ssize_t i
    for i in range(n):
        bp.masks[mask_at(bp, pattern[i], i)] = 0


cdef void strip4(const uint64_t* table, const int32_t* text, Py_ssize_t m, uint8_t* carry,
                 uint64_t* v) noexcept nogil:
    """Four words of V (set to all ones) swept over the text; carry[j] in and out."""
    cdef uint64_t v0 = ~(<uint64_t>0), v1 = v0, v2 = v0, v3 = v0
    cdef uint64_t c, u
    cdef const uint64_t* row
    cdef Py_ssize_t j
    for j in range(m):
        row = table + STRIP * <Py_ssize_t>text[j]
        c = carry[j]
        u = v0 & row[0]
        v0 = lcs_add_carry(v0, u, &c) | (v0 ^ u)
        u = v1 & row[1]
        v1 = lcs_add_carry(v1, u, &c) | (v1 ^ u)
        u = v2 & row[2]
        v2 = lcs_add_carry(v2, u, &c) | (v2 ^ u)
        u = v3 & row[3]
        v3 = lcs_add_carry(v3, u, &c) | (v3 ^ u)
        carry[j] = <uint8_t>c
    v[0] = v0
    v[1] = v1
    v[2] = v2
    v[3] = v3


cdef void bits_run(const BitPattern* bp, const int32_t* text, Py_ssize_t m, uint8_t* carry,
                   uint64_t* v) noexcept nogil:
    """V after the whole text (codes >= 0); ``v`` gets max(1, 4 * strips) words."""
    cdef uint64_t x, u
    cdef Py_ssize_t j, s
    if bp.strips == 0:
        x = ~(<uint64_t>0)
        for j in range(m):
            u = x & bp.masks[text[j]]
            x = (x + u) | (x ^ u)
        v[0] = x
        return
    memset(carry, 0, m)
    for s in range(bp.strips):
        strip4(bp.masks + s * bp.K * STRIP, text, m, carry, v + s * STRIP)


cdef int64_t zeros(const uint64_t* v, Py_ssize_t words) noexcept nogil:
    """Zero bits of V: the LCS (bits past the pattern stay ones)."""
    cdef int64_t total = 0
    cdef Py_ssize_t w
    for w in range(words):
        total += lcs_popcount64(~v[w])
    return total


cdef struct Scratch:
    int32_t* pattern
    int32_t* text
    uint8_t* carry
    uint64_t* v
    BitPattern bp


cdef int scratch_alloc(Scratch* sc, Py_ssize_t n, Py_ssize_t m, int32_t K) noexcept nogil:
    """Buffers for patterns of up to n symbols over K codes and texts of up to m."""
    memset(sc, 0, sizeof(Scratch))
    sc.pattern = <int32_t*>malloc((n + 1) * sizeof(int32_t))
    sc.text = <int32_t*>malloc((m + 1) * sizeof(int32_t))
    sc.carry = <uint8_t*>malloc(m + 1)
    sc.v = <uint64_t*>malloc((strips_for(n) * STRIP + 1) * sizeof(uint64_t))
    sc.bp.K = K
    sc.bp.masks = <uint64_t*>calloc(mask_words(n, K), sizeof(uint64_t))
    if not (sc.pattern and sc.text and sc.carry and sc.v and sc.bp.masks):
        return NO_MEMORY
    return 0


cdef void scratch_free(Scratch* sc) noexcept nogil:
    free(sc.pattern)
    free(sc.text)
    free(sc.carry)
    free(sc.v)
    free(sc.bp.masks)


cdef int64_t lcs_coded(Scratch* sc, const int32_t* text, Py_ssize_t m) noexcept nogil:
    """LCS of the pattern set in ``sc.bp`` and a coded text (codes >= 0)."""
    bits_run(&sc.bp, text, m, sc.carry, sc.v)
    return zeros(sc.v, max(1, sc.bp.strips * STRIP))


cdef int64_t lcs_pair(const int64_t* a, Py_ssize_t n, const int64_t* b,
                      Py_ssize_t m) noexcept nogil:
    """LCS length of a (the pattern) and b; NO_MEMORY on failure."""
    cdef Alphabet al
    cdef Scratch sc
    cdef int64_t result = NO_MEMORY
    cdef int32_t* codes = <int32_t*>malloc((n + 1) * sizeof(int32_t))
    memset(&al, 0, sizeof(Alphabet))
    memset(&sc, 0, sizeof(Scratch))
    if codes != NULL and alphabet_build(&al, a, n, codes) == 0 \
            and scratch_alloc(&sc, n, m, al.size) == 0:
        bits_set(&sc.bp, codes, n)
        result = lcs_coded(&sc, sc.text, encode(&al, b, m, sc.text, False))
    alphabet_free(&al)
    scratch_free(&sc)
    free(codes)
    return result


def lcs_length(const int64_t[::1] a, const int64_t[::1] b) -> int:
    """Length of the longest common subsequence of ``a`` and ``b``."""
    cdef int64_t result
    if a.shape[0] > b.shape[0]:
        a, b = b, a
    if a.shape[0] == 0:
        return 0
    with nogil:
        result = lcs_pair(&a[0], a.shape[0], &b[0], b.shape[0])
    if result < 0:
        raise MemoryError("no memory for the LCS masks")
    return result


def lcs_lengths(const int64_t[::1] a, const int64_t[::1] b, const int64_t[::1] starts,
                const int64_t[::1] ends):
    """LCS length of ``a`` and each piece ``b[starts[p]:ends[p]]`` (int64 array)."""
    cdef Py_ssize_t p, n = a.shape[0], pieces = starts.shape[0], longest = 0
    cdef Alphabet al
    cdef Scratch sc
    cdef int32_t* codes
    cdef int failed = 0
    out = np.zeros(pieces, dtype=np.int64)
    cdef int64_t[::1] lengths = out
    check_pieces(b.shape[0], starts, ends)
    if n == 0:
        return out
    for p in range(pieces):
        longest = max(longest, ends[p] - starts[p])
    memset(&al, 0, sizeof(Alphabet))
    memset(&sc, 0, sizeof(Scratch))
    with nogil:
        codes = <int32_t*>malloc(n * sizeof(int32_t))
        failed = codes == NULL or alphabet_build(&al, &a[0], n, codes) != 0 \
            or scratch_alloc(&sc, n, longest, al.size) != 0
        if not failed:
            bits_set(&sc.bp, codes, n)
            for p in range(pieces):
                lengths[p] = lcs_coded(&sc, sc.text, encode(&al, &b[0] + starts[p],
                                                           ends[p] - starts[p], sc.text, False))
        alphabet_free(&al)
        scratch_free(&sc)
        free(codes)
    if failed:
        raise MemoryError("no memory for the LCS masks")
    return out


cdef check_pieces(Py_ssize_t size, const int64_t[::1] starts, const int64_t[::1] ends):
    cdef Py_ssize_t p
    if starts.shape[0] != ends.shape[0]:
        raise ValueError("starts and ends differ in length")
    for p in range(starts.shape[0]):
        if not 0 <= starts[p] <= ends[p] <= size:
            raise ValueError(f"piece {p} [{starts[p]}, {ends[p]}) is not inside the "
                             f"sequence of {size}")


# -- alignment (Hirschberg) ----------------------------------------------------------------

cdef struct Align:
    const int32_t* ca      # a coded with b's alphabet (-1 absent)
    const int32_t* cb      # b coded, 0..K-1
    Scratch sc
    int32_t* forward       # LCS(a half, b[lo:lo+k]) for k = 0..m
    int32_t* backward
    int64_t* pairs
    Py_ssize_t count


cdef void column(Align* al, Py_ssize_t a_lo, Py_ssize_t a_hi, Py_ssize_t b_lo,
                 Py_ssize_t b_hi, bint reverse, int32_t* out) noexcept nogil:
    """out[k] = LCS(a[a_lo:a_hi], b[b_lo:b_lo + k]) for k = 0..m, or with ``reverse``
    LCS(a[a_lo:a_hi], b[b_hi - k:b_hi])."""
    cdef Scratch* sc = &al.sc
    cdef Py_ssize_t m = b_hi - b_lo, n = 0, i, k, words
    cdef uint64_t word
    for k in range(m):
        sc.pattern[k] = al.cb[b_hi - 1 - k] if reverse else al.cb[b_lo + k]
    for i in range(a_hi - a_lo):
        k = a_hi - 1 - i if reverse else a_lo + i
        if al.ca[k] >= 0:
            sc.text[n] = al.ca[k]
            n += 1
    bits_set(&sc.bp, sc.pattern, m)
    bits_run(&sc.bp, sc.text, n, sc.carry, sc.v)
    bits_clear(&sc.bp, sc.pattern, m)
    out[0] = 0
    for k in range(m):
        word = sc.v[k // 64]
        out[k + 1] = out[k] + <int32_t>(((word >> (k % 64)) & 1) ^ 1)


cdef void hirschberg(Align* al, Py_ssize_t a_lo, Py_ssize_t a_hi, Py_ssize_t b_lo,
                     Py_ssize_t b_hi) noexcept nogil:
    """Append an LCS of a[a_lo:a_hi] and b[b_lo:b_hi] to ``al.pairs``."""
    cdef Py_ssize_t n = a_hi - a_lo, m = b_hi - b_lo, i, k, best_k = 0, mid
    cdef int32_t best = -1, total
    if n == 0 or m == 0:
        return
    if n == 1 or m == 1:
        for i in range(a_lo, a_hi):
            for k in range(b_lo, b_hi):
                if al.ca[i] == al.cb[k]:
                    al.pairs[2 * al.count] = i
                    al.pairs[2 * al.count + 1] = k
                    al.count += 1
                    return
        return
    mid = a_lo + n // 2
    column(al, a_lo, mid, b_lo, b_hi, False, al.forward)
    column(al, mid, a_hi, b_lo, b_hi, True, al.backward)
    for k in range(m + 1):
        total = al.forward[k] + al.backward[m - k]
        if total > best:
            best, best_k = total, k
    if best == 0:
        return
    hirschberg(al, a_lo, mid, b_lo, b_lo + best_k)
    hirschberg(al, mid, a_hi, b_lo + best_k, b_hi)


def lcs_align(const int64_t[::1] a, const int64_t[::1] b):
    """An LCS as matched index pairs: int64 array (L, 2) of (i, j), increasing in both.

    Hirschberg: split ``a`` in the middle, join the best split point of ``b`` (the
    first maximising forward + backward LCS), recurse; a side of length one takes
    the first match.
    """
    cdef Py_ssize_t n = a.shape[0], m = b.shape[0]
    cdef Alphabet alpha
    cdef Align al
    cdef int32_t* codes_a = NULL
    cdef int32_t* codes_b = NULL
    cdef int failed = 0
    pairs = np.zeros((min(n, m), 2), dtype=np.int64)
    cdef int64_t[:, ::1] view = pairs
    if n == 0 or m == 0:
        return pairs
    memset(&al, 0, sizeof(Align))
    memset(&alpha, 0, sizeof(Alphabet))
    with nogil:
        codes_a = <int32_t*>malloc(n * sizeof(int32_t))
        codes_b = <int32_t*>malloc(m * sizeof(int32_t))
        al.forward = <int32_t*>malloc((m + 1) * sizeof(int32_t))
        al.backward = <int32_t*>malloc((m + 1) * sizeof(int32_t))
        failed = not (codes_a and codes_b and al.forward and al.backward) \
            or alphabet_build(&alpha, &b[0], m, codes_b) != 0
        if not failed:
            encode(&alpha, &a[0], n, codes_a, True)
            failed = scratch_alloc(&al.sc, m, n, alpha.size) != 0
        if not failed:
            al.ca, al.cb, al.pairs = codes_a, codes_b, &view[0, 0]
            hirschberg(&al, 0, n, 0, m)
        alphabet_free(&alpha)
        scratch_free(&al.sc)
        free(codes_a)
        free(codes_b)
        free(al.forward)
        free(al.backward)
    if failed:
        raise MemoryError("no memory for the LCS alignment")
    return pairs[:al.count]


# -- longest common runs -------------------------------------------------------------------

cdef struct Runs:
    const int32_t* ka      # keys of a: symbol codes, or interval codes (ka[0] = -2)
    const double* ioi_a    # inter-onset intervals of a (NaN first), or NULL
    int32_t* kb            # keys of the current piece (interval codes: kb[0] = -3)
    double* ioi_b
    int32_t* prev
    int32_t* cur
    Py_ssize_t n
    bint transpose
    double tolerance


cdef int32_t run_row(const Runs* r, Py_ssize_t i, Py_ssize_t m) noexcept nogil:
    """cur[j + 1]: the run of matching pairs ending at (i, j), from prev (row i - 1);
    returns the row's maximum."""
    cdef int32_t key = r.ka[i], x, row_max = 0
    cdef const int32_t* kb = r.kb
    cdef const int32_t* prev = r.prev
    cdef int32_t* cur = r.cur + 1
    cdef Py_ssize_t j
    cdef bint start, extend
    if r.ioi_a == NULL and r.transpose:
        for j in range(m):
            x = 1 + (prev[j] & -<int32_t>(kb[j] == key))
            cur[j] = x
            row_max = x if x > row_max else row_max
    elif r.ioi_a == NULL:
        for j in range(m):
            x = (prev[j] + 1) & -<int32_t>(kb[j] == key)
            cur[j] = x
            row_max = x if x > row_max else row_max
    else:
        for j in range(m):
            start = r.transpose or kb[j] == key
            extend = (not r.transpose or kb[j] == key) \
                and fabs(r.ioi_a[i] - r.ioi_b[j]) <= r.tolerance
            x = (1 + (prev[j] if extend else 0)) if start else 0
            cur[j] = x
            row_max = x if x > row_max else row_max
    return row_max


cdef void longest_run(Runs* r, Py_ssize_t m, int64_t* out) noexcept nogil:
    """(length, start in a, start in the piece) of the longest run; the first found
    scanning rows of a, then the piece, wins ties; (0, 0, 0) when none."""
    cdef Py_ssize_t i, j
    cdef int32_t best = 0, row_max
    out[0] = out[1] = out[2] = 0
    memset(r.prev, 0, (m + 1) * sizeof(int32_t))
    r.cur[0] = 0
    for i in range(r.n):
        row_max = run_row(r, i, m)
        if row_max > best:
            best = row_max
            j = 1
            while r.cur[j] != best:
                j += 1
            out[0], out[1], out[2] = best, i - best + 1, j - best
        r.prev, r.cur = r.cur, r.prev


cdef void intervals(const int64_t* x, Py_ssize_t n, int64_t* out) noexcept nogil:
    """out[i] = x[i + 1] - x[i] (wrapping; the callers keep values within +-2**62)."""
    cdef Py_ssize_t i
    for i in range(n - 1):
        out[i] = <int64_t>(<uint64_t>x[i + 1] - <uint64_t>x[i])


cdef void inter_onsets(const double* onsets, Py_ssize_t n, double* out) noexcept nogil:
    cdef Py_ssize_t i
    if n:
        out[0] = NAN
    for i in range(1, n):
        out[i] = onsets[i] - onsets[i - 1]


def common_runs(const int64_t[::1] a, const int64_t[::1] b, const int64_t[::1] starts,
                const int64_t[::1] ends, bint transpose=False,
                const double[::1] onsets_a=None, const double[::1] onsets_b=None,
                double tolerance=0.0):
    """The longest run of matching pairs (i + k, j + k) of ``a`` and each piece
    ``b[starts[p]:ends[p]]``: int64 array (pieces, 3) of (length, i, j), j within the piece.

    Plain: the pairs hold equal symbols (longest common substring). ``transpose``:
    every pair matches on its own and a run extends while the intervals from the
    previous notes are equal (a transposed copy). With onsets a run also extends only
    while the inter-onset intervals differ by at most ``tolerance``. Ties: the run
    ending first in ``a``, then in the piece. (0, 0, 0) when there is none.
    """
    cdef Py_ssize_t n = a.shape[0], pieces = starts.shape[0], p, m, longest = 0, offset
    cdef Alphabet al
    cdef Runs r
    cdef int64_t* keys_a = NULL
    cdef int64_t* keys_b = NULL
    cdef double* ioi_a = NULL
    cdef int32_t* codes_a = NULL
    cdef bint timed = onsets_a is not None
    cdef int failed = 0
    out = np.zeros((pieces, 3), dtype=np.int64)
    cdef int64_t[:, ::1] result = out
    check_pieces(b.shape[0], starts, ends)
    if timed and (onsets_b is None or onsets_a.shape[0] != n
                  or onsets_b.shape[0] != b.shape[0]):
        raise ValueError("onsets_a and onsets_b must both be given, as long as a and b")
    if n == 0:
        return out
    for p in range(pieces):
        longest = max(longest, ends[p] - starts[p])
    memset(&r, 0, sizeof(Runs))
    memset(&al, 0, sizeof(Alphabet))
    with nogil:
        keys_a = <int64_t*>malloc(n * sizeof(int64_t))
        keys_b = <int64_t*>malloc((longest + 1) * sizeof(int64_t))
        codes_a = <int32_t*>malloc(n * sizeof(int32_t))
        r.kb = <int32_t*>malloc((longest + 1) * sizeof(int32_t))
        r.prev = <int32_t*>malloc((longest + 1) * sizeof(int32_t))
        r.cur = <int32_t*>malloc((longest + 1) * sizeof(int32_t))
        if timed:
            ioi_a = <double*>malloc(n * sizeof(double))
            r.ioi_b = <double*>malloc((longest + 1) * sizeof(double))
        failed = not (keys_a and keys_b and codes_a and r.kb and r.prev and r.cur) \
            or (timed and not (ioi_a and r.ioi_b))
        if not failed:
            offset = 1 if transpose else 0
            if transpose:
                intervals(&a[0], n, keys_a)
            else:
                memcpy64(keys_a, &a[0], n)
            failed = alphabet_build(&al, keys_a, n - offset, codes_a + offset) != 0
        if not failed:
            if transpose:
                codes_a[0] = -2
            if timed:
                inter_onsets(&onsets_a[0], n, ioi_a)
            r.ka, r.ioi_a, r.n, r.transpose, r.tolerance = codes_a, ioi_a, n, transpose, \
                tolerance
            for p in range(pieces):
                m = ends[p] - starts[p]
                if m == 0:
                    continue
                if transpose:
                    intervals(&b[0] + starts[p], m, keys_b)
                    r.kb[0] = -3
                    encode(&al, keys_b, m - 1, r.kb + 1, True)
                else:
                    encode(&al, &b[0] + starts[p], m, r.kb, True)
                if timed:
                    inter_onsets(&onsets_b[0] + starts[p], m, r.ioi_b)
                longest_run(&r, m, &result[p, 0])
        alphabet_free(&al)
        free(keys_a)
        free(keys_b)
        free(codes_a)
        free(ioi_a)
        free(r.kb)
        free(r.prev)
        free(r.cur)
        free(r.ioi_b)
    if failed:
        raise MemoryError("no memory for the common runs")
    return out


cdef void memcpy64(int64_t* out, const int64_t* x, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = x[i]


# -- conversion ----------------------------------------------------------------------------

def to_int64(seq):
    """A list or tuple of integers as an int64 array (TypeError for a non-integer,
    OverflowError outside int64)."""
    cdef Py_ssize_t i, n = len(seq)
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] view = out
    cdef list items = seq if type(seq) is list else list(seq)
    for i in range(n):
        view[i] = as_int64(items[i])
    return out


cdef inline int64_t as_int64(object x) except? -1:
    # PyLong_AsLong reads the digits of a multi-digit int directly, PyLong_AsLongLong goes
    # through a byte array (10x slower); use it where long has 64 bits.
    if sizeof(long) == sizeof(int64_t):
        return PyLong_AsLong(x)
    return PyLong_AsLongLong(x)
