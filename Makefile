# petclinic-genai: `make run` and `make test` are all a newcomer needs; `make help` lists the rest.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
# The Lambda runtime the zip is built for: lambda_runtime from terraform.tfvars, else variables.tf's
# default (`make package LAMBDA_RUNTIME=python3.12` to override). Its interpreter compiles the .pyc;
# LAMBDA_VENV (that interpreter + the boto3 pinned in requirements-lambda.txt) runs `make bench`'s init.
LAMBDA_RUNTIME ?= $(shell $(PYTHON) local/package.py --print-runtime 2>/dev/null || echo unknown)
LAMBDA_VENV := .venv-$(LAMBDA_RUNTIME)
export LAMBDA_RUNTIME
TF ?= terraform
# Terraform writes nothing outside this folder (no ~/.terraform.d, no update checks).
TF_ENV := CHECKPOINT_DISABLE=1 TF_PLUGIN_CACHE_DIR= 
BEDROCK ?= local
export Q
export PETCLINIC_DB_URL
export PORT
export WRITES_ENABLED
export ANONYMOUS_READ_SCOPE
export CALLER
export REPLACE_SAMPLE_DATA

.PHONY: help venv lambda-venv run serve chat lint test check bench eval package docs fmt init plan apply invoke smoke logs clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'
	@echo '  Variables: Q="question" (run, invoke), BEDROCK=aws (run, serve, chat, eval against real Bedrock; set AWS_REGION), PETCLINIC_DB_URL=mysql://...'
	@echo '             REPLACE_SAMPLE_DATA=1 (run: DROP the PetClinic tables of PETCLINIC_DB_URL and load the sample)'
	@echo '             WRITES_ENABLED=true (chat, serve: offer the write tools, confirmed first), PORT=8080 (serve)'
	@echo '             ANONYMOUS_READ_SCOPE=all|no_contact|clinic (run, serve: what callers without a token read; default no_contact)'
	@echo '             CALLER=anonymous|staff|operator (run: who asks; default anonymous, as the chat page'"'"'s visitor)'
	@echo '             LAMBDA_RUNTIME=python3.13 (package, plan: the runtime the .pyc is built for; default from terraform.tfvars/variables.tf)'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# The runtime's interpreter is found (PATH, pyenv) or installed (apt-get, where the distribution has it)
# by local/package.py, which says plainly what is missing otherwise.
$(LAMBDA_VENV)/.installed: requirements-lambda.txt local/package.py
	python=$$($(PYTHON) local/package.py --print-python) && "$$python" -m venv --clear $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-lambda.txt
	touch $@

venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed ## Create both virtual environments (automatic for run/test)

lambda-venv: $(LAMBDA_VENV)/.installed ## Create .venv-python3.X: the Lambda runtime's Python with boto3 (automatic for test/bench)

run: $(VENV)/.installed ## Ask the handler offline: local Data API on SQLite + offline model stand-in
	$(PY) local/run.py --bedrock $(BEDROCK) $${Q:+"$$Q"}

serve: $(VENV)/.installed ## Serve /api/genai on 127.0.0.1:8080 like API Gateway (offline, with memory; PORT=...)
	$(PY) local/serve.py --bedrock $(BEDROCK) $${PORT:+--port "$$PORT"}

chat: $(VENV)/.installed ## A terminal conversation with memory (offline stand-in; BEDROCK=aws for real Bedrock)
	$(PY) local/chat.py --bedrock $(BEDROCK)

lint: $(VENV)/.installed ## Lint the Python code (ruff; settings in ruff.toml)
	$(VENV)/bin/ruff check .

# Without the runtime's Python the package and init tests skip locally; in CI (CI=true) they must run.
test: lint $(CHECKOV_VENV)/.installed ## Lint, then run every test (unit, contract, end-to-end, Terraform checks)
	@$(MAKE) --no-print-directory lambda-venv || { [ "$${CI:-}" != true ] && \
		echo "make test: no $(LAMBDA_RUNTIME) venv here: the tests that need it skip (in CI they fail)" >&2; }
	LAMBDA_VENV=$(CURDIR)/$(LAMBDA_VENV) CHECKOV_BIN=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(PY) -m pytest

