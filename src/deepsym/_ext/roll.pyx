"""Piano-roll kernel: write notes into a roll, given in steps or as tick records.

``fill`` takes notes already converted to steps (separate arrays); ``fill_beats`` takes
the notes' NOTE_DTYPE records (as bytes) and converts their ticks to steps on the way,
with ``beat_length`` giving the length of their roll, so that a roll in beats needs no
numpy work per note. Both clear and fill the roll in blocks of ``BLOCK`` (64) steps, in
C without the GIL: each block is zeroed and then written by the notes sounding in it
while it sits in the L1 cache (a roll with pitches along its last axis is written
across cache lines, one per step, so a plain note-by-note pass over a zeroed roll
misses the cache on every cell). ``roll_py.py`` is the plain-numpy twin with the same
API; the tests compare both.
"""
from libc.stdint cimport UINT32_MAX, int32_t, int64_t, uint8_t, uint32_t
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


ctypedef packed struct Record:  # one note of layout.NOTE_DTYPE
    int32_t start
    int32_t duration
    uint8_t pitch
    uint8_t velocity


# What _fill draws: note i covers steps start[i] to end[i] at pitch pitch[i * pitch_stride]
# in track row row[i] (row 0 for all when row is NULL).
cdef struct Notes:
    Py_ssize_t n
    const int32_t* row
    const int64_t* start
    const int64_t* end
    const uint8_t* pitch
    const uint8_t* velocity
    Py_ssize_t pitch_stride
    Py_ssize_t velocity_stride


cdef struct Scale:  # ticks to steps: floor(tick * mul / div)
    int64_t mul
    int64_t div


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
    cdef Notes notes
    notes.n = start.shape[0]
    if end.shape[0] != notes.n or pitch.shape[0] != notes.n or velocity.shape[0] != notes.n or (
            track is not None and track.shape[0] != notes.n):
        raise ValueError("start, end, pitch, velocity (and track) must have the same length")
    _check_mode(out, mode)
    if notes.n == 0:
        return _filled(out, &notes, lowest, mode)
    notes.row = &track[0] if track is not None else NULL
    notes.start, notes.end = &start[0], &end[0]
    notes.pitch, notes.pitch_stride = &pitch[0], pitch.strides[0]
    notes.velocity, notes.velocity_stride = &velocity[0], velocity.strides[0]
    return _filled(out, &notes, lowest, mode)


def fill_beats(uint8_t[:, :, :, ::1] out, const uint8_t[::1] records, counts,
               const int64_t[::1] end, int64_t resolution, int64_t ticks_per_beat, int lowest,
               int mode):
    """``fill`` for notes given as NOTE_DTYPE ``records`` (bytes) in ticks.

    The first ``counts[0]`` notes go to track row 0, the next ``counts[1]`` to row 1 and
    so on (``len(counts)`` rows, as many as ``out`` has). A note covers steps
    ``floor(tick * resolution / ticks_per_beat)`` of its start tick up to that of its
    end tick: start + duration, or ``end[i]`` when ``end`` (int64 ticks) is given.
    Returns what ``fill`` returns.
    """
    cdef Py_ssize_t n = _record_count(records, end), r, i, k = 0, count
    cdef Scale scale = _scale(resolution, ticks_per_beat)
    cdef Notes notes
    cdef int32_t* row
    cdef int64_t* span
    cdef const Record* note
    cdef const int64_t* end_tick
    if len(counts) != out.shape[0] or sum(counts) != n:
        raise ValueError(f"counts must give the notes of each of the {out.shape[0]} track "
                         f"row(s) and add up to the {n} notes")
    _check_mode(out, mode)
    if n == 0:
        notes.n = 0
        return _filled(out, &notes, lowest, mode)
    row = <int32_t*>malloc(n * sizeof(int32_t))
    span = <int64_t*>malloc(2 * n * sizeof(int64_t))
    try:
        if row == NULL or span == NULL:
            raise MemoryError("no memory for the piano-roll's notes")
        for r in range(len(counts)):
            count = counts[r]
            if count < 0:
                raise ValueError(f"counts must not be negative, not {count}")
            for i in range(k, k + count):
                row[i] = r
            k += count
        note = <const Record*>&records[0]
        end_tick = _ticks(end)
        with nogil:
            _beat_spans(note, n, end_tick, scale, span, span + n)
        notes.n, notes.row, notes.start, notes.end = n, row, span, span + n
        notes.pitch, notes.velocity = &note[0].pitch, &note[0].velocity
        notes.pitch_stride = notes.velocity_stride = sizeof(Record)
        return _filled(out, &notes, lowest, mode)
    finally:
        free(row)
        free(span)


