"""What rendered audio sounds like, measured: fundamental frequency, noisiness, timbre.

Plain numpy on ``(channels, samples)`` or ``(samples,)`` float arrays (channels are
averaged). Used to check a synthesizer: a note sounds at its pitch, a drum is noise
rather than a tone, two instruments differ in timbre.
"""
from __future__ import annotations

import numpy as np

HARMONICS = 5  # partials multiplied by the harmonic product spectrum
PAD = 8  # zero-padding factor: spectrum bins of rate / (8 * samples) Hz


def _magnitudes(samples: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The Hann-windowed, zero-padded magnitude spectrum and its frequencies in Hz."""
    mono = np.asarray(samples, dtype=np.float64)
    mono = mono.mean(axis=0) if mono.ndim == 2 else mono
    if len(mono) < 2:
        raise ValueError("need at least 2 samples to measure a spectrum")
    size = PAD * 2 ** int(np.ceil(np.log2(len(mono))))
    magnitudes = np.abs(np.fft.rfft(mono * np.hanning(len(mono)), size))
    return magnitudes, np.fft.rfftfreq(size, 1 / rate)


def fundamental_hertz(samples: np.ndarray, rate: float, lowest: float = 25.0,
                      highest: float = 4500.0) -> float:
    """The fundamental frequency of a pitched sound, in Hz (nan for silence).

    Harmonic product spectrum: ``HPS(f) = prod_{h=1..5} |X(h f)|`` peaks at the
    fundamental even where the 2nd harmonic is the spectrum's highest peak (as for many
    piano samples) or the fundamental itself is weak. The peak, searched in
    ``[lowest, highest]``, is refined by parabolic interpolation of ``log HPS``. Where
    the upper partials fade fast (high notes), the product can peak an octave low; a
    candidate whose odd partials (1st and 3rd) are both missing is one, and its
    octave is taken instead.
    """
    magnitudes, hertz = _magnitudes(samples, rate)
    if not magnitudes.any():
        return float("nan")
    count = len(magnitudes) // HARMONICS
    log_hps = np.zeros(count)
    for h in range(1, HARMONICS + 1):
        log_hps += np.log(magnitudes[: count * h : h][:count] + 1e-12)
    step = hertz[1]
    first, last = int(np.ceil(lowest / step)), min(int(highest / step), count - 2)
    peak = first + int(np.argmax(log_hps[first:last + 1]))
    while 2 * peak <= last and _octave_low(magnitudes, peak):
        peak = 2 * peak - 3 + int(np.argmax(log_hps[2 * peak - 3:2 * peak + 4]))
    left, middle, right = log_hps[peak - 1:peak + 2]
    bend = left - 2 * middle + right
    offset = 0.5 * (left - right) / bend if bend < 0 else 0.0
    return float((peak + offset) * step)


def _octave_low(magnitudes: np.ndarray, peak: int, missing: float = 0.05) -> bool:
    """Whether the partials 1 and 3 of bin ``peak`` are below ``missing`` times partial 2."""

    def partial(h: int) -> float:
        width = max(1, h * peak // 50)  # 2% either side
        return float(magnitudes[h * peak - width:h * peak + width + 1].max(initial=0.0))

    return max(partial(1), partial(3)) < missing * partial(2)


def spectral_flatness(samples: np.ndarray, rate: float, band: tuple[float, float] = (100.0,
                      10000.0)) -> float:
    """Geometric over arithmetic mean of the power spectrum in ``band``: 0 tone .. 1 noise.

    A sustained pitched note scores near 0 (its power sits on a few partials); a snare
    or cymbal scores orders of magnitude higher.
    """
    magnitudes, hertz = _magnitudes(samples, rate)
    power = magnitudes[(hertz >= band[0]) & (hertz <= band[1])] ** 2 + 1e-20
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))


def timbre_similarity(a: np.ndarray, b: np.ndarray, rate: float,
                      highest: float = 8000.0) -> float:
    """Cosine similarity (0..1) of two sounds' magnitude spectra up to ``highest`` Hz.

    The same note on the same instrument scores about 1; the same note on two
    instruments with different partials scores clearly less.
    """
    length = min(np.shape(a)[-1], np.shape(b)[-1])
    (ma, hertz), (mb, _) = (_magnitudes(np.asarray(x)[..., :length], rate) for x in (a, b))
    keep = hertz <= highest
    ma, mb = ma[keep], mb[keep]
    norm = np.linalg.norm(ma) * np.linalg.norm(mb)
    return float(ma @ mb / norm) if norm else float("nan")


__all__ = ["fundamental_hertz", "spectral_flatness", "timbre_similarity"]
