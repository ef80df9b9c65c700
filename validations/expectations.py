"""Custom Great Expectations (1.x) column map expectations for our identifiers.

Two expectations, each an independent implementation of a rule in
``docs/validation-rules.md`` on top of python-stdnum, for the pandas engine:

``ExpectColumnValuesToBeResidentIds`` (reason code ``INVALID_RESIDENT_ID``)
    ``^[0-9]{17}[0-9X]$``; the first two digits are one of the given
    province-level codes (``province_codes``: 2-digit prefixes or 6-digit
    ``XX0000`` codes; the suites add the 81/82/83 prefixes of Hong Kong, Macau
    and Taiwan residence permits); the birth date YYYYMMDD is a real date
    between ``min_birth_date`` (default 1900-01-01) and ``max_birth_date`` (the
    partition's date); the check character is ISO 7064 MOD 11-2
    (``stdnum.iso7064.mod_11_2``). The county part is not checked, so IDs of
    abolished counties pass. ``stdnum.cn.ric.validate`` is deliberately not
    used: it rejects residence permits and abolished county codes.

``ExpectColumnValuesToBeLuhnValidCardNumbers`` (``INVALID_BANK_ACCOUNT``)
    16 to 19 ASCII digits and a valid Luhn check digit (``stdnum.luhn``).

Both are registered with GE when this module is imported (GE's expectation
metaclass and metric metaclass register every concrete subclass), so they are
used like core expectations: ``ExpectColumnValuesToBeResidentIds(column=...,
province_codes=[...], max_birth_date="2025-07-01")`` in a suite, and they
survive a round trip through a context's suite store.

As with every GE map expectation, null values (None/NaN) are not tested: they
are counted by the separate not-null expectation (``MISSING_VALUE``). A non-null
value that is not a ``str`` is unexpected: the frame holds text.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from typing import ClassVar

import pandas as pd
from great_expectations.compatibility import pydantic
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer
from great_expectations.render.renderer_configuration import (
    RendererConfiguration,
    RendererValueType,
)
from stdnum import luhn
from stdnum.iso7064 import mod_11_2

__all__ = [
    "ExpectColumnValuesToBeLuhnValidCardNumbers",
    "ExpectColumnValuesToBeResidentIds",
    "is_luhn_card_number",
    "is_resident_id",
    "province_prefixes",
]

_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
_CARD_NUMBER = re.compile(r"[0-9]{16,19}")
_PROVINCE_CODE = re.compile(r"[0-9]{2}(?:0000)?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --------------------------------------------------------------------------
# Plain functions (the per-value rules), usable without GE.
# --------------------------------------------------------------------------


def province_prefixes(codes: Iterable[str]) -> frozenset[str]:
    """The 2-digit prefixes of province-level codes given as ``XX`` or ``XX0000``."""
    prefixes = set()
    for code in codes:
        if not isinstance(code, str) or not _PROVINCE_CODE.fullmatch(code):
            raise ValueError(f"not a 2-digit prefix or a 6-digit province-level code: {code!r}")
        prefixes.add(code[:2])
    return frozenset(prefixes)


def _compact_date(value: str | _dt.date) -> str:
    """``YYYYMMDD`` of an ISO date string or a date (validated)."""
    if isinstance(value, _dt.date):
        return value.strftime("%Y%m%d")
    return _dt.date.fromisoformat(value).strftime("%Y%m%d")


def is_resident_id(
    value: object,
    prefixes: frozenset[str],
    min_birth: str = "19000101",
    max_birth: str = "99991231",
) -> bool:
    """True when ``value`` is an 18-character resident ID per docs/validation-rules.md.

    ``prefixes`` are the accepted 2-digit province prefixes, ``min_birth`` and
    ``max_birth`` the inclusive birth-date bounds as ``YYYYMMDD``.
    """
    if not isinstance(value, str):
        return False
    value = value.upper()  # a lowercase x check character is the same ID (stdnum reads it so too)
    if not _RESIDENT_ID.fullmatch(value):
        return False
    if value[:2] not in prefixes:
        return False
    birth = value[6:14]
    if not min_birth <= birth <= max_birth:
        return False
    try:
        _dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    except ValueError:
        return False
    return mod_11_2.is_valid(value)


def is_luhn_card_number(value: object) -> bool:
    """True when ``value`` is 16-19 ASCII digits with a valid Luhn check digit."""
    if not isinstance(value, str) or not _CARD_NUMBER.fullmatch(value):
        return False
    return luhn.is_valid(value)


# --------------------------------------------------------------------------
# Metrics (pandas engine).
# --------------------------------------------------------------------------


class ColumnValuesResidentId(ColumnMapMetricProvider):
    condition_metric_name = "column_values.resident_id"
    condition_value_keys = ("province_codes", "min_birth_date", "max_birth_date")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, province_codes, min_birth_date, max_birth_date, **kwargs):
        # GE hands over the non-null values only (filter_column_isnull).
        prefixes = province_prefixes(province_codes)
        low = _compact_date(min_birth_date)
        high = _compact_date(max_birth_date)
        return column.astype(object).map(lambda v: is_resident_id(v, prefixes, low, high)).astype(bool)


class ColumnValuesLuhnCardNumber(ColumnMapMetricProvider):
    condition_metric_name = "column_values.luhn_card_number"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs):
        return column.astype(object).map(is_luhn_card_number).astype(bool)


def _legacy_prescriptive(cls, configuration, result, runtime_configuration):
    """Data Docs (legacy renderer) text built from the class's ``_prescriptive_template``."""
    renderer_configuration = RendererConfiguration(
        configuration=configuration,
        result=result,
        runtime_configuration=runtime_configuration or {},
    )
    renderer_configuration = cls._prescriptive_template(renderer_configuration=renderer_configuration)
    params = {
        name: param["value"]
        for name, param in renderer_configuration.params.dict().items()
        if isinstance(param, dict) and "value" in param
    }
    return [
        RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={
                "template": renderer_configuration.template_str,
                "params": params,
                "styling": (runtime_configuration or {}).get("styling"),
            },
        )
    ]


