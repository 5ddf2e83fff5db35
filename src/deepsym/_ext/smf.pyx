"""Standard MIDI File reading kernel: parse the track chunks in one pass.

``parse_tracks`` walks every chunk after the header once, in C, and returns numpy
arrays: notes grouped into tracks (one per chunk and channel) and sorted, controls,
pitch bends, meta events and the problems met on the way (``smfwrite`` writes files).
``smf_py.py`` is the plain-Python twin with the same API; the tests compare both.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcpy, memset

from deepsym._ext.records cimport BendT, ControlT, KeySigT, NoteT, TempoT, TimeSigT

import numpy as np

from deepsym._ext.layout import (
    BEND_DTYPE,
    CONTROL_DTYPE,
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    TRACK_COLUMNS,
    Problem,
)

cdef enum:
    P_TRUNCATED_EVENT = 1
    P_TRUNCATED_CHUNK = 2
    P_LONG_VLQ = 3
    P_NO_STATUS = 4
    P_BAD_DATA_BYTE = 5
    P_SYSTEM_MESSAGE = 6
    P_BAD_META = 7
    P_TRAILING_BYTES = 8
    P_TICK_OVERFLOW = 9
    P_CANCELLED_RUNNING_STATUS = 10
    P_NO_END_OF_TRACK = 11
    P_AFTER_END_OF_TRACK = 12
    P_META_LENGTH = 13
    P_META_TYPE = 14
    NO_MEMORY = -1
    MAX_TICK = 2147483647
    N_KEYS = 2048        # 16 channels x 128 pitches
    RAW_NOTE = 6         # raw note row: channel, start, end, pitch, velocity, next open note
    RAW_CONTROL = 4      # channel, tick, number, value
    RAW_BEND = 3         # channel, tick, value
    SMALL_RUN = 16       # runs of equal start up to this length are insertion-sorted
    TEXT = 0x01
    TRACK_NAME = 0x03
    INSTRUMENT = 0x04
    LYRIC = 0x05
    MARKER = 0x06

assert sizeof(NoteT) == NOTE_DTYPE.itemsize
assert sizeof(ControlT) == CONTROL_DTYPE.itemsize
assert sizeof(BendT) == BEND_DTYPE.itemsize
assert sizeof(TempoT) == TEMPO_DTYPE.itemsize
assert sizeof(TimeSigT) == TIME_SIGNATURE_DTYPE.itemsize
assert sizeof(KeySigT) == KEY_SIGNATURE_DTYPE.itemsize
assert len(TRACK_COLUMNS) == 9
assert P_TRUNCATED_EVENT == Problem.TRUNCATED_EVENT and P_META_TYPE == Problem.META_TYPE
assert len(Problem) == P_META_TYPE


cdef struct Buf:
    char* data
    Py_ssize_t size
    Py_ssize_t cap


cdef inline char* grow(Buf* b, Py_ssize_t extra) noexcept nogil:
    """Append ``extra`` bytes to ``b``; return a pointer to them, or NULL without memory."""
    cdef Py_ssize_t cap = b.cap if b.cap else 256
    cdef char* data
    while b.size + extra > cap:
        cap *= 2
    if cap != b.cap:
        data = <char*> realloc(b.data, cap)
        if data == NULL:
            return NULL
        b.data = data
        b.cap = cap
    data = b.data + b.size
    b.size += extra
    return data


cdef void reserve_notes(State* st, Py_ssize_t size) noexcept nogil:
    """Size the note buffers for a typical file of ``size`` bytes (about 8 bytes a note).

    Saves the chain of reallocations while parsing; a failed reservation is no error,
    the buffers then grow on demand.
    """
    cdef Py_ssize_t n = min(size // 8 + 16, 1 << 20)
    if grow(&st.notes, n * sizeof(NoteT)) != NULL:
        st.notes.size = 0
    if grow(&st.raw_notes, n * RAW_NOTE * sizeof(int64_t)) != NULL:
        st.raw_notes.size = 0
    if grow(&st.order, 2 * n * sizeof(int64_t)) != NULL:
        st.order.size = 0


cdef inline int64_t* row(Buf* b, int width) noexcept nogil:
    return <int64_t*> grow(b, width * sizeof(int64_t))


cdef inline Py_ssize_t rows(Buf* b, int width) noexcept nogil:
    return b.size // (width * sizeof(int64_t))


cdef struct State:
    Buf notes, controls, bends, tracks                 # outputs, grouped by track
    Buf tempos, timesigs, keysigs, texts, chunks, problems
    Buf raw_notes, raw_controls, raw_bends, order      # per-chunk scratch
    bint strict
    bint stop
    bint no_memory
    int32_t head[N_KEYS]
    int32_t tail[N_KEYS]
    int64_t program[16]


cdef inline bint report(State* st, int code, Py_ssize_t offset) noexcept nogil:
    """Record a problem; True when parsing must stop (strict mode or no memory)."""
    cdef int64_t* r
    if code == NO_MEMORY:
        st.no_memory = True
        st.stop = True
        return True
    r = row(&st.problems, 2)
    if r == NULL:
        st.no_memory = True
        st.stop = True
        return True
    r[0] = code
    r[1] = offset
    if st.strict:
        st.stop = True
    return st.stop


cdef inline int read_vlq(const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end,
                         int64_t* value) noexcept nogil:
    """Read a variable-length quantity of at most 4 bytes: 0, or a problem code."""
    cdef int64_t v = 0
    cdef uint8_t b
    cdef int k
    for k in range(4):
        if pos[0] >= end:
            return P_TRUNCATED_EVENT
        b = buf[pos[0]]
        pos[0] += 1
        v = (v << 7) | (b & 0x7F)
        if b < 0x80:
            value[0] = v
            return 0
    return P_LONG_VLQ


cdef int tempo_event(State* st, const uint8_t* buf, Py_ssize_t at, int64_t length,
                     int64_t tick) noexcept nogil:
    """Store a Set Tempo event: 0, NO_MEMORY or P_BAD_META (not 3 bytes, or 0 usec)."""
    cdef int64_t usec
    cdef TempoT* tempo
    if length != 3:
        return P_BAD_META
    usec = (<int64_t> buf[at] << 16) | (buf[at + 1] << 8) | buf[at + 2]
    if usec == 0:
        return P_BAD_META
    tempo = <TempoT*> grow(&st.tempos, sizeof(TempoT))
    if tempo == NULL:
        return NO_MEMORY
    tempo.tick = <int32_t> tick
    tempo.qpm = 60000000.0 / usec
    return 0


cdef int time_signature(State* st, const uint8_t* buf, Py_ssize_t at, int64_t length,
                        int64_t tick) noexcept nogil:
    """Store a Time Signature: 0, NO_MEMORY, P_BAD_META (unreadable, skipped) or
    P_META_LENGTH (kept, but not 4 bytes long)."""
    cdef TimeSigT* timesig
    if length < 2 or buf[at] == 0 or buf[at + 1] > 15:
        return P_BAD_META
    timesig = <TimeSigT*> grow(&st.timesigs, sizeof(TimeSigT))
    if timesig == NULL:
        return NO_MEMORY
    timesig.tick = <int32_t> tick
    timesig.numerator = buf[at]
    timesig.denominator = 1 << buf[at + 1]
    return P_META_LENGTH if length != 4 else 0


cdef int key_signature(State* st, const uint8_t* buf, Py_ssize_t at, int64_t length,
                       int64_t tick) noexcept nogil:
    """Store a Key Signature: 0, NO_MEMORY, P_BAD_META (unreadable, skipped) or
    P_META_LENGTH (kept, but not 2 bytes long)."""
    cdef KeySigT* keysig
    cdef int sf
    if length < 2:
        return P_BAD_META
    sf = <int8_t> buf[at]
    if sf < -7 or sf > 7 or buf[at + 1] > 1:
        return P_BAD_META
    keysig = <KeySigT*> grow(&st.keysigs, sizeof(KeySigT))
    if keysig == NULL:
        return NO_MEMORY
    keysig.tick = <int32_t> tick
    keysig.key = sf
    keysig.mode = buf[at + 1]
    return P_META_LENGTH if length != 2 else 0


cdef int meta_event(State* st, const uint8_t* buf, Py_ssize_t at, int64_t length,
                    int mtype, int64_t tick, int64_t chunk) noexcept nogil:
    """Store one meta event (not End of Track): 0, NO_MEMORY or a problem code."""
    cdef int64_t* r
    if mtype > 0x7F:
        return P_META_TYPE
    if mtype == 0x51:
        return tempo_event(st, buf, at, length, tick)
    if mtype == 0x58:
        return time_signature(st, buf, at, length, tick)
    if mtype == 0x59:
        return key_signature(st, buf, at, length, tick)
    if (mtype == 0x00 and length != 2) or (mtype == 0x20 and length != 1) \
            or (mtype == 0x54 and length != 5):
        return P_META_LENGTH
    if 0x01 <= mtype <= 0x0F:
        r = row(&st.texts, 5)
        if r == NULL:
            return NO_MEMORY
        r[0] = chunk
        r[1] = tick
        r[2] = mtype
        r[3] = at
        r[4] = length
    return 0


cdef int channel_event(State* st, int status, int d1, int d2, int64_t tick) noexcept nogil:
    """Store one channel message; a note-off ends the earliest open note of its key."""
    cdef int kind = status >> 4
    cdef int ch = status & 0x0F
    cdef int key = ch * 128 + d1
    cdef int64_t* r
    cdef int64_t i
    if kind == 0x9 and d2 > 0:
        i = rows(&st.raw_notes, RAW_NOTE)
        r = row(&st.raw_notes, RAW_NOTE)
        if r == NULL:
            return NO_MEMORY
        r[0] = ch
        r[1] = tick
        r[2] = -1
        r[3] = d1
        r[4] = d2
        r[5] = -1
        if st.tail[key] >= 0:
            (<int64_t*> st.raw_notes.data)[st.tail[key] * RAW_NOTE + 5] = i
        else:
            st.head[key] = <int32_t> i
        st.tail[key] = <int32_t> i
    elif kind == 0x8 or kind == 0x9:
        i = st.head[key]
        if i >= 0:
            r = (<int64_t*> st.raw_notes.data) + i * RAW_NOTE
            r[2] = tick
            st.head[key] = <int32_t> r[5]
            if r[5] < 0:
                st.tail[key] = -1
    elif kind == 0xB:
        r = row(&st.raw_controls, RAW_CONTROL)
        if r == NULL:
            return NO_MEMORY
        r[0] = ch
        r[1] = tick
        r[2] = d1
        r[3] = d2
    elif kind == 0xE:
        r = row(&st.raw_bends, RAW_BEND)
        if r == NULL:
            return NO_MEMORY
        r[0] = ch
        r[1] = tick
        r[2] = ((d2 << 7) | d1) - 8192
    elif kind == 0xC and st.program[ch] < 0:
        st.program[ch] = d1
    return 0


cdef enum:
    GO_ON = 0      # what reading a meta event or sysex tells the track loop
    CUT = 1        # the event is cut short: the chunk ends before it
    STOP = 2       # the event is whole, but a problem stops reading
    ENDED = 3      # End of Track


cdef int end_of_track(State* st, Py_ssize_t at, Py_ssize_t end, int64_t length) noexcept nogil:
    """Check an End of Track whose data starts at ``at``: ENDED, or STOP in strict mode."""
    if length != 0 and report(st, P_META_LENGTH, at):
        return STOP
    if at + length < end and report(st, P_AFTER_END_OF_TRACK, at + length):
        return STOP
    return ENDED


cdef int meta_or_sysex(State* st, const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end,
                       int64_t tick, int64_t chunk) noexcept nogil:
    """Read the meta event or sysex at ``pos[0]`` and move past it: GO_ON, CUT, STOP or ENDED."""
    cdef int mtype = -1
    cdef int code
    cdef int64_t length
    if buf[pos[0]] == 0xFF:
        if pos[0] + 1 >= end:
            report(st, P_TRUNCATED_EVENT, end)
            return CUT
        mtype = buf[pos[0] + 1]
        pos[0] += 1
    pos[0] += 1
    code = read_vlq(buf, pos, end, &length)
    if not code and length > end - pos[0]:
        code = P_TRUNCATED_EVENT
    if code:
        report(st, code, pos[0])
        return CUT
    if mtype == 0x2F:
        return end_of_track(st, pos[0], end, length)
    if mtype >= 0:
        code = meta_event(st, buf, pos[0], length, mtype, tick, chunk)
        if code and report(st, code, pos[0]):
            return STOP
    pos[0] += length
    return GO_ON


cdef int64_t parse_track(State* st, const uint8_t* buf, Py_ssize_t pos, Py_ssize_t end,
                         int64_t chunk, int64_t tick) noexcept nogil:
    """Parse one MTrk body starting at ``tick``; return the tick of its last event.

    Meta events and sysex cancel running status (SMF 1.0); a data byte that relies on
    it after them is a problem, read with the earlier status unless strict.
    """
    cdef int64_t last = tick
    cdef int64_t value
    cdef int status = 0
    cdef bint cancelled = False
    cdef int code, b, n_data, d1, d2
    while pos < end:
        code = read_vlq(buf, &pos, end, &value)
        if code:
            report(st, code, pos)
            break
        tick += value
        if tick > MAX_TICK:
            report(st, P_TICK_OVERFLOW, pos)
            break
        if pos >= end:
            report(st, P_TRUNCATED_EVENT, pos)
            break
        b = buf[pos]
        if b == 0xFF or b == 0xF0 or b == 0xF7:
            code = meta_or_sysex(st, buf, &pos, end, tick, chunk)
            if code != CUT:
                last = tick
            if code != GO_ON:
                break
            cancelled = True
            continue
        if b > 0xF0:
            if report(st, P_SYSTEM_MESSAGE, pos):
                break
            pos += 1 + (b == 0xF1 or b == 0xF3) + 2 * (b == 0xF2)
            if pos > end:
                report(st, P_TRUNCATED_EVENT, end)
                break
            last = tick
            continue
        if b & 0x80:
            status = b
            cancelled = False
            pos += 1
        elif status == 0:
            report(st, P_NO_STATUS, pos)
            break
        elif cancelled:
            cancelled = False
            if report(st, P_CANCELLED_RUNNING_STATUS, pos):
                break
        n_data = 1 if (status >> 4) == 0xC or (status >> 4) == 0xD else 2
        if pos + n_data > end:
            report(st, P_TRUNCATED_EVENT, pos)
            break
        d1 = buf[pos]
        d2 = buf[pos + 1] if n_data == 2 else 0
        if (d1 | d2) & 0x80:
            report(st, P_BAD_DATA_BYTE, pos)
            break
        pos += n_data
        last = tick
        if channel_event(st, status, d1, d2, tick) == NO_MEMORY:
            report(st, NO_MEMORY, pos)
            break
    else:
        report(st, P_NO_END_OF_TRACK, end)
    return last


cdef void sort_by_pitch(int64_t* idx, Py_ssize_t n, const int64_t* raw, int64_t* tmp) noexcept nogil:
    """Stable sort of note indices ``idx[:n]`` by pitch (insertion, or counting for long runs)."""
    cdef Py_ssize_t i, j, total
    cdef int64_t v
    cdef Py_ssize_t count[129]
    if n <= SMALL_RUN:
        for i in range(1, n):
            v = idx[i]
            j = i
            while j > 0 and raw[idx[j - 1] * RAW_NOTE + 3] > raw[v * RAW_NOTE + 3]:
                idx[j] = idx[j - 1]
                j -= 1
            idx[j] = v
        return
    memset(count, 0, sizeof(count))
    for i in range(n):
        count[raw[idx[i] * RAW_NOTE + 3] + 1] += 1
    total = 0
    for i in range(129):
        total += count[i]
        count[i] = total
    for i in range(n):
        v = idx[i]
        tmp[count[raw[v * RAW_NOTE + 3]]] = v
        count[raw[v * RAW_NOTE + 3]] += 1
    memcpy(idx, tmp, n * sizeof(int64_t))


cdef int emit_notes(State* st, int64_t* idx, Py_ssize_t n, int64_t* tmp) noexcept nogil:
    """Append one channel's notes (file order) sorted by start, then pitch."""
    cdef const int64_t* raw = <int64_t*> st.raw_notes.data
    cdef NoteT* out = <NoteT*> grow(&st.notes, n * sizeof(NoteT))
    cdef Py_ssize_t i = 0, j
    if out == NULL:
        return NO_MEMORY
    while i < n:
        j = i + 1
        while j < n and raw[idx[j] * RAW_NOTE + 1] == raw[idx[i] * RAW_NOTE + 1]:
            j += 1
        if j - i > 1:
            sort_by_pitch(idx + i, j - i, raw, tmp)
        i = j
    for i in range(n):
        out[i].start = <int32_t> raw[idx[i] * RAW_NOTE + 1]
        out[i].duration = <int32_t> (raw[idx[i] * RAW_NOTE + 2] - raw[idx[i] * RAW_NOTE + 1])
        out[i].pitch = <uint8_t> raw[idx[i] * RAW_NOTE + 3]
        out[i].velocity = <uint8_t> raw[idx[i] * RAW_NOTE + 4]
    return 0


