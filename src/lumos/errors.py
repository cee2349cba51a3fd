"""The errors Lumos raises, each with a short stable code from one registry.

``LumosUserError`` is misuse by the program's author (a wrong argument, an
unfitted model); ``DataValidationError`` is bad input data and names the file,
row and column it found wrong; ``ApiError`` is what the HTTP API answers with
a status. The CLI prints ``error [code]: message`` and the HTTP API returns
the same code in its JSON error body. Every code is registered in
:data:`CODES` with its meaning; ``docs/errors.md`` is made from it.

This module imports nothing of Lumos's and nothing heavy: it sits under every
package, the command line included.
"""

from __future__ import annotations

#: Every error code Lumos uses, with what it means. A test keeps it complete.
CODES: dict[str, str] = {
    # the classes' own defaults
    "lumos_error": "An error of Lumos without a more precise code.",
    "user_error": "A Lumos function or command was used wrongly.",
    "invalid_data": "Input data is malformed.",
    "unavailable": "A part the step depends on cannot answer now; retry later.",
    # arguments and use
    "bad_argument": "An argument of a function or command has the wrong type or value.",
    "bad_method": "An attribution method that does not exist, or does not fit this model.",
    "not_fitted": "A model was used before `fit`; call `fit` (or `load` a saved one) first.",
    "missing_dependency": "An optional package this step needs is not installed.",
    "read_only": "A log or store opened read-only was asked to write.",
    "locked": "Another process holds the writer's lock of an event log.",
    "exists": "The output folder already holds files; choose another or pass overwrite.",
    "untrusted_pickle": "A pickled model was refused: loading one runs code (pass trust).",
    # files
    "file_not_found": "A file or folder the step reads does not exist.",
    "not_writable": "A folder a command writes to cannot be written.",
    "unknown_format": "A file's name does not say a format Lumos reads or writes.",
    "unreadable_file": "A file exists but could not be read or parsed as what it should be.",
    "missing_dataset": "A public dataset is not installed where Lumos looks for it.",
    "missing_table": "A folder of tables lacks a table the step needs.",
    "ambiguous_table": "A folder holds one table in two formats; keep one.",
    # tables and values
    "missing_column": "A table lacks a column the step needs.",
    "non_numeric_column": "A column that must hold numbers holds something else.",
    "bad_value": "A value in the input is missing, out of range or of the wrong kind.",
    "missing_value": "A value the step needs is absent from the input.",
    "non_binary_label": "A label column holds values other than 0 and 1.",
    "bad_shape": "An array or table has the wrong shape.",
    "duplicate": "An id, row or item appears twice where each must be unique.",
    "empty": "The input holds no rows (or none of the kind the step needs).",
    "unknown_id": "An id is not one the model or table knows.",
    "unknown_feature": "A feature name is not one of the model's features.",
    "inconsistent_feature": "A feature's values or type disagree between tables or rows.",
    "too_little_history": "The tables cover too few months for the windows asked for.",
    "too_few_labels": "Too few distinct labels or tags to fit the model.",
    "too_few_cutoffs": "Too few renewal cutoffs to train and validate on.",
    "nothing_to_score": "No row is eligible for scoring on the date asked for.",
    "no_snapshot": "A feature repository holds no snapshot on or before the date asked for.",
    # models and explanations
    "unsupported_model": "The model is of a kind Lumos cannot read, or not in the way asked.",
    "bad_model": "A saved model's parameters do not match its features.",
    "bad_model_output": "A model's predictions are not the numbers expected.",
    "scores_only": "A scores-only model cannot do what was asked (it cannot predict).",
    "unknown_model": "A model id is not one of the models published or configured.",
    "bad_model_id": "A model id is not a valid name.",
    "bad_design": "An insights design is malformed.",
    "design_mismatch": "An insights design does not match the model's features.",
    "bad_template": "A narrative template names an unknown item or is malformed.",
    "bad_attributes": "Attributions do not match the rows or the model they explain.",
    "incoherent": "A narrative's features pull the score the other way from the reason it gives.",
    # store, events, experiments
    "store_unavailable": "The online store could not be reached (Redis down, restarting or "
    "unreachable); retry later.",
    "log_unavailable": "The event log cannot write now (disk full, read-only, Redis down, …); "
    "retry later.",
    "state_unavailable": "The shared offer state's Redis could not be reached; retry later.",
    "version_exists": "A store version with that name is already published.",
    "unknown_version": "A store version is not one the store keeps.",
    "no_version": "No store version to switch to.",
    "bad_version": "A store version name is not valid.",
    "bad_record": "A stored record is damaged.",
    "record_too_large": "A member's record exceeds the store's size limit; publish fewer items.",
    "bad_event": "A funnel event is malformed, or of a type the endpoint does not take.",
    "bad_payload": "An experiment variant's payload is malformed.",
    "bad_experiments": "An experiments config is malformed.",
    "unknown_experiment": "An experiment name is not in the config.",
    "bad_unit_id": "An experiment unit id is neither a string nor an integer.",
    "bad_config": "A config file (cohorts, server) is malformed.",
    "bad_workflow": "A cohorts workflow is malformed.",
    "unknown_plugin": "A cohorts plugin name is not one Lumos knows.",
    "bad_plugin": "A cohorts plugin does not implement the plugin interface.",
    "service_failed": "A downstream service did not start or answer.",
    "port_in_use": "The port a server would listen on is taken; give another with --port.",
    "spark_worker_env": "Spark's Python workers run an interpreter that cannot import Lumos.",
    # the HTTP API
    "unauthorized": "The request needs a valid X-API-Key header (a key of the route's scope).",
    "body_too_large": "A request body is over the server's limit; send smaller batches.",
    "not_found": "No such resource (route, account or item).",
    "method_not_allowed": "The route does not take this HTTP method.",
    "invalid_request": "A request parameter or body failed validation.",
    "http_error": "An HTTP error without a more precise code.",
    "not_ready": "The server cannot answer yet (the store has no published version).",
    "no_recommendations": "The member has no list, and there is no cold-start list.",
    "no_cohorts": "The server has no cohorts configured.",
    "no_offers": "The server has no offer model.",
    "no_event_sink": "The server has no event log configured.",
    "unknown_cohort": "A cohort id is not one of the configured cohorts.",
    "cohort_unavailable": "A cohort's first-pass ranker did not answer in time.",
    "bad_page_token": "A page token is not one this server gave for this cohort.",
    "page_token_expired": "A page token's snapshot has expired; fetch the cohort again.",
}


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


