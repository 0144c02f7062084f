"""Docker's multiplexed stream framing: an 8-byte header (stream, 0, 0, 0, big-endian size)."""

import struct

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
HEADER = struct.Struct(">BxxxI")


def frame(stream: int, data: bytes) -> bytes:
    return HEADER.pack(stream, len(data)) + data


def split_frames(buffer: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Complete frames in ``buffer`` and the unconsumed remainder."""
    frames = []
    while len(buffer) >= HEADER.size:
        stream, size = HEADER.unpack_from(buffer)
        if len(buffer) < HEADER.size + size:
            break
        frames.append((stream, buffer[HEADER.size:HEADER.size + size]))
        buffer = buffer[HEADER.size + size:]
    return frames, buffer
