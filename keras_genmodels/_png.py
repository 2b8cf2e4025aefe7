"""A dependency-free PNG encoder (NumPy + zlib), for image grids.

Writes 8-bit greyscale (colour type 0) or RGB (colour type 2) images,
non-interlaced, every scanline with filter type 0 ("None"), following the
PNG specification (ISO/IEC 15948, W3C PNG 2nd edition). No pillow needed.
"""

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(image, compress_level=6):
    """Encode a ``uint8`` image as PNG bytes.

    Args:
        image: ``uint8`` array ``(h, w)``, ``(h, w, 1)`` (grey) or ``(h, w, 3)`` (RGB).
        compress_level: zlib level 0..9.

    Returns:
        ``bytes`` of a complete PNG file.

    Raises:
        ValueError: wrong dtype, rank, channel count or an empty image.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"encode_png needs a uint8 image. Received: dtype={image.dtype}")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        color_type, channels = 0, 1
    elif image.ndim == 3 and image.shape[-1] == 3:
        color_type, channels = 2, 3
    else:
        raise ValueError(
            "encode_png needs an image of shape (h, w), (h, w, 1) or (h, w, 3). "
            f"Received: shape={image.shape}"
        )
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"encode_png got an empty image. Received: shape={image.shape}")
    rows = np.ascontiguousarray(image).reshape(height, width * channels)
    # Each scanline starts with its filter type byte (0 = None).
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"".join([
        PNG_SIGNATURE,
        _chunk(b"IHDR", header),
        _chunk(b"IDAT", zlib.compress(raw, compress_level)),
        _chunk(b"IEND", b""),
    ])


def write_png(path, image, compress_level=6):
    """Write a ``uint8`` image to ``path`` as PNG (see :func:`encode_png`)."""
    data = encode_png(image, compress_level)
    with open(path, "wb") as f:
        f.write(data)
    return path
