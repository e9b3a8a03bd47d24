"""Tests for realtime_widget.protocol.audio (PCM16, resampling, G.711, WAV)."""

from __future__ import annotations

import base64
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtime_widget.protocol import audio as A

RATES = (8000, 16000, 22050, 44100, 48000)


# -- PCM16 <-> numpy <-> base64 -----------------------------------------------------------


def test_constants() -> None:
    assert A.SAMPLE_RATE == 24000
    assert A.BYTES_PER_MS == 48
    assert A.ms_to_bytes(100) == 4800
    assert A.ms_to_bytes(0.5) == 24  # 12 whole samples
    assert A.ms_to_bytes(1 / 48) == 0
    assert A.bytes_to_ms(4800) == 100
    assert A.bytes_to_ms(24) == 0.5


def test_pcm16_is_little_endian() -> None:
    arr = A.pcm16_to_array(b"\x01\x00\xff\xff\x00\x80\xff\x7f")
    assert arr.dtype == np.int16
    assert arr.tolist() == [1, -1, -32768, 32767]


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_pcm16_round_trip(kind: Any) -> None:
    rng = np.random.default_rng(0)
    samples = rng.integers(-32768, 32768, size=1001, dtype=np.int16)
    raw = samples.astype("<i2").tobytes()
    arr = A.pcm16_to_array(kind(raw))
    np.testing.assert_array_equal(arr, samples)
    text = A.pcm16_to_b64(kind(raw))
    assert text == base64.b64encode(raw).decode("ascii")
    assert A.pcm16_to_b64(samples) == text
    assert A.b64_to_pcm16(text) == raw
    assert A.b64_to_pcm16(text.encode("ascii")) == raw
    np.testing.assert_array_equal(
        A.pcm16_to_array(A.b64_to_pcm16(A.pcm16_to_b64(samples))), samples
    )


def test_pcm16_b64_of_float_array_scales() -> None:
    text = A.pcm16_to_b64(np.array([0.0, 1.0, -1.0]))
    assert A.pcm16_to_array(A.b64_to_pcm16(text)).tolist() == [0, 32767, -32767]


def test_pcm16_empty() -> None:
    assert A.pcm16_to_array(b"").size == 0
    assert A.pcm16_to_b64(b"") == ""


@pytest.mark.parametrize("n", [1, 3, 4801])
def test_pcm16_odd_byte_count(n: int) -> None:
    with pytest.raises(ValueError, match=f"even number of bytes, got {n}"):
        A.pcm16_to_array(b"\0" * n)


# -- as_int16 / to_float32 ------------------------------------------------------------------


def test_as_int16_float_scaling_and_clipping() -> None:
    out = A.as_int16(np.array([0.0, 0.5, 1.0, -1.0, 2.0, -3.0, 1e-6], dtype=np.float32))
    assert out.dtype == np.int16
    assert out.tolist() == [0, 16384, 32767, -32767, 32767, -32768, 0]
    assert A.as_int16([0.25, -0.25]).tolist() == [8192, -8192]  # lists of floats


def test_as_int16_integer_input() -> None:
    x = np.array([0, 100, -100, 32767, -32768], dtype=np.int16)
    assert A.as_int16(x) is x  # no copy for int16 already
    wide = np.array([40000, -40000, 5], dtype=np.int32)
    assert A.as_int16(wide).tolist() == [32767, -32768, 5]
    assert A.as_int16(np.array([1, 2], dtype=np.int64)).dtype == np.int16
    big_endian = np.array([1, -2, 300], dtype=">i2")
    assert A.as_int16(big_endian).tolist() == [1, -2, 300]
    assert A.as_int16([1, 2, 3]).tolist() == [1, 2, 3]
    assert A.as_int16(np.array([True, False])).tolist() == [1, 0]
    assert A.as_int16(np.array([], dtype=np.float64)).size == 0


def test_as_int16_2d_mixes_down_along_short_axis() -> None:
    frames_by_channels = np.array([[100, 300], [-100, -301], [5, 6], [0, 1]], dtype=np.int16)
    out = A.as_int16(frames_by_channels)
    assert out.tolist() == [200, -200, 6, 0]  # rounded half to even
    np.testing.assert_array_equal(A.as_int16(frames_by_channels.T), out)
    floats = np.array([[0.5, 0.0], [1.0, 1.0], [-1.0, 0.0]])
    assert A.as_int16(floats).tolist() == [8192, 32767, -16384]