cdef Py_ssize_t emit_controls(State* st, int ch) noexcept nogil:
    """Append the channel's control changes; return their count, or -1 without memory."""
    cdef const int64_t* raw = <int64_t*> st.raw_controls.data
    cdef Py_ssize_t i, m = 0, n = rows(&st.raw_controls, RAW_CONTROL)
    cdef ControlT* out
    for i in range(n):
        if raw[i * RAW_CONTROL] == ch:
            out = <ControlT*> grow(&st.controls, sizeof(ControlT))
            if out == NULL:
                return -1
            out.tick = <int32_t> raw[i * RAW_CONTROL + 1]
            out.number = <uint8_t> raw[i * RAW_CONTROL + 2]
            out.value = <uint8_t> raw[i * RAW_CONTROL + 3]
            m += 1
    return m


cdef Py_ssize_t emit_bends(State* st, int ch) noexcept nogil:
    """Append the channel's pitch bends; return their count, or -1 without memory."""
    cdef const int64_t* raw = <int64_t*> st.raw_bends.data
    cdef Py_ssize_t i, m = 0, n = rows(&st.raw_bends, RAW_BEND)
    cdef BendT* out
    for i in range(n):
        if raw[i * RAW_BEND] == ch:
            out = <BendT*> grow(&st.bends, sizeof(BendT))
            if out == NULL:
                return -1
            out.tick = <int32_t> raw[i * RAW_BEND + 1]
            out.value = <int16_t> raw[i * RAW_BEND + 2]
            m += 1
    return m


