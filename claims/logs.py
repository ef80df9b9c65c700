"""Logs an administrator can read: our per-file and per-step lines, not the
libraries' chatter.

Measured on an ingest task's log (issue 15): 218 of 257 lines were Great
Expectations' "Skipping registering function ..." (INFO from
``great_expectations._docs_decorators`` at import, plus its registry and
ephemeral-context lines), then Alembic's "Context impl ..."/"Running upgrade ..."
INFO lines (``alembic.runtime.migration``, every ``upgrade()`` of the ledger and of
Airflow's metadata), and a deprecation warning in every task (the standard
provider's ``airflow.utils.operator_helpers`` import, a ``FutureWarning``
subclass, issued when a DAG file uses ``@task.sensor``). Those loggers are set to
WARNING and deprecation warnings are ignored, unless ``CLAIMS_THIRD_PARTY_LOGS``
is true. Airflow's ``[logging] namespace_levels`` only filters structlog loggers,
not these standard-library ones, hence the levels here.
"""

from __future__ import annotations

import logging
import warnings

from claims.settings import third_party_logs

#: Standard-library loggers whose INFO lines are libraries talking to themselves.
CHATTY_LOGGERS = ("great_expectations", "alembic")
#: Warning categories that are for the libraries' developers, not for operators.
DEPRECATIONS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def quiet_third_party() -> None:
    """Silence the chatter (idempotent); ``CLAIMS_THIRD_PARTY_LOGS=true`` keeps it."""
    if third_party_logs():
        return
    # The libraries' own child loggers count too: GE sets one of its modules' loggers
    # to INFO when it is imported, hence a second call after GE's import (validations/runner.py).
    names = [name for name in logging.root.manager.loggerDict
             if any(name == chatty or name.startswith(chatty + ".") for chatty in CHATTY_LOGGERS)]
    for name in {*CHATTY_LOGGERS, *names}:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING and (logger.level != logging.NOTSET or name in CHATTY_LOGGERS):
            logger.setLevel(logging.WARNING)
    for category in DEPRECATIONS:
        warnings.filterwarnings("ignore", category=category)
