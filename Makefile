VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint eval answerability bench clean browser-deps format-deps

# Says what it does in Chinese before pip starts; pip stays quiet (-q) so that what it prints is a real problem.
# setuptools reports every editable install with an "Editable installation." notice that pip shows like a
# warning; it is information only (setuptools.warnings.InformationOnly), so it is filtered out here.
# pip 23 misreads lxml's html-clean extra; a current pip resolves it.
$(STAMP): pyproject.toml
	@echo "正在安装依赖（首次约需几分钟）…"
	@echo "  [1/3] 创建虚拟环境 $(VENV)"
	@python3 -m venv $(VENV)
	@echo "  [2/3] 更新 pip"
	@$(VENV)/bin/pip install -q --upgrade "pip>=24"
	@echo "  [3/3] 安装本项目及其依赖（PyTorch、Gradio、Chroma 等）…"
	@PYTHONWARNINGS="ignore:Editable installation" $(VENV)/bin/pip install -q -e '.[dev]'
	@touch $(STAMP)
	@echo "依赖安装完成。"

install: $(STAMP)

run: install
	@echo "正在启动政策问答助手…"
	@$(PY) app.py

lint: install
	$(VENV)/bin/ruff check qa index prompts bench tests app.py
	$(VENV)/bin/mypy qa index prompts bench app.py
	$(VENV)/bin/lint-imports --no-cache

# The browser test drives Debian's chromium (with CJK fonts for screenshots); install it when we can.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; } || \
		echo "chromium not installed: the browser test will be skipped outside CI"

# The format tests render scanned pages in Noto CJK and convert .doc/.wps with LibreOffice (antiword as the
# fallback); install them when we can. Outside CI a test without them is skipped and names the package.
format-deps:
	@{ [ -f /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc ] && command -v soffice >/dev/null 2>&1 && \
		command -v antiword >/dev/null 2>&1; } || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-noto-cjk \
		libreoffice-writer-nogui antiword >/dev/null; } || \
		echo "fonts-noto-cjk/libreoffice-writer-nogui/antiword not installed: the format tests will be skipped outside CI"

test: lint browser-deps format-deps
	$(PY) -m pytest -q

# The fast tier: no e5, no child process, no server, no browser, no wheel (markers in pyproject.toml). It installs
# only when there is no virtualenv yet, and runs no lint, so a developer gets an answer in seconds.
test-fast:
	@[ -f $(STAMP) ] || $(MAKE) install
	$(PY) -m pytest -q -m "not system"

# Answer quality on the dev set, STARD and tests/data/wording.jsonl beside naive baselines, with ablations and
# latency. The first run builds the indexes and embeds STARD and the baseline chunks (about 30 minutes; an index's
# embedding_cache.sqlite copied to bench/out/cache/ skips most of it); reruns reuse bench/out/cache (under a minute).
eval: install
	$(PY) -m bench.eval

# Refit qa/data/answerability.json on generated questions (a few minutes once bench/out/cache is warm).
answerability: install
	$(PY) -m bench.fit_answerability

# About 30 minutes here with a warm bench/out/cache, and 15 more for the PostgreSQL backend (a 100k-clause build
# written into a throwaway PostgreSQL, kept in bench/out/pg for the two-process load run); the 1M-clause run (about 45 minutes) is documented in docs/benchmarks.md,
# not run by default.
bench: install eval
	$(PY) -m bench.measures
	$(PY) -m bench.scale --sizes bundled,1k,10k,100k
	$(PY) -m bench.load --clients 20 --seconds 60
	$(PY) -m bench.formats --pages 3
	$(PY) -m bench.rebuild --seconds 30 --clauses 60k
	$(PY) -m bench.postgres --clauses 100k --work bench/out/pg
	$(PY) -m bench.postgres_load --clauses 100k --work bench/out/pg
	$(PY) -m bench.postgres_equal

clean:
	rm -rf $(VENV) data/index .pytest_cache .mypy_cache .ruff_cache