cdef int finish_chunk(State* st, int64_t chunk, int64_t last) noexcept nogil:
    """Close open notes at ``last``, group the chunk's events into tracks, reset scratch."""
    cdef Py_ssize_t n = rows(&st.raw_notes, RAW_NOTE)
    cdef int64_t* raw = <int64_t*> st.raw_notes.data
    cdef Py_ssize_t count[16]
    cdef Py_ssize_t offset[16]
    cdef Py_ssize_t i, total = 0, n_controls, n_bends
    cdef int64_t* idx
    cdef int64_t* r
    cdef int ch
    memset(count, 0, sizeof(count))
    for i in range(n):
        if raw[i * RAW_NOTE + 2] < 0:
            raw[i * RAW_NOTE + 2] = last
        count[raw[i * RAW_NOTE]] += 1
        st.head[raw[i * RAW_NOTE] * 128 + raw[i * RAW_NOTE + 3]] = -1
        st.tail[raw[i * RAW_NOTE] * 128 + raw[i * RAW_NOTE + 3]] = -1
    st.order.size = 0
    idx = <int64_t*> grow(&st.order, 2 * n * sizeof(int64_t) + 1)
    if idx == NULL:
        return NO_MEMORY
    for ch in range(16):
        offset[ch] = total
        total += count[ch]
    for i in range(n):
        ch = <int> raw[i * RAW_NOTE]
        idx[offset[ch]] = i
        offset[ch] += 1
    for ch in range(16):
        if count[ch] == 0:
            continue
        r = row(&st.tracks, 9)
        if r == NULL:
            return NO_MEMORY
        r[0] = chunk
        r[1] = ch
        r[2] = st.program[ch] if st.program[ch] >= 0 else 0
        r[3] = st.notes.size // sizeof(NoteT)
        r[4] = count[ch]
        r[5] = st.controls.size // sizeof(ControlT)
        r[7] = st.bends.size // sizeof(BendT)
        if emit_notes(st, idx + offset[ch] - count[ch], count[ch], idx + n) == NO_MEMORY:
            return NO_MEMORY
        n_controls = emit_controls(st, ch)
        n_bends = emit_bends(st, ch)
        if n_controls < 0 or n_bends < 0:
            return NO_MEMORY
        r = (<int64_t*> (st.tracks.data + st.tracks.size)) - 9
        r[6] = n_controls
        r[8] = n_bends
    st.raw_notes.size = 0
    st.raw_controls.size = 0
    st.raw_bends.size = 0
    memset(st.program, 0xFF, sizeof(st.program))
    return 0