def beat_length(const uint8_t[::1] records, const int64_t[::1] end, int64_t resolution,
                int64_t ticks_per_beat):
    """Steps of the roll of ``records`` (as ``fill_beats`` places them): the latest end
    step, at least one past the latest start step; 0 without notes."""
    cdef Py_ssize_t n = _record_count(records, end), i
    cdef Scale scale = _scale(resolution, ticks_per_beat)
    cdef const Record* note
    cdef const int64_t* end_tick = _ticks(end)
    cdef int64_t length = 0
    if n == 0:
        return 0
    note = <const Record*>&records[0]
    with nogil:
        for i in range(n):
            length = max(length, _step(note[i].start, scale) + 1,
                         _step(_end_tick(note, end_tick, i), scale))
    return length


cdef Py_ssize_t _record_count(const uint8_t[::1] records, const int64_t[::1] end) except -1:
    cdef Py_ssize_t n
    if records.shape[0] % sizeof(Record):
        raise ValueError(f"records must be whole NOTE_DTYPE records of {sizeof(Record)} "
                         f"bytes, not {records.shape[0]} bytes")
    n = records.shape[0] // sizeof(Record)
    if end is not None and end.shape[0] != n:
        raise ValueError(f"end must have one tick per note ({n}), not {end.shape[0]}")
    return n


cdef Scale _scale(int64_t resolution, int64_t ticks_per_beat) except *:
    if resolution < 1 or ticks_per_beat < 1:
        raise ValueError("resolution and ticks_per_beat must be positive")
    cdef Scale scale
    if ticks_per_beat % resolution == 0:
        scale.mul, scale.div = 1, ticks_per_beat // resolution
    else:
        scale.mul, scale.div = resolution, ticks_per_beat
    return scale


cdef inline int64_t _step(int64_t tick, Scale scale) noexcept nogil:
    """``floor(tick * mul / div)`` with numpy's int64 arithmetic (32-bit division when
    it fits: the common case, and several times faster)."""
    cdef int64_t a = tick * scale.mul
    cdef int64_t q
    if 0 <= a <= UINT32_MAX and scale.div <= UINT32_MAX:
        return <uint32_t>a // <uint32_t>scale.div
    q = a // scale.div
    return q - 1 if a % scale.div != 0 and a < 0 else q


cdef inline const int64_t* _ticks(const int64_t[::1] ticks):
    """The array's data, or NULL for None or an empty array."""
    return &ticks[0] if ticks is not None and ticks.shape[0] else NULL


cdef inline int64_t _end_tick(const Record* note, const int64_t* end, Py_ssize_t i) noexcept nogil:
    """Note ``i``'s end tick: ``end[i]``, or start + duration without ``end``."""
    return end[i] if end != NULL else <int64_t>note[i].start + note[i].duration


cdef void _beat_spans(const Record* note, Py_ssize_t n, const int64_t* end, Scale scale,
                      int64_t* start_step, int64_t* end_step) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        start_step[i] = _step(note[i].start, scale)
        end_step[i] = _step(_end_tick(note, end, i), scale)


cdef int _check_mode(uint8_t[:, :, :, ::1] out, int mode) except -1:
    if mode not in (BINARY, VELOCITY, ONSET_SUSTAIN):
        raise ValueError(f"unknown mode {mode}")
    if out.shape[3] != (2 if mode == ONSET_SUSTAIN else 1):
        raise ValueError(f"mode {mode} needs {2 if mode == ONSET_SUSTAIN else 1} channel(s), "
                         f"not {out.shape[3]}")
    return 0


