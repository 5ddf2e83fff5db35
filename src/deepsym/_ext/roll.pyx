"""Piano-roll kernel: write notes, already converted to steps, into a roll.

``fill`` clears and fills the roll in blocks of ``BLOCK`` (64) steps, in C without the GIL:
each block is zeroed and then written by the notes sounding in it while it sits in
the L1 cache (a roll with pitches along its last axis is written across cache lines,
one per step, so a plain note-by-note pass over a zeroed roll misses the cache on
every cell). ``roll_py.py`` is the plain-numpy twin with the same API; the tests
compare both.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

cdef enum:
    M_BINARY = 0
    M_VELOCITY = 1
    M_ONSET_SUSTAIN = 2
    BLOCK_SHIFT = 6  # blocks of 64 steps: 16 KiB of an 88- or 128-key roll
    BLOCK_STEPS = 1 << BLOCK_SHIFT

BINARY = M_BINARY
VELOCITY = M_VELOCITY
ONSET_SUSTAIN = M_ONSET_SUSTAIN
BLOCK = BLOCK_STEPS


def fill(uint8_t[:, :, :, ::1] out, const int32_t[::1] track, const int64_t[::1] start,
         const int64_t[::1] end, const uint8_t[:] pitch, const uint8_t[:] velocity,
         int lowest, int mode):
    """Fill ``out``, of shape (tracks, steps, pitches, channels), with the notes.

    Every cell is written: 0 where no note sounds, whatever ``out`` held before.
    Note ``i`` covers steps ``start[i]`` to ``end[i]`` (exclusive, cut at the roll's
    end) at column ``pitch[i] - lowest`` of track row ``track[i]`` (row 0 for all when
    ``track`` is None). ``mode`` BINARY writes 1; VELOCITY keeps the largest velocity
    of the notes covering a cell; ONSET_SUSTAIN writes 1 at the onset step in channel
    0 (also for a note that covers no step) and 1 on the covered steps in channel 1.

    Returns the number of notes skipped because their pitch lies outside the roll's
    columns, or ``-(i + 1)`` for the first note ``i`` that starts before step 0, ends
    before it starts or names a track row outside ``out`` (then ``out`` is untouched).
    """
    cdef Py_ssize_t n = start.shape[0], result
    cdef bint by_track = track is not None
    if end.shape[0] != n or pitch.shape[0] != n or velocity.shape[0] != n or (
            by_track and track.shape[0] != n):
        raise ValueError("start, end, pitch, velocity (and track) must have the same length")
    if mode == ONSET_SUSTAIN and out.shape[3] != 2 or mode != ONSET_SUSTAIN and out.shape[3] != 1:
        raise ValueError(f"mode {mode} needs {2 if mode == ONSET_SUSTAIN else 1} channel(s), "
                         f"not {out.shape[3]}")
    if mode not in (BINARY, VELOCITY, ONSET_SUSTAIN):
        raise ValueError(f"unknown mode {mode}")
    with nogil:
        result = _fill(out, track, by_track, start, end, pitch, velocity, lowest, mode)
    if result == -(n + 1):
        raise MemoryError("no memory for the piano-roll's note index")
    return result


cdef Py_ssize_t _fill(uint8_t[:, :, :, ::1] out, const int32_t[::1] track, bint by_track,
                      const int64_t[::1] start, const int64_t[::1] end, const uint8_t[:] pitch,
                      const uint8_t[:] velocity, int lowest, int mode) noexcept nogil:
    """Check every note, sort the drawable ones by (row, first block), fill block by block."""
    cdef Py_ssize_t n = start.shape[0]
    cdef Py_ssize_t rows = out.shape[0], steps = out.shape[1], columns = out.shape[2]
    cdef Py_ssize_t blocks = (steps + BLOCK_STEPS - 1) >> BLOCK_SHIFT
    cdef Py_ssize_t i, k, row = 0, skipped = 0, drawn = 0
    cdef Py_ssize_t* first
    cdef Py_ssize_t* order
    cdef Py_ssize_t* active
    for i in range(n):
        if by_track:
            row = track[i]
        if start[i] < 0 or end[i] < start[i] or row < 0 or row >= rows:
            return -(i + 1)
        if not 0 <= <Py_ssize_t>pitch[i] - lowest < columns:
            skipped += 1
    # counting sort of the notes that start inside the roll by key = row * blocks + block
    first = <Py_ssize_t*>malloc((rows * blocks + 1) * sizeof(Py_ssize_t))
    order = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    active = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    if first == NULL or order == NULL or active == NULL:
        free(first)
        free(order)
        free(active)
        return -(n + 1)
    memset(first, 0, (rows * blocks + 1) * sizeof(Py_ssize_t))
    for i in range(n):
        if _drawn(start[i], steps, pitch[i], lowest, columns):
            first[_key(track, by_track, i, start[i], blocks) + 1] += 1
    for k in range(rows * blocks):
        first[k + 1] += first[k]
    for i in range(n):
        if _drawn(start[i], steps, pitch[i], lowest, columns):
            k = _key(track, by_track, i, start[i], blocks)
            order[first[k]] = i
            first[k] += 1
    # first[k] is now where key k ends: key k's notes are order[first[k - 1]:first[k]]
    for row in range(rows):
        drawn = 0
        for k in range(blocks):
            _block(out, row, k, start, end, pitch, velocity, lowest, mode, order,
                   first[row * blocks + k - 1] if row * blocks + k > 0 else 0,
                   first[row * blocks + k], active, &drawn)
    free(first)
    free(order)
    free(active)
    return skipped


cdef inline bint _drawn(int64_t s, Py_ssize_t steps, uint8_t pitch, int lowest,
                        Py_ssize_t columns) noexcept nogil:
    return s < steps and 0 <= <Py_ssize_t>pitch - lowest < columns


cdef inline Py_ssize_t _key(const int32_t[::1] track, bint by_track, Py_ssize_t i, int64_t s,
                            Py_ssize_t blocks) noexcept nogil:
    return (track[i] * blocks if by_track else 0) + (s >> BLOCK_SHIFT)


cdef void _block(uint8_t[:, :, :, ::1] out, Py_ssize_t row, Py_ssize_t k,
                 const int64_t[::1] start, const int64_t[::1] end, const uint8_t[:] pitch,
                 const uint8_t[:] velocity, int lowest, int mode, Py_ssize_t* order,
                 Py_ssize_t begin, Py_ssize_t stop, Py_ssize_t* active,
                 Py_ssize_t* n_active) noexcept nogil:
    """Zero block ``k`` of ``row``, add the notes starting in it to ``active``, draw every
    active note's part inside the block, and keep those that go on past it."""
    cdef Py_ssize_t stride = out.strides[1]
    cdef Py_ssize_t low = k << BLOCK_SHIFT
    cdef Py_ssize_t high = min(low + BLOCK_STEPS, out.shape[1])
    cdef Py_ssize_t i, j, t, s, e, kept = 0
    cdef uint8_t v
    cdef uint8_t* cell
    memset(&out[row, low, 0, 0], 0, (high - low) * stride)
    for j in range(begin, stop):
        active[n_active[0]] = order[j]
        n_active[0] += 1
    for j in range(n_active[0]):
        i = active[j]
        s = max(<Py_ssize_t>start[i], low)
        e = min(<Py_ssize_t>end[i], high)
        cell = &out[row, s, <Py_ssize_t>pitch[i] - lowest, 0]
        if mode == M_BINARY:
            for t in range(e - s):
                cell[t * stride] = 1
        elif mode == M_VELOCITY:
            v = velocity[i]
            for t in range(e - s):
                if cell[t * stride] < v:
                    cell[t * stride] = v
        else:
            if start[i] >= low:
                cell[0] = 1
            for t in range(e - s):
                cell[t * stride + 1] = 1
        if end[i] > high:
            active[kept] = i
            kept += 1
    n_active[0] = kept
