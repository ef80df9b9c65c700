# The two commands of the README: `make demo` and `make test`. Both set up
# everything they need (a virtual environment in .venv with the project and its
# test tools) on a fresh machine; later runs reuse it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DAY    ?= 2025-09-30
ORDERS ?= 20000

.PHONY: demo test browser bench model lint clean airflow

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/claims simulate --date $(DAY) --orders $(ORDERS)
	$(BIN)/claims run-day $(DAY)

# Airflow's own UI (api-server, scheduler, dag-processor, triggerer: `airflow standalone`)
# on the metadata `claims run-day` wrote under ./var/airflow: http://localhost:8080,
# user admin, password in var/airflow/simple_auth_manager_passwords.json.generated.
# The DAGs come up paused: see README, "Operations", before unpausing any.
airflow: $(BIN)/.installed
	PATH=$(CURDIR)/$(BIN):$$PATH AIRFLOW_HOME=$(CURDIR)/var/airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$(CURDIR)/var/airflow/airflow.db \
	AIRFLOW__API_AUTH__JWT_SECRET=$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(32))') \
	$(BIN)/airflow standalone

# The reports' browser test opens the HTML in Debian's chromium (nothing can
# download a browser build at run time); a CJK font makes its screenshots legible.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei; }

test: $(BIN)/.installed browser
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/parse_dags.py
	$(BIN)/python bench/ingest_orders.py
	$(BIN)/python bench/adjudicate.py
	$(BIN)/python bench/payouts.py

model: $(BIN)/.installed
	$(BIN)/python bench/model_based.py

lint: $(BIN)/.installed
	$(BIN)/ruff check claims dags validations tests bench
	$(BIN)/mypy claims

clean:
	rm -rf var