check: test ## What CI runs

bench: $(VENV)/.installed $(LAMBDA_VENV)/.installed ## Measure size, calls, overhead and the cold init against the seed's design; writes bench/results.md
	LAMBDA_VENV=$(CURDIR)/$(LAMBDA_VENV) $(PY) bench/bench.py

eval: $(VENV)/.installed ## Grounding, false "not found", bytes and calls over eval/questions.jsonl; writes eval/results.md (BEDROCK=aws: real answers, tokens, cost)
	$(PY) eval/eval.py --bedrock $(BEDROCK)

package: ## Build build/lambda_function.zip (lambda_function.py, genai/ and every .pyc for the runtime) and its stamp; Terraform deploys it
	$(PYTHON) local/package.py build/lambda_function.zip

docs: $(VENV)/.installed ## Regenerate the README's Terraform inputs/outputs tables
	$(PY) local/tfdocs.py

fmt: ## Format the Terraform files
	$(TF_ENV) $(TF) fmt -recursive

init: ## terraform init with backend.config
	$(TF_ENV) $(TF) init -backend-config=backend.config

plan: package ## Build the zip, then terraform plan with terraform.tfvars
	@[ -f .terraform/terraform.tfstate ] || { echo "make plan: run 'make init' first (the S3 backend in backend.config needs AWS credentials)" >&2; exit 1; }
	$(TF_ENV) $(TF) plan -var-file=terraform.tfvars -out=tfplan

apply: ## terraform apply the saved plan (run `make plan` first)
	$(TF_ENV) $(TF) apply tfplan

# invoke and logs read the deployed names from `terraform output` and stop with a clear message
# (never run aws with an empty name) when there is no state here or the AWS CLI is missing.
NEED_AWS = command -v aws >/dev/null || { echo "make $@: needs the AWS CLI v2 (aws) on PATH" >&2; exit 1; }; \
	aws --version 2>&1 | grep -q '^aws-cli/2' || { echo "make $@: needs the AWS CLI v2 (aws --version says: $$(aws --version 2>&1))" >&2; exit 1; }
define tf_output
$$($(TF_ENV) $(TF) output -raw $(1) 2>/dev/null) && [ -n "$$$(2)" ] || { echo "make $@: terraform output $(1) is empty or missing: run 'make init' and 'make apply' in this folder first" >&2; exit 1; }
endef

invoke: ## Invoke the deployed function with the seed's payload (Q="..." to change the question; AWS CLI v2)
	@$(NEED_AWS); \
	fn=$(call tf_output,lambda_function_name,fn); \
	alias=$$($(TF_ENV) $(TF) output -raw lambda_alias_arn 2>/dev/null) || alias=""; \
	payload=$$($(PYTHON) -c 'import json, os; q = os.environ.get("Q") or "Coco라는 반려동물을 키우고 있는 사람은 누구야?"; print(json.dumps({"body": json.dumps({"question": q}, ensure_ascii=False)}, ensure_ascii=False))') && \
	aws lambda invoke --function-name "$$fn" $${alias:+--qualifier live} --cli-binary-format raw-in-base64-out --payload "$$payload" response.json >/dev/null && \
	cat response.json && echo

smoke: ## After make apply: invoke the deployed function for health (?deep=1) and one question (Q="..."), check the JSON, say what failed
	@$(NEED_AWS); \
	fn=$(call tf_output,lambda_function_name,fn); \
	alias=$$($(TF_ENV) $(TF) output -raw lambda_alias_arn 2>/dev/null) || alias=""; \
	$(PYTHON) local/smoke.py --function-name "$$fn" $${alias:+--qualifier live}

logs: ## Follow the function's CloudWatch logs (AWS CLI v2)
	@$(NEED_AWS); \
	group=$(call tf_output,cloudwatch_log_group_name,group); \
	aws logs tail "$$group" --follow --format short

clean: ## Remove virtual environments and build output
	rm -rf $(VENV) $(CHECKOV_VENV) .venv-python3.* build .pytest_cache tfplan response.json
