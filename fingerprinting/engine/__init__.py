"""ZamIO fingerprinting engine (plain Python, no Django)."""

from .decode import decode
from .errors import DecodeError, FingerprintError, FormatError, TooShortError
from .fingerprint import Fingerprint, fingerprint
from .index import Index
from .matcher import DEFAULT_THRESHOLD, Match, Matcher
from .spec import FINGERPRINT_VERSION, MIN_QUERY_SECONDS, SPEC, FingerprintSpec

__all__ = [
    "DEFAULT_THRESHOLD",
    "FINGERPRINT_VERSION",
    "MIN_QUERY_SECONDS",
    "SPEC",
    "DecodeError",
    "Fingerprint",
    "FingerprintError",
    "FingerprintSpec",
    "FormatError",
    "Index",
    "Match",
    "Matcher",
    "TooShortError",
    "decode",
    "fingerprint",
]
