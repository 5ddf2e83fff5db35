"""Standard MIDI File writing kernel: a Score's arrays to the bytes of a whole file.

``encode_file`` checks what a file cannot hold, orders each chunk's events and encodes
them in C, with no Python object per event. Events at one tick of a chunk come in this
order: meta events (tempos, time signatures, key signatures, texts, lyrics, markers,
then the track's name and instrument), note-offs, the program change, controls, pitch
bends, note-ons (a zero-length note's off right after its on), End of Track. A note-off
is a note-on of velocity 0, so that channel messages can share running status; meta
events cancel it. A gap longer than one delta time (2**28 - 1 ticks) is bridged by
filler events ``FF 7F 01 7D`` (sequencer-specific, non-commercial ID), which readers
ignore. Texts are written as UTF-8: bytes that are valid UTF-8 as they are, others read
as Latin-1 (as ``deepsym.score.decode_texts`` reads them). ``smfwrite_py.py`` is the
plain-Python twin; the tests compare both.

Ordering: every event gets a 64-bit key, tick (31 bits), kind (4 bits), sequence
(29 bits), written in sequence order within each kind, and the keys are sorted: by
insertion for short chunks, by merging their ascending runs (note-ons, note-offs,
controls...: each already in order in a typical track), else by a radix sort.
"""
from cpython.buffer cimport PyBUF_ND, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.math cimport rint
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy, memset

import numpy as np

from deepsym._ext.layout import (
    BEND_DTYPE,
    CONTROL_DTYPE,
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Unwritable,
)

from deepsym._ext.records cimport BendT, ControlT, KeySigT, NoteT, TempoT, TimeSigT

cdef enum:
    MAX_TICK = 2147483647
    MAX_DELTA = 0x0FFFFFFF
    MAX_SEQUENCE = 1 << 28   # events of one kind in a chunk (a note takes two sequence numbers)
    SEQUENCE_BITS = 29
    KIND_SHIFT = 29
    TICK_SHIFT = 33
    SMALL = 32               # chunks of up to this many events are sorted by insertion
    MAX_RUNS = 32            # more ascending runs than this are sorted by radix
    NO_MEMORY = -1
    # event kinds, in their order at one tick
    META = 0
    NOTE_OFF = 1
    PROGRAM = 2
    CONTROL = 3
    BEND = 4
    NOTE_ON = 5
    END_OF_TRACK = 9
    # meta event types
    TEXT = 0x01
    TRACK_NAME = 0x03
    INSTRUMENT = 0x04
    LYRIC = 0x05
    MARKER = 0x06
    # refusals (deepsym._ext.layout.Unwritable)
    U_TEMPO = 1
    U_TIME_SIGNATURE = 2
    U_KEY_SIGNATURE = 3
    U_CONDUCTOR_TICK = 4
    U_CHANNEL = 5
    U_NOTE = 6
    U_CONTROL = 7
    U_EVENT_TICK = 8
    U_TOO_MANY = 9
    U_END = 10
    U_CHUNK_SIZE = 11
    U_META_SIZE = 12

assert U_META_SIZE == Unwritable.META_SIZE and len(Unwritable) == U_META_SIZE

cdef uint64_t SEQUENCE_MASK = (<uint64_t> 1 << SEQUENCE_BITS) - 1


cdef struct Conductor:
    const TempoT* tempos
    Py_ssize_t n_tempos
    const TimeSigT* timesigs
    Py_ssize_t n_timesigs
    const KeySigT* keysigs
    Py_ssize_t n_keysigs
    const int64_t* text_rows     # meta type, tick, byte length
    Py_ssize_t n_texts
    const uint8_t* text_data
    int64_t* text_order          # the rows by type (texts, lyrics, markers), then by row
    int64_t* text_offset         # where each row's bytes start in text_data
    int64_t* text_size           # each row's size in UTF-8: its length when valid UTF-8
    int64_t text_total           # the sum of text_size


