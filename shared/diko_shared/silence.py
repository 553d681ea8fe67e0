"""A silent MP3 of any length, written byte by byte: sample audio for the demo and tests.

Every frame is MPEG-2 Layer III at 8 kbit/s, 16 kHz, mono (the smallest MP3 there is:
half an hour takes under 2 MB), with all side information and main data zero, which
decoders play as silence. A frame is 36 bytes and 576 samples (36 ms) long.
"""

from __future__ import annotations

import math

SAMPLE_RATE = 16_000
SAMPLES_PER_FRAME = 576
FRAME_BYTES = 36  # 72 × 8000 / 16000
#: Sync, MPEG-2, Layer III, no CRC | 8 kbit/s, 16 kHz, no padding | mono, original.
HEADER = bytes((0xFF, 0xF3, 0x18, 0xC4))


def silent_mp3(seconds: float) -> bytes:
    """`seconds` of silence as an MP3 stream (rounded up to whole frames)."""
    frames = max(1, math.ceil(seconds * SAMPLE_RATE / SAMPLES_PER_FRAME))
    frame = HEADER + bytes(FRAME_BYTES - len(HEADER))
    return frame * frames