# --------------------------------------------------------------------------
# Expectations.
# --------------------------------------------------------------------------


class ExpectColumnValuesToBeResidentIds(ColumnMapExpectation):
    """Expect each non-null value to be a GB 11643 resident ID (or HK/Macau/Taiwan permit).

    Args:
        column: the column.
        province_codes: accepted province-level codes, as 2-digit prefixes or
            6-digit ``XX0000`` codes (only the first two digits are compared).
        max_birth_date: latest accepted birth date, ISO ``YYYY-MM-DD`` (a
            ``datetime.date`` is accepted and stored as ISO text).
        min_birth_date: earliest accepted birth date, default ``1900-01-01``.
    """

    province_codes: list[str]
    max_birth_date: str
    min_birth_date: str = "1900-01-01"

    map_metric: ClassVar[str] = "column_values.resident_id"
    success_keys: ClassVar[tuple[str, ...]] = (
        "province_codes",
        "min_birth_date",
        "max_birth_date",
        "mostly",
    )
    args_keys: ClassVar[tuple[str, ...]] = ("column", "province_codes", "max_birth_date")

    library_metadata: ClassVar[dict] = {
        "maturity": "production",
        "tags": ["platform-worker claims", "identifiers"],
        "contributors": ["claims project"],
        "requirements": ["python-stdnum"],
    }

    @pydantic.validator("province_codes", pre=True)
    def _normalise_province_codes(cls, value):
        if isinstance(value, str):
            raise ValueError("province_codes is a collection of codes, not one string")
        codes = sorted(set(value))
        province_prefixes(codes)  # raises on a malformed code
        return codes

    @pydantic.validator("max_birth_date", "min_birth_date", pre=True)
    def _normalise_date(cls, value):
        if isinstance(value, _dt.datetime):
            raise ValueError("a date, not a date-time, is expected")
        if isinstance(value, _dt.date):
            return value.isoformat()
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise ValueError("an ISO date YYYY-MM-DD is expected")
        _dt.date.fromisoformat(value)
        return value

    @classmethod
    def _prescriptive_template(cls, renderer_configuration: RendererConfiguration) -> RendererConfiguration:
        kwargs = renderer_configuration.kwargs
        renderer_configuration.add_param(name="column", param_type=RendererValueType.STRING)
        for name, default in (("min_birth_date", "1900-01-01"), ("max_birth_date", "(not set)")):
            renderer_configuration.add_param(
                name=name, param_type=RendererValueType.STRING, value=str(kwargs.get(name) or default)
            )
        prefixes = ", ".join(sorted(province_prefixes(kwargs.get("province_codes") or [])))
        renderer_configuration.add_param(name="prefixes", param_type=RendererValueType.STRING, value=prefixes)
        template_str = (
            "values must be 18-character resident IDs (GB 11643): province prefix one of $prefixes, "
            "birth date between $min_birth_date and $max_birth_date, valid ISO 7064 MOD 11-2 check character."
        )
        if renderer_configuration.include_column_name:
            template_str = f"$column {template_str}"
        renderer_configuration.template_str = template_str
        return renderer_configuration

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        return _legacy_prescriptive(cls, configuration, result, runtime_configuration)


class ExpectColumnValuesToBeLuhnValidCardNumbers(ColumnMapExpectation):
    """Expect each non-null value to be a bank card number: 16-19 digits, Luhn-valid."""

    map_metric: ClassVar[str] = "column_values.luhn_card_number"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)
    args_keys: ClassVar[tuple[str, ...]] = ("column",)

    library_metadata: ClassVar[dict] = {
        "maturity": "production",
        "tags": ["platform-worker claims", "identifiers"],
        "contributors": ["claims project"],
        "requirements": ["python-stdnum"],
    }

    @classmethod
    def _prescriptive_template(cls, renderer_configuration: RendererConfiguration) -> RendererConfiguration:
        renderer_configuration.add_param(name="column", param_type=RendererValueType.STRING)
        template_str = "values must be bank card numbers: 16 to 19 digits with a valid Luhn check digit."
        if renderer_configuration.include_column_name:
            template_str = f"$column {template_str}"
        renderer_configuration.template_str = template_str
        return renderer_configuration

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        return _legacy_prescriptive(cls, configuration, result, runtime_configuration)