cdef void walk_chunks(State* st, const uint8_t* buf, Py_ssize_t pos, Py_ssize_t size,
                      int fmt) noexcept nogil:
    """Parse every MTrk chunk from ``pos``; skip other chunks by their length."""
    cdef int64_t chunk = 0, start = 0, last, length
    cdef Py_ssize_t end
    cdef int64_t* r
    while pos < size and not st.stop:
        if size - pos < 8:
            report(st, P_TRAILING_BYTES, pos)
            return
        length = (<int64_t> buf[pos + 4] << 24) | (buf[pos + 5] << 16) | (buf[pos + 6] << 8) | buf[pos + 7]
        end = pos + 8 + length
        if end > size:
            if report(st, P_TRUNCATED_CHUNK, pos):
                return
            end = size
        if buf[pos] == 77 and buf[pos + 1] == 84 and buf[pos + 2] == 114 and buf[pos + 3] == 107:  # MTrk
            last = parse_track(st, buf, pos + 8, end, chunk, start)
            if st.stop and st.no_memory:
                return
            if finish_chunk(st, chunk, last) == NO_MEMORY:
                report(st, NO_MEMORY, pos)
                return
            r = row(&st.chunks, 3)
            if r == NULL:
                report(st, NO_MEMORY, pos)
                return
            r[0] = start
            r[1] = last
            r[2] = pos
            if fmt == 2:
                start = last  # format 2: independent sequences, played one after another
            chunk += 1
        elif not (32 <= buf[pos] < 127 and 32 <= buf[pos + 1] < 127
                  and 32 <= buf[pos + 2] < 127 and 32 <= buf[pos + 3] < 127):
            report(st, P_TRAILING_BYTES, pos)
            return
        pos = end


