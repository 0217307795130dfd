"""Real data for the task layer: scikit-learn's handwritten digits, as the classifier eats them.

`load_digits` ships inside scikit-learn (1,797 8x8 grey images, 10 classes, values 0..16),
so a run needs no network. Both environments install scikit-learn (the main one's newest;
MXNet's, pinned to NumPy 1.23, a 1.5 release), and the bytes they load are checked against
one digest here, so every implementation trains on the same arrays or the cell says why not.
"""

from __future__ import annotations

import hashlib

import numpy as np

# sha256 of the images (uint8, 1797 x 64) then the labels (uint8), as load_digits gives them
DIGITS_SHA256 = "87ff0c9e40dc7e2c"
DIGITS_COUNT = 1797
UPSCALE = 3  # 8x8 -> 24x24, each pixel a 3x3 block
PAD = 2  # 24x24 -> the classifier's 28x28, zeros around (MNIST's digits sit in a 20x20 box inside 28x28 alike)

_cache = {}


class DatasetUnavailable(RuntimeError):
    """The data cannot be loaded here; the message says what to install."""


def digits():
    """(images float32 (1797, 1, 28, 28) in [0, 1], labels int64 (1797,)), the same bytes everywhere."""
    if "digits" not in _cache:
        try:
            from sklearn.datasets import load_digits
        except ImportError as exc:
            raise DatasetUnavailable(
                f"the task scenario trains on scikit-learn's digits, and scikit-learn is not installed here ({exc}); "
                "fix: make venv envs (it is in pyproject.toml and impls/mxnet/requirements.txt)"
            ) from None
        data = load_digits()
        pixels = np.ascontiguousarray(data.data.astype(np.uint8))
        labels = np.ascontiguousarray(data.target.astype(np.uint8))
        digest = hashlib.sha256(pixels.tobytes() + labels.tobytes()).hexdigest()[:16]
        if digest != DIGITS_SHA256 or len(labels) != DIGITS_COUNT:
            raise DatasetUnavailable(
                f"scikit-learn's digits here hash to {digest}, not {DIGITS_SHA256}: this scikit-learn ships other data"
            )
        _cache["digits"] = (as_images(pixels), labels.astype(np.int64))
    return _cache["digits"]


def as_images(pixels):
    """(N, 64) values 0..16 -> (N, 1, 28, 28) float32 in [0, 1]: each pixel a 3x3 block, padded by 2."""
    small = pixels.reshape(-1, 1, 8, 8).astype(np.float32) / 16.0
    big = small.repeat(UPSCALE, axis=2).repeat(UPSCALE, axis=3)
    return np.pad(big, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)))