cdef struct Part:
    const NoteT* notes
    Py_ssize_t n_notes
    const ControlT* controls
    Py_ssize_t n_controls
    const BendT* bends
    Py_ssize_t n_bends
    int64_t channel
    int64_t program
    const uint8_t* name
    Py_ssize_t name_size
    const uint8_t* instrument
    Py_ssize_t instrument_size


cdef struct Out:
    uint8_t* data
    Py_ssize_t size
    Py_ssize_t cap


cdef struct Refusal:
    int code
    Py_ssize_t track
    int64_t value                # the end (U_END) or a meta event's size (U_META_SIZE)


# -- checks -----------------------------------------------------------------------------

cdef inline bint bad_tempo(double qpm) noexcept nogil:
    cdef double usec = rint(60e6 / qpm)
    return not (1 <= usec <= 0xFFFFFF)


cdef int check_conductor(const Conductor* c, int64_t* size, int64_t* last) noexcept nogil:
    """The first refusal the tempo map, signatures and texts earn (0 when none); a text
    too long for a meta event sets ``size``. Raises ``last`` to their last tick."""
    cdef Py_ssize_t i
    cdef int den
    cdef int64_t first = 0
    for i in range(c.n_tempos):
        if bad_tempo(c.tempos[i].qpm):
            return U_TEMPO
        first, last[0] = min(first, c.tempos[i].tick), max(last[0], c.tempos[i].tick)
    for i in range(c.n_timesigs):
        den = c.timesigs[i].denominator
        if den == 0 or den & (den - 1) or c.timesigs[i].numerator == 0:
            return U_TIME_SIGNATURE
        first, last[0] = min(first, c.timesigs[i].tick), max(last[0], c.timesigs[i].tick)
    for i in range(c.n_keysigs):
        if not -7 <= c.keysigs[i].key <= 7 or c.keysigs[i].mode > 1:
            return U_KEY_SIGNATURE
        first, last[0] = min(first, c.keysigs[i].tick), max(last[0], c.keysigs[i].tick)
    for i in range(c.n_texts):
        first = min(first, c.text_rows[3 * i + 1])
        last[0] = max(last[0], c.text_rows[3 * i + 1])
    if first < 0:
        return U_CONDUCTOR_TICK
    for i in range(c.n_texts):
        if c.text_size[i] > MAX_DELTA:
            size[0] = c.text_size[i]
            return U_META_SIZE
    if c.n_tempos + c.n_timesigs + c.n_keysigs + c.n_texts + 2 >= MAX_SEQUENCE:
        return U_TOO_MANY
    return 0


cdef int check_part(const Part* p, int64_t* size, int64_t* last) noexcept nogil:
    """The first refusal one track earns (0 when none); a name too long for a meta
    event sets ``size``. Raises ``last`` to its last event or note end."""
    cdef Py_ssize_t i
    cdef int64_t first = 0
    if not (0 <= p.channel <= 15 and 0 <= p.program <= 127):
        return U_CHANNEL
    if max(p.name_size, p.instrument_size) > MAX_DELTA:
        size[0] = max(p.name_size, p.instrument_size)
        return U_META_SIZE
    for i in range(p.n_notes):
        if (p.notes[i].pitch > 127 or not 1 <= p.notes[i].velocity <= 127
                or p.notes[i].start < 0 or p.notes[i].duration < 0):
            return U_NOTE
        last[0] = max(last[0], <int64_t> p.notes[i].start + p.notes[i].duration)
    for i in range(p.n_controls):
        if p.controls[i].number > 127 or p.controls[i].value > 127:
            return U_CONTROL
        first, last[0] = min(first, p.controls[i].tick), max(last[0], p.controls[i].tick)
    for i in range(p.n_bends):
        if not -8192 <= p.bends[i].value <= 8191:
            return U_CONTROL
        first, last[0] = min(first, p.bends[i].tick), max(last[0], p.bends[i].tick)
    if first < 0:
        return U_EVENT_TICK
    if max(p.n_notes, p.n_controls, p.n_bends) >= MAX_SEQUENCE:
        return U_TOO_MANY
    return 0


