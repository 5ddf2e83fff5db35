"""The C records of the Score's numpy dtypes (deepsym._ext.layout), packed as numpy packs them."""
from libc.stdint cimport int8_t, int16_t, int32_t, uint8_t, uint16_t


cdef extern from *:
    """
    #pragma pack(push, 1)
    typedef struct { int32_t start; int32_t duration; uint8_t pitch; uint8_t velocity; } NoteT;
    typedef struct { int32_t tick; uint8_t number; uint8_t value; } ControlT;
    typedef struct { int32_t tick; int16_t value; } BendT;
    typedef struct { int32_t tick; double qpm; } TempoT;
    typedef struct { int32_t tick; uint8_t numerator; uint16_t denominator; } TimeSigT;
    typedef struct { int32_t tick; int8_t key; uint8_t mode; } KeySigT;
    #pragma pack(pop)
    """
    ctypedef struct NoteT:
        int32_t start
        int32_t duration
        uint8_t pitch
        uint8_t velocity
    ctypedef struct ControlT:
        int32_t tick
        uint8_t number
        uint8_t value
    ctypedef struct BendT:
        int32_t tick
        int16_t value
    ctypedef struct TempoT:
        int32_t tick
        double qpm
    ctypedef struct TimeSigT:
        int32_t tick
        uint8_t numerator
        uint16_t denominator
    ctypedef struct KeySigT:
        int32_t tick
        int8_t key
        uint8_t mode
