"""Market data: providers, validation and the bar cache."""

from core.data.providers import (
    TIMEFRAMES,
    CachedProvider,
    DataError,
    DataProvider,
    FileProvider,
    SampleProvider,
    SeriesInfo,
)
from core.data.validate import DataValidationError, ValidationReport, normalize_frame, validate_ohlcv

__all__ = [
    "TIMEFRAMES",
    "CachedProvider",
    "DataError",
    "DataProvider",
    "DataValidationError",
    "FileProvider",
    "SampleProvider",
    "SeriesInfo",
    "ValidationReport",
    "normalize_frame",
    "validate_ohlcv",
]
