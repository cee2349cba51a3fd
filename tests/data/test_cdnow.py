import pytest

from lumos.data import cdnow_path, load_cdnow
from lumos.errors import DataValidationError


def test_real_cdnow_log():
    if cdnow_path() is None:
        pytest.skip("lifetimes is not installed")
    log = load_cdnow()
    assert len(log) == 69_659
    assert log["customer_id"].nunique() == 23_570
    assert str(log["date"].min().date()) == "1997-01-01"
    assert str(log["date"].max().date()) == "1998-06-30"
    assert (log["amount"] >= 0).all() and (log["cds"] >= 1).all()


def test_bad_or_missing_files(tmp_path):
    with pytest.raises(DataValidationError, match="does not exist"):
        load_cdnow(tmp_path / "nope.txt")
    bad = tmp_path / "CDNOW_master.txt"
    bad.write_text("customer_id date cds amount\n00001 19970101 1 11.77\n00002 1997xx12 1 12.00\n")
    with pytest.raises(DataValidationError, match=r"line 3: column 'date' holds '1997xx12'"):
        load_cdnow(bad)


def test_missing_package_says_how_to_install(monkeypatch):
    import lumos.data._cdnow as cdnow

    monkeypatch.setattr(cdnow.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataValidationError, match="pip install lifetimes") as err:
        cdnow.load_cdnow()
    assert err.value.code == "missing_dataset"
