# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Lava needs Python 3.10: take python3.10 if it runs, else pyenv's 3.10.x.
PYTHON310 := $(shell for p in python3.10 $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do $$p -c 'import sys; assert sys.version_info[:2]==(3,10)' >/dev/null 2>&1 && { echo $$p; break; }; done)

.PHONY: demo test test-slow bench venv clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found (tried python3.10 and pyenv's versions/3.10*); Lava needs 3.10" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[all]"
	@touch $(STAMP)

venv: $(STAMP)

# The main job on the embedded default: the emulated crossbar board (on a pty, with its own link
# timing) runs coupled learning on iris; the harness compares each measured update with the exact
# gradient and writes plots and a report under runs/demo.
demo: $(STAMP)
	$(VENV)/bin/neurophys gradcheck examples/cl_iris.json
	$(VENV)/bin/neurophys hil examples/cl_iris.json --backend crossbar --steps 300 --eval-every 25 --out runs/demo --force

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
