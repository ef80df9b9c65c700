"""Run the GE suites on frames and publish sample-free results.

The columns validated here carry resident IDs, names and bank card numbers, so
nothing that leaves this module holds a cell value:

* every run uses :data:`RESULT_FORMAT` -- ``SUMMARY`` with
  ``partial_unexpected_count: 0`` and ``exclude_unexpected_values: True`` -- so
  GE computes no samples, no value counts, no index lists and no index query
  (verified by the tests on GE's raw result);
* :func:`validate_frame` returns a whitelisted dict (:func:`scrub`) built from
  counts, the suite's expectation configuration (reference data, never cell
  data) and each expectation's ``meta``; exception messages and tracebacks, which
  could quote a value, are reduced to a boolean;
* :func:`write_data_docs` renders GE Data Docs from those scrubbed dicts only:
  it rebuilds GE result objects from them in a fresh in-memory context, so GE's
  renderers never see more than the whitelist (the "scrub before rendering"
  route; GE's own Data Docs, not a hand-made page).

A single ephemeral GE context is created per process on first use and reused
(:func:`get_context`); GE is imported only by this package.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import pathlib
import re
import shutil
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context import set_context
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

import validations.expectations  # noqa: F401  (registers the custom expectations)
from claims.logs import quiet_third_party

quiet_third_party()  # GE's import set one of its loggers to INFO (claims/logs.py)

__all__ = [
    "RESULT_FORMAT",
    "frame_from_arrow",
    "get_context",
    "scrub",
    "unexpected_counts",
    "validate_frame",
    "write_data_docs",
]

#: Result format of every run: counts only, no samples of any kind.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "SUMMARY",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "include_unexpected_rows": False,
    "return_unexpected_index_query": False,
}

_DATASOURCE = "claims_frames"
_ASSET = "frame"
_BATCH_DEFINITION = "whole_frame"
_DOCS_SITE = "quality_docs"  # an ephemeral context already knows "local_site"
_SITE_ENTRIES = ("index.html", "validations", "expectations", "static")

_lock = threading.RLock()
_context = None
_batch_definition = None

_RESULT_KEYS = (
    "expectation_type",
    "column",
    "field",
    "reason_code",
    "success",
    "element_count",
    "unexpected_count",
    "raised_exception",
    "kwargs",
)
_STATISTICS_KEYS = (
    "evaluated_expectations",
    "successful_expectations",
    "unsuccessful_expectations",
    "success_percent",
)


def _new_context():
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def get_context():
    """The process's ephemeral GE context (created on first use, then reused)."""
    global _context, _batch_definition
    with _lock:
        if _context is None:
            context = _new_context()
            asset = context.data_sources.add_pandas(_DATASOURCE).add_dataframe_asset(_ASSET)
            _batch_definition = asset.add_batch_definition_whole_dataframe(_BATCH_DEFINITION)
            _context = context
        return _context


def frame_from_arrow(table) -> pd.DataFrame:
    """The frame GE validates, from an ingestion Arrow table (all strings, never null).

    Empty strings become nulls, as the suites expect (``MISSING_VALUE`` is the
    not-null expectation); every other value is kept as it is -- a blank
    ``worker_name`` stays blank text, caught by its ``\\S`` expectation. String
    columns come out as pandas' ``str`` dtype.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    for name in table.column_names:
        column = table[name]
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)
        columns[name] = column
    return pa.table(columns).to_pandas()


def validate_frame(source: str, frame: pd.DataFrame, suite: gx.ExpectationSuite) -> dict:
    """Validate ``frame`` (the rows of the file ``source``) with ``suite``.

    Returns the scrubbed, JSON-serialisable result (see :func:`scrub`):
    ``{"suite", "source", "success", "statistics", "results", "validated_at",
    "great_expectations_version"}`` where each result is ``{"expectation_type",
    "column", "field", "reason_code", "success", "element_count",
    "unexpected_count", "raised_exception", "kwargs"}``. A column missing from
    the frame makes its expectations fail with ``raised_exception: true`` and
    null counts.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("frame must be a pandas DataFrame")
    with _lock:
        context = get_context()
        stored = context.suites.add_or_update(suite)
        batch = _batch_definition.get_batch(batch_parameters={"dataframe": frame})
        validated_at = dt.datetime.now(dt.UTC)
        result = batch.validate(stored, result_format=RESULT_FORMAT)
    return scrub(result, source=source, suite=stored, validated_at=validated_at)


# --------------------------------------------------------------------------
# Scrubbing.
# --------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """Reference data from an expectation's kwargs as plain JSON."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_json_value(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return str(value)


