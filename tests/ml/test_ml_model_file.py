"""Model files load only when safe and consistent: never pickle, never foreign types, never
features or a feature version this code does not compute, never content edited after training,
never more bytes than a model of ours could need."""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression

from kraken_tui.ml.features import BAR_FEATURES, BOOK_FEATURES, FEATURE_VERSION
from kraken_tui.ml.model_file import (
    ESTIMATOR_MEMBER,
    MAX_MODEL_BYTES,
    METADATA_MEMBER,
    ModelFileError,
    ModelMetadata,
    content_hash,
    library_versions,
    load_model,
    read_model_metadata,
    save_model,
)
from kraken_tui.ml.train import ModelKind, make_estimator


class Sneaky(LogisticRegression):
    """A class skops does not know: loading it would mean importing and running our code."""


def metadata(**changes: Any) -> ModelMetadata:
    base = ModelMetadata(
        model_kind="logreg",
        features=BAR_FEATURES.names,
        feature_version=FEATURE_VERSION,
        horizon=5,
        fee_rate=0.004,
        interval=1,
        symbol="XBT/USD",
        train_start="2025-01-01T00:00:00+00:00",
        train_end="2025-02-01T00:00:00+00:00",
        n_samples=500,
        metrics={"oos_auc": 0.5},
        libraries=library_versions(),
    )
    return replace(base, **changes)


def fitted(kind: ModelKind = "logreg", estimator: Any = None) -> Any:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, len(BAR_FEATURES.names)))
    y = (x[:, 0] + rng.standard_normal(600) > 0).astype(int)
    model = estimator if estimator is not None else make_estimator(kind)
    return model.fit(x, y)


def write_raw(path: Path, described: ModelMetadata, estimator_bytes: bytes) -> Path:
    """A file as an older or foreign writer would make it, with a hash that matches."""
    stored = replace(described, content_sha256="")
    stored = replace(stored, content_sha256=content_hash(estimator_bytes, stored))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA_MEMBER, json.dumps(stored.to_json()))
        archive.writestr(ESTIMATOR_MEMBER, estimator_bytes)
    return path


@pytest.mark.parametrize("kind", ["logreg", "gbt"])
def test_a_saved_model_loads_back_with_identical_predictions_and_metadata(
    kind: ModelKind, tmp_path: Path
) -> None:
    estimator = fitted(kind)
    stored = save_model(tmp_path / "m.ktmodel", estimator, metadata(model_kind=kind))
    loaded = load_model(tmp_path / "m.ktmodel")
    x = np.random.default_rng(1).standard_normal((50, len(BAR_FEATURES.names)))
    np.testing.assert_array_equal(
        loaded.estimator.predict_proba(x),
        estimator.predict_proba(x),
    )
    assert loaded.metadata == stored
    assert len(stored.content_sha256) == 64
    assert stored.libraries["scikit-learn"] != "not installed"
    assert read_model_metadata(tmp_path / "m.ktmodel") == stored


@pytest.mark.parametrize("suffix", [".pkl", ".joblib", ".pickle"])
def test_pickle_files_are_refused_by_name(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle.dumps(fitted()))
    with pytest.raises(ModelFileError, match="pickle files are never loaded"):
        load_model(path)


def test_a_pickle_stream_under_a_model_name_is_refused_without_being_unpickled(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (marker.write_text, ("code ran",))

    path = tmp_path / "model.ktmodel"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ModelFileError, match="pickle stream"):
        load_model(path)
    assert not marker.exists()


def test_a_file_that_is_not_a_model_file_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.ktmodel"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError, match="not a kraken-tui model file"):
        load_model(garbage)
    other_zip = tmp_path / "other.ktmodel"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match=r"members: readme\.txt"):
        load_model(other_zip)
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.ktmodel")


def test_a_model_trained_on_another_feature_version_is_refused(tmp_path: Path) -> None:
    path = write_raw(
        tmp_path / "old.ktmodel",
        metadata(feature_version=FEATURE_VERSION - 1),
        skops.io.dumps(fitted()),
    )
    with pytest.raises(ModelFileError, match="feature version"):
        load_model(path)


def test_a_model_whose_features_this_code_does_not_compute_is_refused(tmp_path: Path) -> None:
    renamed = (*BAR_FEATURES.names[:-1], "moon_phase")
    path = write_raw(tmp_path / "odd.ktmodel", metadata(features=renamed), skops.io.dumps(fitted()))
    with pytest.raises(ModelFileError, match="moon_phase"):
        load_model(path)
    reordered = tuple(reversed(BAR_FEATURES.names))
    path = write_raw(
        tmp_path / "order.ktmodel", metadata(features=reordered), skops.io.dumps(fitted())
    )
    with pytest.raises(ModelFileError, match="in that order"):
        load_model(path)


