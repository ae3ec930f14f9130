"""Model files that cannot run code when loaded, and that refuse to be used with features they
were not trained on.

A model file is a ZIP archive of two members:

* `metadata.json` — what the model expects and how it was made: the ordered feature list and
  feature version, label horizon and fee, bar interval and symbol, training range, metrics,
  library versions, and `content_sha256`;
* `model.skops` — the fitted estimator in skops' format, which rebuilds objects from a schema
  instead of executing pickle opcodes; only types on an explicit allow-list are rebuilt.

`content_sha256` covers the estimator bytes and every other metadata field, so a file edited
after training (a swapped estimator, a changed horizon) no longer matches what was recorded.
Raw pickle (and joblib) is never loaded: unpickling runs arbitrary code by design.

A model file may come from someone else, so its size is checked before anything is read: the
file on disk and the sizes its members unpack to, which a ZIP archive declares up front (a few
kilobytes of deflated zeros can unpack to gigabytes). The limit, `MAX_MODEL_BYTES`, is far above
any model this code makes: `ml train`'s gradient boosting unpacks to about 0.3 MB, and even
1000 trees of 255 leaves unpack to about 32 MB.
"""

from __future__ import annotations

import hashlib
import json
import platform
import zipfile
from dataclasses import asdict, dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from loguru import logger

from kraken_tui.ml.features import FEATURE_VERSION, FeatureMismatchError, resolve_feature_set

FORMAT_NAME = "kraken-tui-model"
FORMAT_VERSION = 1
METADATA_MEMBER = "metadata.json"
ESTIMATOR_MEMBER = "model.skops"
TRUSTED_TYPES = frozenset(
    {
        # skops trusts scikit-learn's plain estimators itself; the fitted trees of
        # HistGradientBoostingClassifier are the one extra type our models contain.
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)
ESTIMATOR_CLASSES = frozenset(
    {
        "sklearn.pipeline.Pipeline",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    }
)
PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".sav"})
MAX_MODEL_BYTES = 64 * 1024 * 1024
RECORDED_LIBRARIES = ("kraken-tui", "scikit-learn", "skops", "numpy", "polars")