class ApiError(LumosError):
    """What the HTTP API answers: JSON ``{code, message, field}`` with ``status``.

    Raised by the server and by the services it mounts (a cohort page with a
    bad token, …); ``field`` names the request parameter at fault.
    """

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message, code=code)
        self.status, self.field = status, field


class Unavailable(LumosError):
    """A part Lumos depends on cannot answer now (a disk that is full, a Redis that is
    down): not the caller's fault and not for good. A server answers it with 503 and a
    ``Retry-After`` of ``retry_after`` seconds."""

    code = "unavailable"
    retry_after: int = 5

    def __init__(self, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        if retry_after is not None:
            self.retry_after = retry_after


class LogUnavailable(Unavailable):
    """The event log cannot write now (the disk is full, read-only, failing, …): the batch
    was not written, nothing of it is in the log, and it may be sent again.

    The log tries again, from where its last acknowledged batch ended, on the next batch.

    >>> raise LogUnavailable("event log 'events': the disk is full.", retry_after=5)
    Traceback (most recent call last):
    lumos.errors.LogUnavailable: event log 'events': the disk is full.
    """

    code = "log_unavailable"


class StoreUnavailable(Unavailable):
    """The online store cannot be read or written now (its Redis is down, restarting or
    unreachable); the message says what happened to a publish under way.

    A server answers it with 503 and a ``Retry-After`` of one second, and reconnects by
    itself once the store answers again.

    >>> raise StoreUnavailable("Redis at 'redis://localhost:6379/0' did not answer.")
    Traceback (most recent call last):
    lumos.errors.StoreUnavailable: Redis at 'redis://localhost:6379/0' did not answer.
    """

    code = "store_unavailable"
    retry_after = 1


def codes_table() -> str:
    """The registry as the Markdown table of ``docs/errors.md``.

    >>> print(codes_table().splitlines()[2])
    | `lumos_error` | An error of Lumos without a more precise code. |
    """
    rows = [f"| `{code}` | {meaning} |" for code, meaning in CODES.items()]
    return "\n".join(["| code | meaning |", "|---|---|", *rows])


def __getattr__(name: str):
    """``NotFittedError``, made on first use: it is also scikit-learn's ``NotFittedError``,
    and importing scikit-learn costs a second that ``lumos --help`` should not pay."""
    if name != "NotFittedError":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from sklearn.exceptions import NotFittedError as SklearnNotFitted

    class NotFittedError(LumosUserError, SklearnNotFitted):
        """A model was used before ``fit``; also scikit-learn's ``NotFittedError``.

        >>> raise NotFittedError("This GLMix is not fitted; call fit first.")
        Traceback (most recent call last):
        lumos.errors.NotFittedError: This GLMix is not fitted; call fit first.
        """

        code = "not_fitted"

        def __init__(self, message: str):
            super().__init__(message)

    NotFittedError.__module__ = __name__
    NotFittedError.__qualname__ = name
    globals()[name] = NotFittedError
    return NotFittedError


__all__ = [
    "CODES",
    "ApiError",
    "DataValidationError",
    "LogUnavailable",
    "LumosError",
    "LumosUserError",
    "NotFittedError",  # noqa: F822 (made on first use by __getattr__)
    "StoreUnavailable",
    "Unavailable",
    "codes_table",
]
