# Two commands: `make run` (the chat page at http://127.0.0.1:7860) and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test index setup clean browser

DEV_STAMP := $(VENV)/.installed-dev

# What running needs: `make run` installs only this.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: a bare requirement would pull several GB of CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $(STAMP)

# The test tools (pytest, playwright …) on top, for `make test` only.
$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev]'
	touch $(DEV_STAMP)

setup: $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/rag serve

index: $(STAMP)
	$(BIN)/rag index seeds

# The browser test drives headless Chromium (Debian's) and needs CJK fonts; install them where we can.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) \
	      || echo "warning: could not install chromium; the browser test will fail on CI and skip elsewhere"; \
	  else echo "note: the browser test needs: sudo apt-get install chromium fonts-noto-cjk"; fi; \
	fi

test: $(DEV_STAMP) browser
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) index
