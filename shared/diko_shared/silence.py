"""A silent MP3 of any length, written byte by byte: sample audio for the demo and tests.

Every frame is MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono, with all side information
and main data zero, which decoders play as silence. Frames are 417 or 418 bytes (the
padding bit keeps the bit rate exact), each 1,152 samples long.
"""

from __future__ import annotations

import math

SAMPLE_RATE = 44_100
BITRATE = 128_000
SAMPLES_PER_FRAME = 1152
#: Sync, MPEG-1, Layer III, no CRC | 128 kbit/s, 44.1 kHz | mono, original.
HEADER = bytes((0xFF, 0xFB, 0x90, 0xC4))
PADDED = bytes((0xFF, 0xFB, 0x92, 0xC4))


def silent_mp3(seconds: float) -> bytes:
    """`seconds` of silence as an MP3 stream (rounded up to whole frames)."""
    frames = max(1, math.ceil(seconds * SAMPLE_RATE / SAMPLES_PER_FRAME))
    exact = SAMPLES_PER_FRAME * BITRATE / 8 / SAMPLE_RATE  # 417.96 bytes per frame
    out = bytearray()
    for index in range(frames):
        padded = math.floor(exact * (index + 1)) - math.floor(exact * index) > int(exact)
        size = int(exact) + (1 if padded else 0)
        out += (PADDED if padded else HEADER) + bytes(size - 4)
    return bytes(out)