def _count(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _scrub_one(item: Any) -> dict:
    if isinstance(item, ExpectationValidationResult):
        config = item.expectation_config
        expectation_type = config.type if config is not None else None
        kwargs = dict(config.kwargs) if config is not None else {}
        meta = dict(config.meta or {}) if config is not None else {}
        result = item.result or {}
        exception_info = item.exception_info or {}
        raised = bool(exception_info.get("raised_exception")) or any(
            isinstance(v, Mapping) and v.get("raised_exception") for v in exception_info.values()
        )
        success = bool(item.success)
        column = kwargs.get("column")
        field = meta.get("field", column)
        reason_code = meta.get("reason_code")
    elif isinstance(item, Mapping):  # an already scrubbed entry: whitelist again
        expectation_type = item.get("expectation_type")
        kwargs = dict(item.get("kwargs") or {})
        result = item
        raised = bool(item.get("raised_exception"))
        success = bool(item.get("success"))
        column = item.get("column", kwargs.get("column"))
        field = item.get("field", column)
        reason_code = item.get("reason_code")
    else:
        raise TypeError(f"not an expectation result: {type(item).__name__}")
    kwargs.pop("batch_id", None)
    return {
        "expectation_type": None if expectation_type is None else str(expectation_type),
        "column": None if column is None else str(column),
        "field": None if field is None else str(field),
        "reason_code": None if reason_code is None else str(reason_code),
        "success": success,
        "element_count": _count(result.get("element_count")),
        "unexpected_count": _count(result.get("unexpected_count")),
        "raised_exception": raised,
        "kwargs": _json_value(kwargs),
    }


def scrub(
    result: ExpectationSuiteValidationResult | Mapping,
    *,
    source: str | None = None,
    suite: gx.ExpectationSuite | None = None,
    validated_at: dt.datetime | None = None,
) -> dict:
    """A whitelisted, JSON-serialisable copy of a suite validation result.

    Accepts GE's result object or a dict this function produced (which is
    whitelisted again). Keeps names, counts, success flags, the expectation's
    configuration kwargs (minus ``batch_id``) and its ``field``/``reason_code``
    meta; drops everything else, in particular ``partial_unexpected_list``,
    ``partial_unexpected_counts``, index lists and queries, exception messages and
    tracebacks and GE's batch metadata (which holds a fingerprint of the data).
    Results follow the suite's expectation order when ``suite`` is given.
    """
    if isinstance(result, ExpectationSuiteValidationResult):
        items = list(result.results)
        if suite is not None:
            order = {e.id: i for i, e in enumerate(suite.expectations) if e.id is not None}
            items.sort(key=lambda r: order.get(getattr(r.expectation_config, "id", None), len(order)))
        statistics = dict(result.statistics or {})
        scrubbed = {
            "suite": str(result.suite_name),
            "source": source,
            "success": bool(result.success),
            "validated_at": (validated_at or dt.datetime.now(dt.UTC)).isoformat(),
            "great_expectations_version": gx.__version__,
        }
    elif isinstance(result, Mapping):
        items = list(result.get("results") or [])
        statistics = dict(result.get("statistics") or {})
        when = validated_at.isoformat() if validated_at else result.get("validated_at")
        scrubbed = {
            "suite": str(result.get("suite")),
            "source": source if source is not None else result.get("source"),
            "success": bool(result.get("success")),
            "validated_at": None if when is None else str(when),
            "great_expectations_version": str(result.get("great_expectations_version") or gx.__version__),
        }
    else:
        raise TypeError(f"not a suite validation result: {type(result).__name__}")
    scrubbed["source"] = None if scrubbed["source"] is None else str(scrubbed["source"])
    scrubbed["statistics"] = {
        key: (_json_value(statistics.get(key)) if key == "success_percent" else _count(statistics.get(key)))
        for key in _STATISTICS_KEYS
    }
    scrubbed["results"] = [_scrub_one(item) for item in items]
    return scrubbed


def unexpected_counts(scrubbed: Mapping) -> dict[tuple[str, str], int]:
    """Unexpected rows per ``(field, reason_code)``, summed over expectations.

    This is what a file's rejection lines of the covered rules should count.
    A failed expectation (exception) raises ``ValueError``: it counted nothing.
    """
    counts: dict[tuple[str, str], int] = {}
    for entry in scrubbed["results"]:
        if entry["raised_exception"] or entry["unexpected_count"] is None:
            raise ValueError(
                f"expectation {entry['expectation_type']} on {entry['column']!r} raised an exception"
            )
        key = (entry["field"], entry["reason_code"])
        counts[key] = counts.get(key, 0) + entry["unexpected_count"]
    return counts


# --------------------------------------------------------------------------
# Data Docs.
# --------------------------------------------------------------------------


def _safe_name(text: str, limit: int = 80) -> str:
    """A file-name-safe rendering of ``text`` (with a short hash to keep it unique)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("._") or "run"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:limit]}-{digest}"


def _rebuild(
    scrubbed: Mapping, run_id: RunIdentifier
) -> tuple[gx.ExpectationSuite, ExpectationSuiteValidationResult]:
    """GE objects carrying nothing but the scrubbed dict's content."""
    configurations = []
    results = []
    for entry in scrubbed["results"]:
        kwargs = dict(entry["kwargs"])
        if entry["column"] is not None:
            kwargs.setdefault("column", entry["column"])
        configuration = ExpectationConfiguration(
            type=entry["expectation_type"],
            kwargs=kwargs,
            meta={"field": entry["field"], "reason_code": entry["reason_code"]},
        )
        configurations.append(configuration)
        element_count = entry["element_count"]
        unexpected_count = entry["unexpected_count"]
        result: dict[str, Any] = {}
        if element_count is not None and unexpected_count is not None:
            percent = (unexpected_count / element_count * 100) if element_count else 0.0
            result = {
                "element_count": element_count,
                "unexpected_count": unexpected_count,
                "unexpected_percent": percent,
                "unexpected_percent_total": percent,
            }
        results.append(
            ExpectationValidationResult(
                success=entry["success"],
                expectation_config=configuration,
                result=result,
                exception_info={
                    "raised_exception": entry["raised_exception"],
                    "exception_message": "the expectation raised an exception (details withheld)"
                    if entry["raised_exception"]
                    else None,
                    "exception_traceback": None,
                },
            )
        )
    suite = gx.ExpectationSuite(name=scrubbed["suite"])
    for configuration in configurations:
        suite.add_expectation_configuration(configuration)
    statistics = dict(scrubbed["statistics"])
    suite_result = ExpectationSuiteValidationResult(
        success=scrubbed["success"],
        results=results,
        suite_name=scrubbed["suite"],
        statistics=statistics,
        meta={
            "great_expectations_version": scrubbed.get("great_expectations_version"),
            "run_id": run_id,
            "validation_time": scrubbed.get("validated_at"),
            # Shown as "Data asset" and under "Show more info": the file, nothing of its rows.
            "batch_spec": {"data_asset_name": scrubbed.get("source") or "", "source": scrubbed.get("source") or ""},
        },
    )
    return suite, suite_result


def write_data_docs(
    validation_results: Iterable[Mapping | ExpectationSuiteValidationResult],
    out_dir: pathlib.Path,
) -> pathlib.Path:
    """Build GE Data Docs (static HTML) for the given runs into ``out_dir``.

    ``validation_results`` are dicts returned by :func:`validate_frame` (or
    read back from their JSON) or GE suite results; each is scrubbed (again)
    and the docs are rendered from the scrubbed content only, in a fresh
    ephemeral context holding just these runs and their suites; ``out_dir`` is
    the site's own directory (a previous site in it is replaced). No cell value
    can therefore reach the HTML: GE is not trusted to leave samples out, the
    samples are simply never given to it. Returns the path of ``index.html``.
    """
    out_dir = pathlib.Path(out_dir)
    runs = [scrub(item) for item in validation_results]
    out_dir.mkdir(parents=True, exist_ok=True)
    # A rebuild replaces the previous site (GE would leave stale run pages behind).
    for name in _SITE_ENTRIES:
        stale = out_dir / name
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    with _lock:
        current = _context
        docs_context = _new_context()
        try:
            docs_context.add_data_docs_site(
                site_name=_DOCS_SITE,
                site_config={
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(out_dir.resolve()),
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
            suites: dict[str, gx.ExpectationSuite] = {}
            for n, run in enumerate(runs):
                when = run.get("validated_at")
                run_id = RunIdentifier(
                    run_name=f"run-{n:04d}",
                    run_time=dt.datetime.fromisoformat(when) if when else None,
                )
                suite, suite_result = _rebuild(run, run_id)
                suites[suite.name] = suite
                key = ValidationResultIdentifier(
                    expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
                    run_id=run_id,
                    batch_identifier=_safe_name(run.get("source") or f"run-{n}"),
                )
                docs_context.validation_results_store.set(key, suite_result)
            for suite in suites.values():
                docs_context.suites.add_or_update(suite)
            docs_context.build_data_docs(site_names=[_DOCS_SITE])
        finally:
            if current is not None:
                set_context(current)
    return out_dir / "index.html"