def test_as_int16_rejects() -> None:
    with pytest.raises(ValueError, match="1-D"):
        A.as_int16(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="dtype"):
        A.as_int16(np.array([1 + 1j]))


def test_to_float32() -> None:
    out = A.to_float32(np.array([0, 16384, -32768, 32767], dtype=np.int16))
    assert out.dtype == np.float32
    assert out.tolist() == [0.0, 0.5, -1.0, 32767 / 32768]


# -- resampling -------------------------------------------------------------------------------


def _two_tones(t: np.ndarray[Any, Any], high: float) -> np.ndarray[Any, Any]:
    return 8000 * np.sin(2 * np.pi * 440.0 * t + 0.3) + 6000 * np.sin(2 * np.pi * high * t + 1.1)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("direction", ["to_24k", "from_24k"])
def test_resample_sines_accuracy(rate: int, direction: str) -> None:
    src, dst = (rate, 24000) if direction == "to_24k" else (24000, rate)
    high = 0.3 * min(src, dst)  # well inside the pass band of both rates
    n = src // 2
    x = np.round(_two_tones(np.arange(n) / src, high)).astype(np.int16)
    y = A.resample(x, src, dst)
    assert y.dtype == np.int16
    assert len(y) == round(n * dst / src)
    ref = _two_tones(np.arange(len(y)) / dst, high)
    edge = dst // 100  # 10 ms at each end: the filter sees zeros beyond the signal
    err = np.abs(y[edge:-edge] - ref[edge:-edge])
    assert err.max() <= 3.0, f"max error {err.max():.2f} LSB"


@pytest.mark.parametrize("rate", RATES)
def test_resample_lengths(rate: int) -> None:
    for n in (0, 1, 2, 3, 7, 100, 4801):
        assert len(A.resample(np.zeros(n, np.int16), rate, 24000)) == round(n * 24000 / rate)
        assert len(A.resample(np.zeros(n, np.int16), 24000, rate)) == round(n * rate / 24000)


def test_resample_keeps_dc_and_full_scale() -> None:
    y = A.resample(np.full(16000, 1000, np.int16), 16000, 24000)
    assert np.all(y[100:-100] == 1000)
    t = np.arange(48000) / 48000
    loud = np.round(32767 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    y = A.resample(loud, 48000, 24000)
    assert y.min() >= -32768
    assert y.max() <= 32767
    assert abs(int(y.max()) - 32767) <= 3


def test_resample_removes_content_above_new_nyquist() -> None:
    t = np.arange(48000) / 48000
    tone = np.round(10000 * np.sin(2 * np.pi * 14000 * t)).astype(np.int16)
    y = A.resample(tone, 48000, 24000)  # 14 kHz cannot exist at 24 kHz: would alias to 10 kHz
    assert np.abs(y[240:-240]).max() <= 10  # better than -60 dB


def test_resample_identity_and_errors() -> None:
    x = np.arange(10, dtype=np.int16)
    y = A.resample(x, 24000, 24000)
    np.testing.assert_array_equal(y, x)
    assert y is not x
    assert A.resample([0.5, -0.5], 24000).tolist() == [16384, -16384]  # default dst 24 k
    with pytest.raises(ValueError, match="positive"):
        A.resample(x, 0, 24000)
    with pytest.raises(ValueError, match="positive"):
        A.resample(x, 16000, -1)


def test_resample_no_delay() -> None:
    """An impulse stays at the same time position (no filter delay)."""
    x = np.zeros(1600, np.int16)
    x[800] = 20000  # t = 50 ms at 16 kHz
    y = A.resample(x, 16000, 24000)
    assert int(np.argmax(y)) == 1200  # t = 50 ms at 24 kHz


# -- G.711 ------------------------------------------------------------------------------------

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)


def _audioop() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("audioop")


def test_ulaw_matches_audioop_exactly() -> None:
    audioop = _audioop()
    raw = ALL_INT16.astype("<i2").tobytes()
    assert A.ulaw_encode(ALL_INT16) == audioop.lin2ulaw(raw, 2)
    codes = bytes(range(256))
    expected = np.frombuffer(audioop.ulaw2lin(codes, 2), "<i2")
    np.testing.assert_array_equal(A.ulaw_decode(codes), expected)


def test_alaw_matches_audioop_exactly() -> None:
    audioop = _audioop()
    raw = ALL_INT16.astype("<i2").tobytes()
    assert A.alaw_encode(ALL_INT16) == audioop.lin2alaw(raw, 2)
    codes = bytes(range(256))
    expected = np.frombuffer(audioop.alaw2lin(codes, 2), "<i2")
    np.testing.assert_array_equal(A.alaw_decode(codes), expected)