_EMPTY = {}


cdef object to_array(Buf* b, object dtype, Py_ssize_t itemsize):
    """Copy a buffer of ``itemsize``-byte records into a new, writable 1-D numpy array.

    No records give one shared, read-only empty array per dtype (nothing to write).
    """
    if b.size < itemsize:
        if dtype not in _EMPTY:
            _EMPTY[dtype] = np.empty(0, dtype)
            _EMPTY[dtype].flags.writeable = False
        return _EMPTY[dtype]
    return np.frombuffer(PyByteArray_FromStringAndSize(b.data, b.size - b.size % itemsize), dtype)


cdef list table(Buf* b, int width):
    """The rows of an int64 table as a list of tuples (tables here are short)."""
    cdef const int64_t* v = <int64_t*> b.data
    cdef Py_ssize_t i, n = rows(b, width)
    cdef int j
    cdef list out = [None] * n
    cdef tuple t
    cdef object item
    for i in range(n):
        t = PyTuple_New(width)
        for j in range(width):
            item = v[i * width + j]
            Py_INCREF(item)
            PyTuple_SET_ITEM(t, j, item)
        out[i] = t
    return out


cdef int64_t end_tick(Buf* chunks) noexcept nogil:
    """The latest last-event tick over the chunks (0 without chunks)."""
    cdef const int64_t* v = <int64_t*> chunks.data
    cdef int64_t end = 0
    cdef Py_ssize_t i
    for i in range(rows(chunks, 3)):
        end = max(end, v[i * 3 + 1])
    return end