def test_an_estimator_taking_a_different_number_of_features_is_refused(tmp_path: Path) -> None:
    path = write_raw(
        tmp_path / "wide.ktmodel",
        metadata(features=BOOK_FEATURES.names),
        skops.io.dumps(fitted()),
    )
    with pytest.raises(ModelFileError, match="takes 12 features, metadata lists 13"):
        load_model(path)


def test_metadata_edited_after_training_breaks_the_recorded_hash(tmp_path: Path) -> None:
    path = tmp_path / "m.ktmodel"
    save_model(path, fitted(), metadata())
    with zipfile.ZipFile(path) as archive:
        raw = json.loads(archive.read(METADATA_MEMBER))
        estimator_bytes = archive.read(ESTIMATOR_MEMBER)
    raw["horizon"] = 60
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA_MEMBER, json.dumps(raw))
        archive.writestr(ESTIMATOR_MEMBER, estimator_bytes)
    with pytest.raises(ModelFileError, match="content hash differs"):
        load_model(path)


def test_a_swapped_estimator_breaks_the_recorded_hash(tmp_path: Path) -> None:
    path = tmp_path / "m.ktmodel"
    save_model(path, fitted(), metadata())
    with zipfile.ZipFile(path) as archive:
        described = archive.read(METADATA_MEMBER)
    other = fitted(estimator=LogisticRegression(C=1e-3))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA_MEMBER, described)
        archive.writestr(ESTIMATOR_MEMBER, skops.io.dumps(other))
    with pytest.raises(ModelFileError, match="content hash differs"):
        load_model(path)


def test_an_estimator_of_an_untrusted_type_is_refused_even_with_a_valid_hash(
    tmp_path: Path,
) -> None:
    path = write_raw(
        tmp_path / "sneaky.ktmodel", metadata(), skops.io.dumps(fitted(estimator=Sneaky()))
    )
    with pytest.raises(ModelFileError, match=r"untrusted types .*Sneaky"):
        load_model(path)


def test_saving_under_a_pickle_suffix_or_with_unknown_features_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="means pickle"):
        save_model(tmp_path / "m.pkl", fitted(), metadata())
    with pytest.raises(ValueError, match="sentiment"):
        save_model(tmp_path / "m.ktmodel", fitted(), metadata(features=("sentiment",)))


LIMIT = f"over the {MAX_MODEL_BYTES:,} bytes (64.0 MiB) limit for model files"


def test_a_model_file_larger_than_the_limit_is_refused_naming_its_size(tmp_path: Path) -> None:
    """A valid model behind a (sparse) run of padding: a ZIP reader finds its archive from the
    end, so without a size check the whole file would be accepted."""
    model = tmp_path / "m.ktmodel"
    save_model(model, fitted(), metadata())
    huge = tmp_path / "huge.ktmodel"
    with huge.open("wb") as handle:
        handle.seek(MAX_MODEL_BYTES)
        handle.write(model.read_bytes())
    size = huge.stat().st_size
    for read in (load_model, read_model_metadata):
        with pytest.raises(ModelFileError) as refused:
            read(huge)
        assert f"{huge}: the file is {size:,} bytes" in str(refused.value)
        assert LIMIT in str(refused.value)


def test_a_small_model_file_that_unpacks_past_the_limit_is_refused_before_unpacking(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "bomb.ktmodel"
    megabyte = bytes(2**20)
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_MEMBER, json.dumps(metadata().to_json()))
        with archive.open(ESTIMATOR_MEMBER, "w", force_zip64=True) as member:
            for _ in range(MAX_MODEL_BYTES // len(megabyte) + 1):
                member.write(megabyte)
    assert bomb.stat().st_size < len(megabyte)
    unpacked = sum(member.file_size for member in zipfile.ZipFile(bomb).infolist())
    for read in (load_model, read_model_metadata):
        with pytest.raises(ModelFileError) as refused:
            read(bomb)
        assert f"{bomb}: the file unpacks to {unpacked:,} bytes" in str(refused.value)
        assert LIMIT in str(refused.value)


def test_a_member_holding_more_than_its_declared_size_is_refused_as_corrupt(
    tmp_path: Path,
) -> None:
    """The size check trusts the sizes an archive declares; a member that lies about its size
    must then fail as a bad model file rather than be read past what it declared."""
    path = tmp_path / "m.ktmodel"
    save_model(path, fitted(), metadata())
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")  # central directory entries, one per member
    while data[entry + 46 : entry + 46 + len(ESTIMATOR_MEMBER)] != ESTIMATOR_MEMBER.encode():
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, entry + 24, 100)  # the central directory's uncompressed size
    path.write_bytes(data)
    with pytest.raises(ModelFileError, match=r"corrupt model file: Bad CRC-32"):
        load_model(path)