def _ulaw_step(mag: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    # µ-law segment e spans [132 (2^e - 1), 132 (2^(e+1) - 1)) with step 8 * 2^e
    seg = np.clip(np.floor(np.log2((mag + 132) / 132)).astype(int), 0, 7)
    return 8 * 2**seg


def _alaw_step(mag: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    # A-law: segments 0 and 1 (|x| < 512) step 16, then doubling per octave
    seg = np.where(mag < 256, 0, np.clip(np.floor(np.log2(np.maximum(mag, 1))) - 7, 0, 7))
    return np.where(seg == 0, 16, 8 * 2 ** seg.astype(int))


@pytest.mark.parametrize(
    ("encode", "decode", "step", "top"),
    [
        (A.ulaw_encode, A.ulaw_decode, _ulaw_step, 32124),
        (A.alaw_encode, A.alaw_decode, _alaw_step, 32256),
    ],
    ids=["ulaw", "alaw"],
)
def test_g711_round_trip_error_bounded_by_segment_step(
    encode: Any, decode: Any, step: Any, top: int
) -> None:
    x = ALL_INT16.astype(np.int64)
    codes = encode(ALL_INT16)
    assert isinstance(codes, bytes)
    assert len(codes) == x.size
    y = decode(codes).astype(np.int64)
    # monotonic, odd-symmetric, sign preserving
    assert np.all(np.diff(y) >= 0)
    assert np.all(np.sign(y[np.abs(x) > 16]) == np.sign(x[np.abs(x) > 16]))
    assert np.abs(decode(bytes(range(256))).astype(np.int64)).max() == top
    # error within one step of the coarser of the two segments, plus clipping
    mag = np.abs(x)
    bound = np.maximum(step(mag), step(np.abs(y))) + np.maximum(mag - top, 0)
    assert np.all(np.abs(y - x) <= bound)
    # and within half a step for the bulk of values away from segment edges
    inner = (mag > 64) & (mag < top - 1024)
    assert np.mean(np.abs(y - x)[inner] <= step(mag)[inner] / 2 + 4) > 0.95
    # encoding decoded values is the identity on codes
    assert encode(decode(codes)) == codes


def test_g711_known_values() -> None:
    assert A.ulaw_encode([0]) == b"\xff"
    assert A.ulaw_decode(b"\xff").tolist() == [0]
    assert A.ulaw_decode(b"\x7f").tolist() == [0]  # negative zero
    assert A.ulaw_decode(b"\x00\x80").tolist() == [-32124, 32124]
    assert A.alaw_encode([0]) == b"\xd5"
    assert A.alaw_decode(b"\xd5").tolist() == [8]
    assert A.alaw_decode(b"\x2a\xaa").tolist() == [-32256, 32256]
    assert A.ulaw_decode(b"").size == 0
    assert A.ulaw_encode(np.array([0.5])) == A.ulaw_encode([16384])  # floats are scaled


# -- WAV --------------------------------------------------------------------------------------


def make_wav(
    data: bytes,
    *,
    tag: int = 1,
    channels: int = 1,
    rate: int = 16000,
    bits: int = 16,
    extensible: bool = False,
    before_data: bytes = b"",
    data_first: bool = False,
) -> bytes:
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block, block, bits)
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + b"\x00" * 14
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    fmt_chunk = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    data_chunk = b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    body = (data_chunk + fmt_chunk) if data_first else (fmt_chunk + before_data + data_chunk)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def test_wav_bytes_round_trip_mono() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(-32768, 32768, 999, dtype=np.int16)
    wav = A.wav_bytes(x, 16000)
    assert wav[:4] == b"RIFF"
    assert wav[8:12] == b"WAVE"
    assert len(wav) == 44 + 2 * x.size
    y, rate = A.read_wav(wav)
    assert rate == 16000
    np.testing.assert_array_equal(y, x)
    y, rate = A.read_wav(A.wav_bytes(np.array([], np.int16)))
    assert rate == 24000
    assert y.size == 0


def test_wav_bytes_round_trip_stereo() -> None:
    frames = np.array([[100, 300], [-100, -300], [32767, 32767], [1, 2]], dtype=np.int16)
    wav = A.wav_bytes(frames, 48000)
    channels, rate, bits = struct.unpack_from("<HIxxxxxxH", wav, 22)
    assert (channels, rate, bits) == (2, 48000, 16)
    np.testing.assert_array_equal(np.frombuffer(wav[44:], "<i2").reshape(-1, 2), frames)
    y, rate = A.read_wav(wav)
    assert rate == 48000
    assert y.tolist() == [200, -200, 32767, 2]  # mean of the channels, half to even


@pytest.mark.parametrize(
    ("bits", "encode"),
    [
        (8, lambda v: (np.asarray(v) // 256 + 128).astype(np.uint8).tobytes()),
        (16, lambda v: np.asarray(v).astype("<i2").tobytes()),
        (
            24,
            lambda v: b"".join(
                struct.pack("<i", int(s) * 256)[:3] for s in v
            ),  # int16 value in the top 16 of 24 bits
        ),
        (32, lambda v: (np.asarray(v).astype(np.int64) * 65536).astype("<i4").tobytes()),
    ],
    ids=["pcm8", "pcm16", "pcm24", "pcm32"],
)
@pytest.mark.parametrize("extensible", [False, True], ids=["plain", "extensible"])
def test_read_wav_integer_formats(bits: int, encode: Any, extensible: bool) -> None:
    values = [0, 256, -256, 32512, -32768, 12800]  # exact in 8 bits too
    wav = make_wav(encode(values), bits=bits, extensible=extensible, rate=22050)
    y, rate = A.read_wav(wav)
    assert rate == 22050
    assert y.dtype == np.int16
    assert y.tolist() == values


def test_read_wav_24bit_full_resolution_and_stereo() -> None:
    # 24-bit -> 16-bit drops the low byte (floor), stereo mixes down
    frames = [(0x123456, -0x123456), (-0x800000, 0x7FFFFF)]
    data = b"".join(struct.pack("<i", s)[:3] for frame in frames for s in frame)
    y, _ = A.read_wav(make_wav(data, bits=24, channels=2))
    left = [0x1234, -0x800000 >> 8]
    right = [(-0x123456) >> 8, 0x7FFF]
    assert y.tolist() == [round((a + b) / 2) for a, b in zip(left, right, strict=True)]


@pytest.mark.parametrize(("bits", "dtype"), [(32, "<f4"), (64, "<f8")])
def test_read_wav_float(bits: int, dtype: str) -> None:
    values = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5], dtype=dtype)
    y, rate = A.read_wav(make_wav(values.tobytes(), tag=3, bits=bits, rate=44100))
    assert rate == 44100
    assert y.tolist() == [0, 16384, -16384, 32767, -32767, 32767]
    stereo = np.array([[0.5, -0.5], [0.25, 0.25]], dtype=dtype)
    y, _ = A.read_wav(make_wav(stereo.tobytes(), tag=3, bits=bits, channels=2))
    assert y.tolist() == [0, 8192]


def test_read_wav_g711() -> None:
    x = np.array([0, 1000, -1000, 30000], dtype=np.int16)
    y, rate = A.read_wav(make_wav(A.ulaw_encode(x), tag=7, bits=8, rate=8000))
    assert rate == 8000
    np.testing.assert_array_equal(y, A.ulaw_decode(A.ulaw_encode(x)))
    y, _ = A.read_wav(make_wav(A.alaw_encode(x), tag=6, bits=8, rate=8000))
    np.testing.assert_array_equal(y, A.alaw_decode(A.alaw_encode(x)))


def test_read_wav_chunks_in_any_order_with_padding() -> None:
    data = np.array([1, 2, 3], np.int16).tobytes()
    odd_list = b"LIST" + struct.pack("<I", 3) + b"abc" + b"\0"  # odd size, padded
    y, _ = A.read_wav(make_wav(data, before_data=odd_list))
    assert y.tolist() == [1, 2, 3]
    y, _ = A.read_wav(make_wav(data, data_first=True))
    assert y.tolist() == [1, 2, 3]
    # trailing partial frame is dropped
    y, _ = A.read_wav(make_wav(data + b"\x05", channels=1))
    assert y.tolist() == [1, 2, 3]
    stereo = np.array([10, 20, 30, 40, 50], np.int16).tobytes()
    y, _ = A.read_wav(make_wav(stereo, channels=2))
    assert y.tolist() == [15, 35]


def test_read_wav_fewer_frames_than_channels() -> None:
    y, _ = A.read_wav(A.wav_bytes(np.array([[1000, 3000]], np.int16)))
    assert y.tolist() == [2000]
    y, _ = A.read_wav(A.wav_bytes(np.zeros((0, 2), np.int16)))
    assert y.size == 0
    six = np.arange(6, dtype=np.int16).reshape(1, 6) * 100
    y, _ = A.read_wav(make_wav(six.tobytes(), channels=6))
    assert y.tolist() == [250]


def _riff(body: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not a WAV file"),
        (b"RIFF\x00\x00\x00\x00WAV", "not a WAV file"),
        (b"ID3\x03" + b"\0" * 40, "not a WAV file"),
        (b"RIFF\x04\x00\x00\x00AVI ", "not a WAV file"),
        (b"RIFX\x04\x00\x00\x00WAVE", "big-endian"),
        (_riff(b""), "no fmt or data chunk"),
        (_riff(b"data\x02\x00\x00\x00\x01\x00"), "no fmt or data chunk"),
        (make_wav(b"")[:36], "no fmt or data chunk"),
        (_riff(b"fmt \x04\x00\x00\x00\x01\x00\x01\x00"), "fmt chunk is truncated"),
        (make_wav(b"\0\0", channels=0), "0 channels"),
        (make_wav(b"\0\0", bits=12), "unsupported WAV encoding"),
        (make_wav(b"\0\0", tag=2), "format tag 2"),
        (make_wav(b"\0\0", tag=3, bits=16), "format tag 3, 16 bits"),
    ],
    ids=[
        "empty",
        "short",
        "mp3",
        "avi",
        "rifx",
        "no-chunks",
        "no-fmt",
        "no-data",
        "truncated-fmt",
        "no-channels",
        "pcm12",
        "adpcm",
        "float16",
    ],
)
def test_read_wav_bad_files(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        A.read_wav(raw)


def test_write_wav_and_read_from_path_and_file(tmp_path: Path) -> None:
    x = (np.arange(2400) % 200 - 100).astype(np.int16)
    path = tmp_path / "a.wav"
    A.write_wav(path, x, 16000)
    y, rate = A.read_wav(path)
    assert rate == 16000
    np.testing.assert_array_equal(y, x)
    y, _ = A.read_wav(str(path))
    np.testing.assert_array_equal(y, x)
    with path.open("rb") as f:
        y, _ = A.read_wav(f)
    np.testing.assert_array_equal(y, x)


# -- load_audio -------------------------------------------------------------------------------


def _sine(rate: int, seconds: float = 0.5, f: float = 440.0) -> np.ndarray[Any, Any]:
    t = np.arange(int(rate * seconds)) / rate
    return np.round(10000 * np.sin(2 * np.pi * f * t)).astype(np.int16)


def test_load_audio_from_path_resamples(tmp_path: Path) -> None:
    path = tmp_path / "16k.wav"
    A.write_wav(path, _sine(16000), 16000)
    y = A.load_audio(path)
    assert y.dtype == np.int16
    assert len(y) == 12000
    np.testing.assert_allclose(y[240:-240], _sine(24000)[240:-240], atol=3)
    np.testing.assert_array_equal(A.load_audio(str(path)), y)


def test_load_audio_from_wav_bytes() -> None:
    wav = A.wav_bytes(_sine(48000), 48000)
    y = A.load_audio(wav)
    assert len(y) == 12000
    np.testing.assert_allclose(y[240:-240], _sine(24000)[240:-240], atol=3)
    np.testing.assert_array_equal(A.load_audio(bytearray(wav)), y)
    # a WAV's own rate wins over rate=
    np.testing.assert_array_equal(A.load_audio(wav, rate=8000), y)


def test_load_audio_from_raw_pcm_bytes() -> None:
    x = _sine(24000)
    np.testing.assert_array_equal(A.load_audio(x.tobytes()), x)
    y = A.load_audio(_sine(8000).tobytes(), rate=8000)
    assert len(y) == 12000
    np.testing.assert_allclose(y[240:-240], _sine(24000)[240:-240], atol=3)
    with pytest.raises(ValueError, match="even number"):
        A.load_audio(b"\0\0\0")


def test_load_audio_from_arrays() -> None:
    x = _sine(24000)
    np.testing.assert_array_equal(A.load_audio(x), x)
    y = A.load_audio(x.astype(np.float32) / 32767, rate=24000)
    assert np.abs(y.astype(int) - x).max() <= 1
    y = A.load_audio(_sine(44100).astype(np.float64) / 32767, rate=44100)
    assert len(y) == 12000
    np.testing.assert_allclose(y[240:-240], _sine(24000)[240:-240], atol=3)
    stereo = np.stack([_sine(16000), _sine(16000)], axis=1)
    y = A.load_audio(stereo, rate=16000)
    assert len(y) == 12000
    assert A.load_audio([0, 100, 200]).tolist() == [0, 100, 200]
