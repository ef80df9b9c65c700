"""The domain of occupational-injury claims: no Airflow import here.

Importing it quiets third-party chatter (Great Expectations, Alembic,
deprecation warnings) unless ``CLAIMS_THIRD_PARTY_LOGS`` is true: see claims/logs.py.
"""

from claims.logs import quiet_third_party

quiet_third_party()
