"""One local Spark for the Spark tests, and the marks they share."""

import importlib.util

import pytest

if importlib.util.find_spec("pyspark") is None:  # the spark extra is not installed: skip these
    collect_ignore_glob = ["test_*.py"]

_MARKS = (
    pytest.mark.spark,
    # PySpark 4.x has not caught up with pandas 3; a mark outranks `-W error`
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/spark/" in str(item.path).replace("\\", "/"):
            for mark in _MARKS:
                item.add_marker(mark)


@pytest.fixture(scope="session")
def spark():
    from lumos.spark import session

    s = session("local[2]")
    yield s
    s.stop()