# One parser state kept between calls, so that its buffers are allocated (and their pages
# touched) once rather than per file. Taken and given back with the GIL held; a call that
# finds it taken (another thread parsing) gets a state of its own.
cdef State _kept
cdef bint _kept_busy = False
memset(&_kept, 0, sizeof(State))
cdef enum:
    KEEP_BYTES = 1 << 24  # buffers grown past this are freed after the call


cdef State* take_state():
    """A parser state with empty buffers and no open notes (NULL without memory)."""
    global _kept_busy
    cdef State* st
    cdef Buf* all_buffers[14]
    cdef int i
    if not _kept_busy:
        _kept_busy = True
        st = &_kept
    else:
        st = <State*> calloc(1, sizeof(State))
        if st == NULL:
            return NULL
    fill_buffers(st, all_buffers)
    for i in range(14):
        all_buffers[i].size = 0
    st.stop = st.no_memory = st.strict = False
    memset(st.head, 0xFF, sizeof(st.head))
    memset(st.tail, 0xFF, sizeof(st.tail))
    memset(st.program, 0xFF, sizeof(st.program))
    return st


cdef void fill_buffers(State* st, Buf** out) noexcept nogil:
    """The 14 buffers of ``st``, in ``out``."""
    out[0] = &st.notes
    out[1] = &st.controls
    out[2] = &st.bends
    out[3] = &st.tracks
    out[4] = &st.tempos
    out[5] = &st.timesigs
    out[6] = &st.keysigs
    out[7] = &st.texts
    out[8] = &st.chunks
    out[9] = &st.problems
    out[10] = &st.raw_notes
    out[11] = &st.raw_controls
    out[12] = &st.raw_bends
    out[13] = &st.order


