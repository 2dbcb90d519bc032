PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint docs wheel wheel-check clean

# The venv is rebuilt only when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,crystal]"
	# ChemNet weights for FCD (the wheel's PyTorch dependency is not needed)
	$(BIN)/python -m pip install --quiet --no-deps "fcd>=1.2,<2"
	touch $@

run: $(BIN)/.installed
	$(BIN)/molmat train --data aqsoldb --split scaffold --seed 0 --out runs/aqsoldb

# Test files run in parallel, whole files per worker (their fixtures are shared).
TEST_WORKERS ?= 2
test: $(BIN)/.installed
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

# The docs extra (MkDocs, Material, mkdocstrings) goes into the same venv.
$(BIN)/.docs-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev,docs]"
	touch $@

# Site in build/site/; warnings (broken links, bad docstrings) fail the build.
docs: $(BIN)/.docs-installed
	$(BIN)/mkdocs build --strict

wheel: $(BIN)/.installed
	rm -rf dist
	$(BIN)/python -m pip wheel --quiet --no-deps -w dist .

# Installs the wheel into a fresh venv outside the checkout and runs the quick
# start there: train on a bundled dataset, predict an SDF file.
wheel-check: wheel
	set -e; dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	$(PYTHON) -m venv "$$dir/venv"; \
	"$$dir/venv/bin/python" -m pip install --quiet dist/molmat-*.whl; \
	cd "$$dir"; export MOLMAT_CACHE_DIR="$$dir/cache"; \
	venv/bin/molmat --version; \
	venv/bin/molmat train --data esol --epochs 2 --out r; \
	venv/bin/python -c "from rdkit import Chem; w = Chem.SDWriter('x.sdf'); \
	[w.write(Chem.MolFromSmiles(s)) for s in ('CCO', 'c1ccccc1O', 'CC(=O)Nc1ccc(O)cc1')]; w.close()"; \
	venv/bin/molmat predict --model r --data x.sdf --out p.csv; \
	venv/bin/python -c "import pandas as pd; p = pd.read_csv('p.csv'); print(p); \
	assert len(p) == 3 and p.filter(like='_pred').notna().all().all()"

clean:
	rm -rf $(VENV) runs dist build
