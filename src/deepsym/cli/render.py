"""``deepsym render FILE.mid -o FILE.wav``: hear a MIDI file through a General MIDI SoundFont."""
from __future__ import annotations

import argparse
from pathlib import Path

from deepsym.audio import DEFAULT_SAMPLE_RATE, write_wav


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render", help="render a MIDI file to a WAV file through a General MIDI SoundFont",
        description="Render a MIDI file to 16-bit stereo WAV audio (normalized to -1 dBFS) "
                    "with the midirenderer SoundFont synthesizer. The default SoundFont is the GM "
                    "bank bundled with pretty_midi; needs pip install 'deepsym[audio]'.",
    )
    parser.add_argument("file", type=Path, metavar="FILE.mid")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE.wav",
                        help="where to write the audio (default: FILE's name with .wav, "
                             "in the current folder)")
    parser.add_argument("--soundfont", type=Path, metavar="SF2",
                        help="a General MIDI SoundFont 2 file (default: pretty_midi's "
                             "TimGM6mb.sf2)")
    parser.add_argument("--sample-rate", type=int, default=DEFAULT_SAMPLE_RATE, metavar="HZ",
                        help=f"samples per second (default: {DEFAULT_SAMPLE_RATE})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    output = args.output or Path(args.file.with_suffix(".wav").name)
    print(write_wav(args.file, output, args.soundfont, args.sample_rate))
    return 0