cdef Refusal check(const Conductor* c, const Part* parts, Py_ssize_t n_parts,
                   int64_t* end) noexcept nogil:
    """The first refusal in the order of ``Unwritable`` (code 0 when none); raise ``end``
    to the last tick of any event or note end."""
    cdef Refusal refusal
    refusal.track = refusal.value = 0
    refusal.code = check_conductor(c, &refusal.value, end)
    while refusal.code == 0 and refusal.track < n_parts:
        refusal.code = check_part(&parts[refusal.track], &refusal.value, end)
        refusal.track += refusal.code == 0
    if refusal.code == 0 and end[0] > MAX_TICK:
        refusal.code, refusal.value = U_END, end[0]
    return refusal


# -- ordering ---------------------------------------------------------------------------

cdef inline uint64_t key(int64_t tick, uint64_t kind, uint64_t sequence) noexcept nogil:
    return (<uint64_t> tick << TICK_SHIFT) | (kind << KIND_SHIFT) | sequence


cdef int utf8_sequence(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    """The length of the well-formed UTF-8 sequence ``s`` starts with (0 when none):
    the table of well-formed byte sequences of the Unicode standard (3-7), which Python's
    strict decoder follows too."""
    cdef uint8_t b = s[0], low = 0x80, high = 0xBF
    cdef int length, k
    if b < 0x80:
        return 1
    if 0xC2 <= b <= 0xDF:
        length = 2
    elif 0xE0 <= b <= 0xEF:
        length = 3
        low = 0xA0 if b == 0xE0 else 0x80
        high = 0x9F if b == 0xED else 0xBF
    elif 0xF0 <= b <= 0xF4:
        length = 4
        low = 0x90 if b == 0xF0 else 0x80
        high = 0x8F if b == 0xF4 else 0xBF
    else:
        return 0
    if n < length or not low <= s[1] <= high:
        return 0
    for k in range(2, length):
        if not 0x80 <= s[k] <= 0xBF:
            return 0
    return length


cdef int64_t utf8_size(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    """The size of ``s`` as UTF-8: ``n`` when it is valid UTF-8, else its size read as
    Latin-1 (two bytes for each byte from 0x80)."""
    cdef Py_ssize_t i = 0, high = 0
    cdef int length
    while i < n:
        length = utf8_sequence(s + i, n - i)
        if length == 0:
            for i in range(n):
                high += s[i] >= 0x80
            return n + high
        i += length
    return n


cdef void order_texts(Conductor* c) noexcept nogil:
    """Fill ``text_order`` (texts, then lyrics, then markers; each in row order),
    ``text_offset`` and ``text_size``."""
    cdef Py_ssize_t i, k = 0
    cdef int64_t offset = 0
    cdef int g
    cdef int[3] types = [TEXT, LYRIC, MARKER]
    for g in range(3):
        for i in range(c.n_texts):
            if c.text_rows[3 * i] == types[g]:
                c.text_order[k] = i
                k += 1
    for i in range(c.n_texts):
        c.text_offset[i] = offset
        c.text_size[i] = utf8_size(c.text_data + offset, c.text_rows[3 * i + 2])
        c.text_total += c.text_size[i]
        offset += c.text_rows[3 * i + 2]


cdef Py_ssize_t conductor_keys(const Conductor* c, uint64_t* keys) noexcept nogil:
    """Keys of the tempo map, signatures and texts, numbered in that order."""
    cdef Py_ssize_t i, m = 0
    for i in range(c.n_tempos):
        keys[m] = key(c.tempos[i].tick, META, m)
        m += 1
    for i in range(c.n_timesigs):
        keys[m] = key(c.timesigs[i].tick, META, m)
        m += 1
    for i in range(c.n_keysigs):
        keys[m] = key(c.keysigs[i].tick, META, m)
        m += 1
    for i in range(c.n_texts):
        keys[m] = key(c.text_rows[3 * c.text_order[i] + 1], META, m)
        m += 1
    return m


cdef Py_ssize_t part_keys(const Part* p, uint64_t names, uint64_t* keys) noexcept nogil:
    """Keys of one track's names (numbered from ``names``) and channel messages."""
    cdef Py_ssize_t i, m = 0
    cdef int64_t start, duration
    if p.name_size:
        keys[m] = key(0, META, names)
        m += 1
    if p.instrument_size:
        keys[m] = key(0, META, names + 1)
        m += 1
    for i in range(p.n_notes):
        start, duration = p.notes[i].start, p.notes[i].duration
        keys[m] = key(start, NOTE_ON, 2 * i)
        m += 1
        if duration == 0:
            keys[m] = key(start, NOTE_ON, 2 * i + 1)
            m += 1
    for i in range(p.n_notes):
        if p.notes[i].duration:
            keys[m] = key(<int64_t> p.notes[i].start + p.notes[i].duration, NOTE_OFF, i)
            m += 1
    keys[m] = key(0, PROGRAM, 0)
    m += 1
    for i in range(p.n_controls):
        keys[m] = key(p.controls[i].tick, CONTROL, i)
        m += 1
    for i in range(p.n_bends):
        keys[m] = key(p.bends[i].tick, BEND, i)
        m += 1
    return m


cdef void insertion_sort(uint64_t* keys, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef uint64_t v
    for i in range(1, n):
        v = keys[i]
        j = i
        while j > 0 and keys[j - 1] > v:
            keys[j] = keys[j - 1]
            j -= 1
        keys[j] = v


cdef void merge(uint64_t* out, const uint64_t* a, Py_ssize_t na, const uint64_t* b,
                Py_ssize_t nb) noexcept nogil:
    """Merge the ascending runs ``a`` and ``b`` into ``out`` (without branching on
    which run gives the next key, as note-ons and note-offs alternate unpredictably)."""
    cdef Py_ssize_t i = 0, j = 0, k = 0
    cdef uint64_t x, y
    cdef bint take_b
    while i < na and j < nb:
        x, y = a[i], b[j]
        take_b = y < x
        out[k] = y if take_b else x
        j += take_b
        i += not take_b
        k += 1
    memcpy(out + k, a + i, (na - i) * sizeof(uint64_t))
    memcpy(out + k + na - i, b + j, (nb - j) * sizeof(uint64_t))


cdef bint merge_runs(uint64_t* keys, uint64_t* spare, Py_ssize_t n) noexcept nogil:
    """Sort ``keys`` made of at most MAX_RUNS ascending runs (note-ons, note-offs,
    controls...) by merging the two adjacent runs shortest together until one is left;
    False, leaving ``keys`` as they were, when there are more runs."""
    cdef Py_ssize_t starts[MAX_RUNS + 1]
    cdef Py_ssize_t runs = 1, i, best, a, b, c
    starts[0] = 0
    for i in range(1, n):
        if keys[i] < keys[i - 1]:
            if runs == MAX_RUNS:
                return False
            starts[runs] = i
            runs += 1
    starts[runs] = n
    while runs > 1:
        best = 0
        for i in range(1, runs - 1):
            if starts[i + 2] - starts[i] < starts[best + 2] - starts[best]:
                best = i
        a, b, c = starts[best], starts[best + 1], starts[best + 2]
        memcpy(spare, keys + a, (c - a) * sizeof(uint64_t))
        merge(keys + a, spare, b - a, spare + b - a, c - b)
        for i in range(best + 1, runs):
            starts[i] = starts[i + 1]
        runs -= 1
    return True


cdef void radix_sort(uint64_t* keys, uint64_t* spare, Py_ssize_t n) noexcept nogil:
    """Sort ``keys`` by tick and kind, stably: a least-significant-digit radix sort of
    their bits from KIND_SHIFT up, in bytes, skipping the bytes all keys share."""
    cdef Py_ssize_t i, j, d, total
    cdef uint64_t* src = keys
    cdef uint64_t* dst = spare
    cdef Py_ssize_t count[5][256]
    cdef int shifts[5]
    cdef int digits = 0
    cdef uint64_t differ = 0
    for i in range(n):
        differ |= keys[i] ^ keys[0]
    for d in range(5):
        if (differ >> (KIND_SHIFT + 8 * d)) & 0xFF:
            shifts[digits] = KIND_SHIFT + 8 * d
            digits += 1
    memset(count, 0, digits * sizeof(count[0]))
    for i in range(n):
        for d in range(digits):
            count[d][(keys[i] >> shifts[d]) & 0xFF] += 1
    for d in range(digits):
        total = 0
        for j in range(256):
            total, count[d][j] = total + count[d][j], total
        for i in range(n):
            j = (src[i] >> shifts[d]) & 0xFF
            dst[count[d][j]] = src[i]
            count[d][j] += 1
        src, dst = dst, src
    if src != keys:
        memcpy(keys, src, n * sizeof(uint64_t))


cdef void sort_keys(uint64_t* keys, uint64_t* spare, Py_ssize_t n) noexcept nogil:
    """Sort ``keys`` ascending. They are distinct and, within one tick and kind, already
    in order (they are written in sequence order), so a stable sort by tick and kind
    alone (the radix sort) gives the same order as sorting whole keys."""
    if n <= SMALL:
        insertion_sort(keys, n)
    elif not merge_runs(keys, spare, n):
        radix_sort(keys, spare, n)


# -- encoding ---------------------------------------------------------------------------

cdef inline bint reserve(Out* out, Py_ssize_t extra) noexcept nogil:
    """Room for ``extra`` more bytes; False without memory."""
    cdef Py_ssize_t cap = out.cap if out.cap else 4096
    cdef uint8_t* data
    if out.size + extra <= out.cap:
        return True
    while out.size + extra > cap:
        cap *= 2
    data = <uint8_t*> realloc(out.data, cap)
    if data == NULL:
        return False
    out.data = data
    out.cap = cap
    return True


cdef inline void put(Out* out, uint8_t byte) noexcept nogil:
    out.data[out.size] = byte
    out.size += 1


cdef inline void put_vlq(Out* out, int64_t value) noexcept nogil:
    """``value`` (0 to 2**28 - 1) as a variable-length quantity."""
    cdef int shift = 21
    while shift > 0 and (value >> shift) == 0:
        shift -= 7
    while shift > 0:
        put(out, 0x80 | ((value >> shift) & 0x7F))
        shift -= 7
    put(out, value & 0x7F)


cdef inline void put_meta(Out* out, uint8_t mtype, const uint8_t* data,
                          Py_ssize_t size) noexcept nogil:
    put(out, 0xFF)
    put(out, mtype)
    put_vlq(out, size)
    memcpy(out.data + out.size, data, size)
    out.size += size


cdef void put_text(Out* out, uint8_t mtype, const uint8_t* data, Py_ssize_t n,
                   int64_t size) noexcept nogil:
    """A text meta event, its bytes as they are when valid UTF-8, else from Latin-1."""
    cdef Py_ssize_t i
    if size == n:
        put_meta(out, mtype, data, n)
        return
    put(out, 0xFF)
    put(out, mtype)
    put_vlq(out, size)
    for i in range(n):
        if data[i] < 0x80:
            put(out, data[i])
        else:
            put(out, 0xC0 | (data[i] >> 6))
            put(out, 0x80 | (data[i] & 0x3F))


cdef void put_conductor_meta(Out* out, const Conductor* c, Py_ssize_t s) noexcept nogil:
    """Meta event number ``s`` of the tempo map, signatures and texts."""
    cdef uint8_t body[4]
    cdef int64_t usec, row
    if s < c.n_tempos:
        usec = <int64_t> rint(60e6 / c.tempos[s].qpm)
        body[0], body[1], body[2] = (usec >> 16) & 0xFF, (usec >> 8) & 0xFF, usec & 0xFF
        put_meta(out, 0x51, body, 3)
        return
    s -= c.n_tempos
    if s < c.n_timesigs:
        body[0] = c.timesigs[s].numerator
        body[1] = 0
        while (1 << body[1]) < c.timesigs[s].denominator:
            body[1] += 1
        body[2], body[3] = 24, 8
        put_meta(out, 0x58, body, 4)
        return
    s -= c.n_timesigs
    if s < c.n_keysigs:
        body[0], body[1] = <uint8_t> c.keysigs[s].key, c.keysigs[s].mode
        put_meta(out, 0x59, body, 2)
        return
    row = c.text_order[s - c.n_keysigs]
    put_text(out, <uint8_t> c.text_rows[3 * row], c.text_data + c.text_offset[row],
             c.text_rows[3 * row + 2], c.text_size[row])


cdef Py_ssize_t chunk_bound(const Conductor* c, bint conductor, const Part* p,
                            Py_ssize_t m) noexcept nogil:
    """An upper bound on the bytes of a chunk of ``m`` events: its header; per event a
    delta time (4) and a channel message (3) or a meta event's type and length (6)
    with a fixed body (at most 4) or a text; at most 8 fillers of 8 bytes (ticks end
    before 2**31)."""
    cdef Py_ssize_t bound = 8 + 14 * m + 64
    if conductor:
        bound += c.text_total
    if p != NULL:
        bound += p.name_size + p.instrument_size
    return bound


cdef int put_chunk(Out* out, const Conductor* c, bint conductor, const Part* p,
                   int64_t end, uint64_t* keys, uint64_t* spare) noexcept nogil:
    """One MTrk chunk: the tempo map, signatures and texts when ``conductor``, the
    events of track ``p`` unless it is NULL; 0, NO_MEMORY or U_CHUNK_SIZE."""
    cdef uint64_t names = c.n_tempos + c.n_timesigs + c.n_keysigs + c.n_texts
    cdef Py_ssize_t m = 0, j, s, start
    cdef uint64_t k
    cdef int64_t tick, delta, prev = 0, length
    cdef int kind, running = 0, status, d1, d2
    cdef const NoteT* note
    if conductor:
        m = conductor_keys(c, keys)
    if p != NULL:
        m += part_keys(p, names, keys + m)
    keys[m] = key(end, END_OF_TRACK, 0)
    m += 1
    sort_keys(keys, spare, m)
    if not reserve(out, chunk_bound(c, conductor, p, m)):
        return NO_MEMORY
    memcpy(out.data + out.size, b"MTrk", 4)
    out.size += 8
    start = out.size
    for j in range(m):
        k = keys[j]
        tick, kind, s = k >> TICK_SHIFT, (k >> KIND_SHIFT) & 0xF, k & SEQUENCE_MASK
        delta = tick - prev
        prev = tick
        if delta > MAX_DELTA:  # more than one delta time holds: fillers first
            while delta > MAX_DELTA:
                put_vlq(out, MAX_DELTA)
                memcpy(out.data + out.size, b"\xff\x7f\x01\x7d", 4)
                out.size += 4
                delta -= MAX_DELTA
            running = 0
        put_vlq(out, delta)
        if kind == META or kind == END_OF_TRACK:
            running = 0
            if kind == END_OF_TRACK:
                put_meta(out, 0x2F, NULL, 0)
            elif p != NULL and s == <Py_ssize_t> names:
                put_meta(out, TRACK_NAME, p.name, p.name_size)
            elif p != NULL and s == <Py_ssize_t> names + 1:
                put_meta(out, INSTRUMENT, p.instrument, p.instrument_size)
            else:
                put_conductor_meta(out, c, s)
            continue
        d2 = -1
        if kind == NOTE_ON or kind == NOTE_OFF:
            note = &p.notes[s >> 1 if kind == NOTE_ON else s]
            status, d1 = 0x90 | p.channel, note.pitch
            d2 = note.velocity if kind == NOTE_ON and s % 2 == 0 else 0
        elif kind == PROGRAM:
            status, d1 = 0xC0 | p.channel, p.program
        elif kind == CONTROL:
            status, d1, d2 = 0xB0 | p.channel, p.controls[s].number, p.controls[s].value
        else:
            status = 0xE0 | p.channel
            d1, d2 = (p.bends[s].value + 8192) & 0x7F, (p.bends[s].value + 8192) >> 7
        if status != running:
            put(out, status)
            running = status
        put(out, d1)
        if d2 >= 0:
            put(out, d2)
    length = out.size - start
    if length > <int64_t> 0xFFFFFFFF:
        return U_CHUNK_SIZE
    for j in range(4):
        out.data[start - 4 + j] = (length >> (24 - 8 * j)) & 0xFF
    return 0


cdef int put_file(Out* out, Conductor* c, const Part* parts, Py_ssize_t n_parts,
                  int division, int64_t end) noexcept nogil:
    """The whole file: format 0 for one track, else format 1 with a conductor chunk
    first; 0, NO_MEMORY or U_CHUNK_SIZE."""
    cdef Py_ssize_t i, most = 0
    cdef int code = 0, chunks = 1 if n_parts == 1 else n_parts + 1
    cdef uint8_t header[14]
    cdef uint64_t* keys
    for i in range(n_parts):
        most = max(most, 2 * parts[i].n_notes + parts[i].n_controls + parts[i].n_bends)
    most += c.n_tempos + c.n_timesigs + c.n_keysigs + c.n_texts + 4
    keys = <uint64_t*> malloc(2 * most * sizeof(uint64_t))
    if keys == NULL or not reserve(out, 14):
        free(keys)
        return NO_MEMORY
    memcpy(header, b"MThd\x00\x00\x00\x06", 8)
    header[8], header[9] = 0, 0 if n_parts == 1 else 1
    header[10], header[11] = chunks >> 8, chunks & 0xFF
    header[12], header[13] = (division >> 8) & 0xFF, division & 0xFF
    memcpy(out.data, header, 14)
    out.size = 14
    if n_parts == 1:
        code = put_chunk(out, c, True, &parts[0], end, keys, keys + most)
    else:
        code = put_chunk(out, c, True, NULL, end, keys, keys + most)
        for i in range(n_parts):
            if code == 0:
                code = put_chunk(out, c, False, &parts[i], end, keys, keys + most)
    free(keys)
    return code


# -- Python ----------------------------------------------------------------------------

cdef const void* records(object array, object dtype, Py_ssize_t* n, list keep) except? NULL:
    """The data of ``array`` as a contiguous array of ``dtype`` (kept alive in ``keep``)
    and, in ``n``, how many items it holds."""
    cdef Py_buffer view
    cdef const void* data
    array = np.ascontiguousarray(array, dtype)
    keep.append(array)
    PyObject_GetBuffer(array, &view, PyBUF_ND)
    data, n[0] = view.buf, view.len // dtype.itemsize
    PyBuffer_Release(&view)
    return data if n[0] else NULL


def encode_file(int division, list tracks, tempos, time_signatures, key_signatures,
                text_rows, bytes text_data, int64_t end_of_track) -> bytes:
    """A Standard MIDI File's bytes.

    ``tracks`` holds one tuple per track: notes, controls and pitch bends (arrays of
    deepsym's dtypes), channel, program, and the UTF-8 bytes of its name and instrument.
    ``text_rows`` (meta type, tick, byte length; int64) and ``text_data`` are the text,
    lyric and marker events, in the reader kernel's form (each text's bytes as a file
    holds them: UTF-8 or Latin-1). ``division`` is the header's time division. The file ends
    at the last event, note end or ``end_of_track``, whichever is latest. Raises
    ValueError naming what a Standard MIDI File cannot hold.
    """
    cdef Py_ssize_t n_parts = len(tracks), i, n_rows
    cdef Part* parts = <Part*> calloc(max(n_parts, 1), sizeof(Part))
    cdef Conductor c
    cdef Out out
    cdef Refusal refusal
    cdef int64_t end = end_of_track, text_bytes = 0
    cdef bytes name, instrument
    cdef int code
    keep = []
    memset(&c, 0, sizeof(c))
    memset(&out, 0, sizeof(out))
    if parts == NULL:
        raise MemoryError("out of memory while writing MIDI data")
    try:
        c.tempos = <const TempoT*> records(tempos, TEMPO_DTYPE, &c.n_tempos, keep)
        c.timesigs = <const TimeSigT*> records(time_signatures, TIME_SIGNATURE_DTYPE,
                                               &c.n_timesigs, keep)
        c.keysigs = <const KeySigT*> records(key_signatures, KEY_SIGNATURE_DTYPE,
                                             &c.n_keysigs, keep)
        c.text_rows = <const int64_t*> records(text_rows, np.dtype(np.int64), &n_rows, keep)
        c.n_texts = n_rows // 3
        c.text_data = <const uint8_t*> PyBytes_AS_STRING(text_data)
        for i, (notes, controls, bends, channel, program, name, instrument) in enumerate(tracks):
            parts[i].notes = <const NoteT*> records(notes, NOTE_DTYPE, &parts[i].n_notes, keep)
            parts[i].controls = <const ControlT*> records(controls, CONTROL_DTYPE,
                                                          &parts[i].n_controls, keep)
            parts[i].bends = <const BendT*> records(bends, BEND_DTYPE, &parts[i].n_bends, keep)
            parts[i].channel, parts[i].program = channel, program
            parts[i].name = <const uint8_t*> PyBytes_AS_STRING(name)
            parts[i].name_size = PyBytes_GET_SIZE(name)
            parts[i].instrument = <const uint8_t*> PyBytes_AS_STRING(instrument)
            parts[i].instrument_size = PyBytes_GET_SIZE(instrument)
            keep.append((name, instrument))
        for i in range(c.n_texts):
            if c.text_rows[3 * i + 2] < 0:
                raise ValueError("a text row of negative length")
            text_bytes += c.text_rows[3 * i + 2]
        if text_bytes != len(text_data):
            raise ValueError("the text rows' lengths do not add up to the text data's")
        c.text_order = <int64_t*> malloc(max(c.n_texts, 1) * sizeof(int64_t))
        c.text_offset = <int64_t*> malloc(max(c.n_texts, 1) * sizeof(int64_t))
        c.text_size = <int64_t*> malloc(max(c.n_texts, 1) * sizeof(int64_t))
        if c.text_order == NULL or c.text_offset == NULL or c.text_size == NULL:
            raise MemoryError("out of memory while writing MIDI data")
        with nogil:
            order_texts(&c)
            refusal = check(&c, parts, n_parts, &end)
        if refusal.code:
            raise ValueError(Unwritable(refusal.code).message(refusal.track, refusal.value))
        with nogil:
            code = put_file(&out, &c, parts, n_parts, division, end)
        if code == NO_MEMORY:
            raise MemoryError("out of memory while writing MIDI data")
        if code:
            raise ValueError(Unwritable(code).message(0, 0))
        return PyBytes_FromStringAndSize(<char*> out.data, out.size)
    finally:
        free(parts)
        free(out.data)
        free(c.text_order)
        free(c.text_offset)
        free(c.text_size)