cdef void give_back_state(State* st):
    """Free the buffers of a state of its own, or the kept state's oversized ones."""
    global _kept_busy
    cdef Buf* b
    cdef int i
    cdef Buf* all_buffers[14]
    fill_buffers(st, all_buffers)
    for i in range(14):
        b = all_buffers[i]
        if st != &_kept or b.cap > KEEP_BYTES:
            free(b.data)
            b.data = NULL
            b.cap = 0
    if st == &_kept:
        _kept_busy = False
    else:
        free(st)


cdef str decode(const uint8_t* p, int64_t n):
    """Text of a meta event: UTF-8 when valid, else Latin-1 (what old files use)."""
    try:
        return (<const char*> p)[:n].decode("utf-8")
    except UnicodeDecodeError:
        return (<const char*> p)[:n].decode("latin-1")


cdef tuple meta_texts(Buf* b, const uint8_t* buf):
    """Texts, lyrics and markers undecoded, and the track and instrument names.

    Returns ``(rows, blob, names)``: ``rows`` an int64 array ``(m, 3)`` of (meta type,
    tick, length) in file order, ``blob`` their bytes one after another, and ``names``
    a dict from (chunk, meta type 3 or 4) to the chunk's first such name, decoded.
    """
    cdef const int64_t* v = <int64_t*> b.data
    cdef Py_ssize_t i, m = 0, size = 0
    cdef int64_t mtype
    cdef dict names = {}
    for i in range(rows(b, 5)):
        mtype = v[i * 5 + 2]
        if mtype == TEXT or mtype == LYRIC or mtype == MARKER:
            m += 1
            size += v[i * 5 + 4]
        elif (mtype == TRACK_NAME or mtype == INSTRUMENT) and (v[i * 5], mtype) not in names:
            names[v[i * 5], mtype] = decode(buf + v[i * 5 + 3], v[i * 5 + 4])
    if m == 0:
        return _NO_TEXTS, b"", names
    table = np.empty((m, 3), np.int64)
    blob = PyBytes_FromStringAndSize(NULL, size)
    cdef int64_t[:, ::1] out = table
    cdef char* into = PyBytes_AS_STRING(blob)
    m = 0
    for i in range(rows(b, 5)):
        mtype = v[i * 5 + 2]
        if mtype == TEXT or mtype == LYRIC or mtype == MARKER:
            out[m, 0] = mtype
            out[m, 1] = v[i * 5 + 1]
            out[m, 2] = v[i * 5 + 4]
            memcpy(into, buf + v[i * 5 + 3], v[i * 5 + 4])
            into += v[i * 5 + 4]
            m += 1
    return table, blob, names