class ModelFileError(ValueError):
    """A model file that must not be used; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """Everything recorded about a model at training time (the JSON member of the file)."""

    model_kind: str
    features: tuple[str, ...]
    feature_version: int
    horizon: int
    fee_rate: float
    interval: int
    symbol: str
    train_start: str
    train_end: str
    n_samples: int
    metrics: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    content_sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = list(self.features)
        return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **data}

    @classmethod
    def from_json(cls, raw: Any, source: Path) -> ModelMetadata:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
            raise ModelFileError(f"{source}: not a kraken-tui model file (no model metadata)")
        if raw.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(
                f"{source}: model file format {raw.get('format_version')!r} is not supported "
                f"(this version reads format {FORMAT_VERSION}); retrain the model"
            )
        fields = {k: v for k, v in raw.items() if k not in ("format", "format_version")}
        try:
            fields["features"] = tuple(fields["features"])
            return cls(**fields)
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"{source}: malformed model metadata: {exc}") from None


@dataclass(frozen=True, slots=True)
class LoadedModel:
    estimator: Any
    metadata: ModelMetadata


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a model's behaviour, recorded for reproducibility."""
    versions = {"python": platform.python_version()}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def content_hash(estimator_bytes: bytes, metadata: ModelMetadata) -> str:
    """SHA-256 over the estimator bytes and the canonical JSON of every other metadata field."""
    described = metadata.to_json()
    described.pop("content_sha256")
    canonical = json.dumps(described, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256()
    digest.update(len(estimator_bytes).to_bytes(8, "big"))
    digest.update(estimator_bytes)
    digest.update(canonical)
    return digest.hexdigest()


def save_model(path: str | Path, estimator: Any, metadata: ModelMetadata) -> ModelMetadata:
    """Write `estimator` with `metadata` (its hash filled in here); returns the metadata as
    stored. The write goes through a temporary file so a crash never leaves half a model."""
    import skops.io

    resolve_feature_set(metadata.features)
    target = Path(path)
    if target.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelFileError(f"{target}: pick another suffix; {target.suffix} means pickle")
    estimator_bytes = skops.io.dumps(estimator)
    stored = _with_hash(metadata, estimator_bytes)
    partial = target.with_name(f".{target.name}.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_MEMBER, json.dumps(stored.to_json(), indent=2))
        archive.writestr(ESTIMATOR_MEMBER, estimator_bytes)
    partial.replace(target)
    return stored


def _with_hash(metadata: ModelMetadata, estimator_bytes: bytes) -> ModelMetadata:
    fields = asdict(metadata)
    fields["features"] = tuple(metadata.features)
    fields["content_sha256"] = ""
    unhashed = ModelMetadata(**fields)
    fields["content_sha256"] = content_hash(estimator_bytes, unhashed)
    return ModelMetadata(**fields)


def read_model_metadata(path: str | Path) -> ModelMetadata:
    """The metadata of a model file, checked for format and features but without loading the
    estimator (for listing and reporting)."""
    source = _model_path(path)
    metadata, _ = _read_members(source)
    _check_features(metadata, source)
    return metadata


def load_model(path: str | Path) -> LoadedModel:
    """Load a model file, refusing pickle, foreign formats, features or a feature version this
    code does not compute, content that differs from what was recorded, and any type outside
    the allow-list."""
    import skops.io

    source = _model_path(path)
    metadata, estimator_bytes = _read_members(source)
    _check_features(metadata, source)
    if content_hash(estimator_bytes, metadata) != metadata.content_sha256:
        raise ModelFileError(
            f"{source}: content hash differs from the one recorded at training; "
            "the file was modified or corrupted, retrain or restore it"
        )
    untrusted = set(skops.io.get_untrusted_types(data=estimator_bytes)) - TRUSTED_TYPES
    if untrusted:
        raise ModelFileError(
            f"{source}: refusing to load untrusted types {', '.join(sorted(untrusted))}"
        )
    estimator = skops.io.loads(estimator_bytes, trusted=sorted(TRUSTED_TYPES))
    _check_estimator(estimator, metadata, source)
    _warn_on_library_drift(metadata, source)
    return LoadedModel(estimator, metadata)


def _model_path(path: str | Path) -> Path:
    source = Path(path).expanduser()
    if not source.is_file():
        raise ModelFileError(f"model file not found: {source}")
    size = source.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelFileError(
            f"{source}: the file is {_bytes(size)}, over the {_bytes(MAX_MODEL_BYTES)} limit "
            "for model files; refusing to read it"
        )
    if source.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelFileError(
            f"{source}: pickle files are never loaded (unpickling can run arbitrary code); "
            "train a model with `kraken-tui ml train`"
        )
    with source.open("rb") as handle:
        head = handle.read(2)
    if len(head) == 2 and head[0] == 0x80 and head[1] <= 5:
        raise ModelFileError(
            f"{source}: this is a pickle stream; pickle files are never loaded "
            "(unpickling can run arbitrary code)"
        )
    if not zipfile.is_zipfile(source):
        raise ModelFileError(f"{source}: not a kraken-tui model file")
    return source


def _read_members(source: Path) -> tuple[ModelMetadata, bytes]:
    with zipfile.ZipFile(source) as archive:
        members = archive.infolist()
        names = {member.filename for member in members}
        if len(members) != 2 or names != {METADATA_MEMBER, ESTIMATOR_MEMBER}:
            listed = ", ".join(sorted(member.filename for member in members))
            raise ModelFileError(f"{source}: not a kraken-tui model file (members: {listed})")
        unpacked = sum(member.file_size for member in members)
        if unpacked > MAX_MODEL_BYTES:
            raise ModelFileError(
                f"{source}: the file unpacks to {_bytes(unpacked)}, over the "
                f"{_bytes(MAX_MODEL_BYTES)} limit for model files; refusing to unpack it"
            )
        try:
            raw = json.loads(_read_member(archive, METADATA_MEMBER))
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{source}: unreadable model metadata: {exc}") from None
        metadata = ModelMetadata.from_json(raw, source)
        return metadata, _read_member(archive, ESTIMATOR_MEMBER)


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """The member's bytes, never more than the limit in memory even if its declared size
    lies: zipfile decompresses at most what `read` asks for, returns at most the declared size
    and then fails the CRC of a member that holds more."""
    try:
        with archive.open(name) as member:
            return member.read(MAX_MODEL_BYTES)
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{archive.filename}: corrupt model file: {exc}") from None


def _bytes(count: int) -> str:
    return f"{count:,} bytes ({count / 2**20:.1f} MiB)"


def _check_features(metadata: ModelMetadata, source: Path) -> None:
    if metadata.feature_version != FEATURE_VERSION:
        raise ModelFileError(
            f"{source}: trained on feature version {metadata.feature_version}, but this "
            f"version of kraken-tui computes feature version {FEATURE_VERSION}; retrain the model"
        )
    try:
        resolve_feature_set(metadata.features)
    except FeatureMismatchError as exc:
        raise ModelFileError(f"{source}: {exc}; retrain the model") from None


def _check_estimator(estimator: Any, metadata: ModelMetadata, source: Path) -> None:
    kind = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    if kind not in ESTIMATOR_CLASSES:
        raise ModelFileError(f"{source}: unexpected estimator type {kind}")
    if getattr(estimator, "n_features_in_", None) != len(metadata.features):
        raise ModelFileError(
            f"{source}: estimator takes {getattr(estimator, 'n_features_in_', '?')} features, "
            f"metadata lists {len(metadata.features)}"
        )
    classes = [int(c) for c in getattr(estimator, "classes_", [])]
    if classes != [0, 1]:
        raise ModelFileError(f"{source}: estimator is not a binary up/down classifier")


def _warn_on_library_drift(metadata: ModelMetadata, source: Path) -> None:
    current = library_versions()
    for name in ("scikit-learn", "skops"):
        recorded = metadata.libraries.get(name)
        if recorded is not None and recorded != current.get(name):
            logger.warning(
                "{}: trained with {} {}, running {}; predictions may differ slightly",
                source,
                name,
                recorded,
                current.get(name),
            )


__all__ = [
    "ESTIMATOR_CLASSES",
    "MAX_MODEL_BYTES",
    "TRUSTED_TYPES",
    "LoadedModel",
    "ModelFileError",
    "ModelMetadata",
    "content_hash",
    "library_versions",
    "load_model",
    "read_model_metadata",
    "save_model",
]
