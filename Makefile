# petclinic-genai: `make run` and `make test` are all a newcomer needs; `make help` lists the rest.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
TF ?= terraform
# Terraform writes nothing outside this folder (no ~/.terraform.d, no update checks).
TF_ENV := CHECKPOINT_DISABLE=1 TF_PLUGIN_CACHE_DIR= 
BEDROCK ?= local
export Q
export PETCLINIC_DB_URL

.PHONY: help venv run lint test check bench eval package docs fmt init plan apply invoke logs clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'
	@echo '  Variables: Q="question" (run, invoke), BEDROCK=aws (run, eval against real Bedrock; set AWS_REGION), PETCLINIC_DB_URL=mysql://...'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed ## Create both virtual environments (automatic for run/test)

run: $(VENV)/.installed ## Ask the handler offline: local Data API on SQLite + offline model stand-in
	$(PY) local/run.py --bedrock $(BEDROCK) $${Q:+"$$Q"}

lint: $(VENV)/.installed ## Lint the Python code (ruff; settings in ruff.toml)
	$(VENV)/bin/ruff check .

test: lint $(CHECKOV_VENV)/.installed ## Lint, then run every test (unit, contract, end-to-end, Terraform checks)
	CHECKOV_BIN=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(PY) -m pytest

check: test ## What CI runs

bench: $(VENV)/.installed ## Measure size, calls and overhead against the seed's design; writes bench/results.md
	$(PY) bench/bench.py

eval: $(VENV)/.installed ## Grounding, false "not found", bytes and calls over eval/questions.jsonl; writes eval/results.md (BEDROCK=aws: real answers, tokens, cost)
	$(PY) eval/eval.py --bedrock $(BEDROCK)

package: $(VENV)/.installed ## Build build/lambda_function.zip (lambda_function.py alone), as Terraform does
	$(PY) local/package.py build/lambda_function.zip

docs: $(VENV)/.installed ## Regenerate the README's Terraform inputs/outputs tables
	$(PY) local/tfdocs.py

fmt: ## Format the Terraform files
	$(TF_ENV) $(TF) fmt -recursive

init: ## terraform init with backend.config
	$(TF_ENV) $(TF) init -backend-config=backend.config

plan: ## terraform plan with terraform.tfvars
	$(TF_ENV) $(TF) plan -var-file=terraform.tfvars -out=tfplan

apply: ## terraform apply the saved plan (run `make plan` first)
	$(TF_ENV) $(TF) apply tfplan

invoke: ## Invoke the deployed function with the seed's payload (Q="..." to change the question)
	@fn=$$($(TF) output -raw lambda_function_name) && \
	payload=$$($(PYTHON) -c 'import json, os; q = os.environ.get("Q") or "Coco라는 반려동물을 키우고 있는 사람은 누구야?"; print(json.dumps({"body": json.dumps({"question": q}, ensure_ascii=False)}, ensure_ascii=False))') && \
	aws lambda invoke --function-name "$$fn" --cli-binary-format raw-in-base64-out --payload "$$payload" response.json >/dev/null && \
	cat response.json && echo

logs: ## Follow the function's CloudWatch logs
	aws logs tail "$$($(TF) output -raw cloudwatch_log_group_name)" --follow --format short

clean: ## Remove virtual environments and build output
	rm -rf $(VENV) $(CHECKOV_VENV) build .pytest_cache tfplan response.json
