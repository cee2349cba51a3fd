import pandas as pd
import pytest

from lumos.data import atomic_path, read_table
from lumos.errors import DataValidationError


def test_read_table_formats(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    for name in ("t.csv", "t.parquet", "t.jsonl"):
        assert read_table(tmp_path / name)["a"].tolist() == [1, 2]


def test_read_table_errors(tmp_path):
    with pytest.raises(DataValidationError, match=r"unknown format '.xlsx'"):
        read_table(tmp_path / "t.xlsx")
    with pytest.raises(DataValidationError, match="does not exist"):
        read_table(tmp_path / "t.csv")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataValidationError, match=r"bad.parquet.*could not be read") as err:
        read_table(tmp_path / "bad.parquet")
    assert err.value.code == "unreadable_file"


def test_atomic_path_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