_NO_TEXTS = np.empty((0, 3), np.int64)
_NO_TEXTS.flags.writeable = False


def parse_tracks(bytes data, Py_ssize_t pos, int fmt, bint strict) -> dict:
    """Parse every chunk of ``data`` (bytes) from byte ``pos`` (just after the MThd chunk).

    Returns a dict of numpy arrays: ``notes`` (NOTE_DTYPE), ``controls``
    (CONTROL_DTYPE) and ``bends`` (BEND_DTYPE) grouped by track; ``tempos``, ``time_signatures`` and
    ``key_signatures`` in file order (their dtypes in ``layout``); ``texts``, the text,
    lyric and marker events undecoded: a pair (int64 rows (meta type 1, 5 or 6, tick,
    byte length) in file order, their bytes one after another); ``names``, a dict from (chunk, meta type 3 or 4) to the chunk's first track
    or instrument name; ``end``, the latest chunk's last event tick (0 without
    chunks); and lists of tuples ``tracks`` (TRACK_COLUMNS), ``chunks``
    (first tick, last tick, byte offset of the MTrk chunk) and ``problems``
    (``layout.Problem`` code, byte offset). In strict mode parsing stops at the
    first problem.
    """
    cdef Py_ssize_t size = len(data)
    cdef const uint8_t* buf = <const uint8_t*> PyBytes_AS_STRING(data)
    if not 0 <= pos <= size:
        raise ValueError(f"pos {pos} lies outside the {size} bytes of data")
    cdef State* st = take_state()
    if st == NULL:
        raise MemoryError("out of memory while parsing MIDI data")
    st.strict = strict
    try:
        with nogil:
            reserve_notes(st, size)
            walk_chunks(st, buf, pos, size, fmt)
        if st.no_memory:
            raise MemoryError("out of memory while parsing MIDI data")
        text_rows, text_bytes, names = meta_texts(&st.texts, buf)
        return {
            "notes": to_array(&st.notes, NOTE_DTYPE, sizeof(NoteT)),
            "controls": to_array(&st.controls, CONTROL_DTYPE, sizeof(ControlT)),
            "bends": to_array(&st.bends, BEND_DTYPE, sizeof(BendT)),
            "tracks": table(&st.tracks, 9),
            "tempos": to_array(&st.tempos, TEMPO_DTYPE, sizeof(TempoT)),
            "time_signatures": to_array(&st.timesigs, TIME_SIGNATURE_DTYPE, sizeof(TimeSigT)),
            "key_signatures": to_array(&st.keysigs, KEY_SIGNATURE_DTYPE, sizeof(KeySigT)),
            "texts": (text_rows, text_bytes),
            "names": names,
            "chunks": table(&st.chunks, 3),
            "end": end_tick(&st.chunks),
            "problems": table(&st.problems, 2),
        }
    finally:
        give_back_state(st)