cdef Py_ssize_t _filled(uint8_t[:, :, :, ::1] out, Notes* notes, int lowest, int mode) except? -1:
    """``_fill`` without the GIL; its result, or MemoryError."""
    cdef Py_ssize_t result
    with nogil:
        result = _fill(out, notes, lowest, mode)
    if result == -(notes.n + 1):
        raise MemoryError("no memory for the piano-roll's note index")
    return result


cdef Py_ssize_t _fill(uint8_t[:, :, :, ::1] out, Notes* notes, int lowest,
                      int mode) noexcept nogil:
    """Check every note, sort the drawable ones by (row, first block), fill block by block."""
    cdef Py_ssize_t n = notes.n
    cdef Py_ssize_t rows = out.shape[0], steps = out.shape[1], columns = out.shape[2]
    cdef Py_ssize_t blocks = (steps + BLOCK_STEPS - 1) >> BLOCK_SHIFT
    cdef Py_ssize_t i, k, row, skipped = 0, drawn = 0
    cdef Py_ssize_t* first
    cdef Py_ssize_t* order
    cdef Py_ssize_t* active
    for i in range(n):
        row = _row(notes, i)
        if notes.start[i] < 0 or notes.end[i] < notes.start[i] or row < 0 or row >= rows:
            return -(i + 1)
        if not 0 <= _column(notes, i, lowest) < columns:
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
        if _drawn(notes, i, steps, lowest, columns):
            first[_key(notes, i, blocks) + 1] += 1
    for k in range(rows * blocks):
        first[k + 1] += first[k]
    for i in range(n):
        if _drawn(notes, i, steps, lowest, columns):
            k = _key(notes, i, blocks)
            order[first[k]] = i
            first[k] += 1
    # first[k] is now where key k ends: key k's notes are order[first[k - 1]:first[k]]
    for row in range(rows):
        drawn = 0
        for k in range(blocks):
            _block(out, row, k, notes, lowest, mode, order,
                   first[row * blocks + k - 1] if row * blocks + k > 0 else 0,
                   first[row * blocks + k], active, &drawn)
    free(first)
    free(order)
    free(active)
    return skipped


cdef inline Py_ssize_t _row(Notes* notes, Py_ssize_t i) noexcept nogil:
    return notes.row[i] if notes.row != NULL else 0


cdef inline Py_ssize_t _column(Notes* notes, Py_ssize_t i, int lowest) noexcept nogil:
    return <Py_ssize_t>notes.pitch[i * notes.pitch_stride] - lowest


cdef inline bint _drawn(Notes* notes, Py_ssize_t i, Py_ssize_t steps, int lowest,
                        Py_ssize_t columns) noexcept nogil:
    return notes.start[i] < steps and 0 <= _column(notes, i, lowest) < columns


cdef inline Py_ssize_t _key(Notes* notes, Py_ssize_t i, Py_ssize_t blocks) noexcept nogil:
    return _row(notes, i) * blocks + (notes.start[i] >> BLOCK_SHIFT)


cdef void _block(uint8_t[:, :, :, ::1] out, Py_ssize_t row, Py_ssize_t k, Notes* notes,
                 int lowest, int mode, Py_ssize_t* order, Py_ssize_t begin, Py_ssize_t stop,
                 Py_ssize_t* active, Py_ssize_t* n_active) noexcept nogil:
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
        s = max(<Py_ssize_t>notes.start[i], low)
        e = min(<Py_ssize_t>notes.end[i], high)
        cell = &out[row, s, _column(notes, i, lowest), 0]
        if mode == M_BINARY:
            for t in range(e - s):
                cell[t * stride] = 1
        elif mode == M_VELOCITY:
            v = notes.velocity[i * notes.velocity_stride]
            for t in range(e - s):
                cell[t * stride] = max(cell[t * stride], v)
        else:
            if notes.start[i] >= low:
                cell[0] = 1
            for t in range(e - s):
                cell[t * stride + 1] = 1
        if notes.end[i] > high:
            active[kept] = i
            kept += 1
    n_active[0] = kept
