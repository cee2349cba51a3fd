"""The two kinds of error Lumos raises, each with a short stable code.

``LumosUserError`` is misuse by the program's author (a wrong argument, an
unfitted model); ``DataValidationError`` is bad input data and names the file,
row and column it found wrong. The CLI prints ``error [code]: message`` and the
HTTP API returns the same code in its JSON error body.
"""

from __future__ import annotations


class LumosError(Exception):
    """Base class of Lumos's errors; ``code`` is short, stable and machine-readable."""

    code: str = "lumos_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class LumosUserError(LumosError, ValueError):
    """A Lumos API or command was used wrongly: a bad argument, an unsupported model, …"""

    code = "user_error"


class DataValidationError(LumosError, ValueError):
    """Input data is malformed; the message names the file, row and column and what to do.

    Parameters
    ----------
    message : str
        What was wrong, the value received and what to do.
    code : str, optional
        Stable code, e.g. ``"missing_column"``.
    file, row, column : optional
        Where the problem is, when known; kept as attributes for programs.
    """

    code = "invalid_data"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ):
        super().__init__(message, code=code)
        self.file = file
        self.row = row
        self.column = column
