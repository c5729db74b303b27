"""Region-aware inference-profile IDs, region by region (the seed mapped Seoul to us.: wrong)."""

from __future__ import annotations

import pytest

from genai.profiles import MODEL_PROFILES, PROFILE_SOURCE_REGIONS, resolve_model_id

HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SONNET4 = "anthropic.claude-sonnet-4-20250514-v1:0"
HAIKU45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"

# region: (Claude 3 Haiku, Claude 3.5 Sonnet, Sonnet 4, Haiku 4.5, Sonnet 4.5)
EXPECTED = {
    "us-east-1": ("us", "us", "us", "us", "us"),
    "us-east-2": ("us", "us", "us", "us", "us"),
    "us-west-2": ("us", "us", "us", "us", "us"),
    "ca-central-1": (None, None, "global", "us", "us"),
    "eu-central-1": ("eu", "eu", "eu", "eu", "eu"),
    "eu-west-1": ("eu", "eu", "eu", "eu", "eu"),
    "eu-west-3": ("eu", "eu", "eu", "eu", "eu"),
    "ap-northeast-2": ("apac", "apac", "apac", "global", "global"),  # Seoul
    "ap-northeast-1": ("apac", "apac", "apac", "jp", "jp"),  # Tokyo
    "ap-northeast-3": ("apac", "apac", "apac", "jp", "jp"),  # Osaka
    "ap-southeast-1": ("apac", "apac", "apac", "global", "global"),  # Singapore
    "ap-southeast-2": ("apac", "apac", "apac", "au", "au"),  # Sydney
    "ap-south-1": ("apac", "apac", "apac", "global", "global"),  # Mumbai
    "us-gov-west-1": ("us-gov", "us-gov", None, None, "us-gov"),  # no global. in GovCloud
    "sa-east-1": (None, None, "global", "global", "global"),
}
MODELS = (HAIKU3, SONNET35, SONNET4, HAIKU45, SONNET45)


@pytest.mark.parametrize("region", sorted(EXPECTED))
@pytest.mark.parametrize("index", range(len(MODELS)))
def test_auto_resolution(region: str, index: int) -> None:
    model, prefix = MODELS[index], EXPECTED[region][index]
    assert resolve_model_id(model, region) == (f"{prefix}.{model}" if prefix else model)


def test_seoul_never_resolves_to_a_us_profile() -> None:
    for model in MODEL_PROFILES:
        assert not resolve_model_id(model, "ap-northeast-2").startswith("us."), model


@pytest.mark.parametrize(
    "model_id",
    [
        f"apac.{HAIKU3}",
        f"global.{HAIKU45}",
        f"us-gov.{SONNET45}",
        f"arn:aws:bedrock:ap-northeast-2:123456789012:inference-profile/apac.{SONNET4}",
        "arn:aws:bedrock:ap-northeast-2:123456789012:application-inference-profile/abc123",
    ],
)
def test_prefixed_ids_and_arns_pass_through(model_id: str) -> None:
    assert resolve_model_id(model_id, "ap-northeast-2") == model_id
    assert resolve_model_id(model_id, "ap-northeast-2", "global") == model_id


def test_overrides() -> None:
    assert resolve_model_id(HAIKU45, "ap-northeast-2", "apac") == f"apac.{HAIKU45}"
    assert resolve_model_id(HAIKU45, "ap-northeast-2", "none") == HAIKU45
    assert resolve_model_id(HAIKU3, "us-east-1", "global") == f"global.{HAIKU3}"


def test_unknown_model_uses_the_regions_geography() -> None:
    assert resolve_model_id("anthropic.claude-future-v1:0", "eu-west-1") == "eu.anthropic.claude-future-v1:0"
    assert resolve_model_id("anthropic.claude-future-v1:0", "sa-east-1") == "global.anthropic.claude-future-v1:0"


def test_every_geography_in_the_table_has_source_regions() -> None:
    for geographies in MODEL_PROFILES.values():
        assert all(geo == "global" or geo in PROFILE_SOURCE_REGIONS for geo in geographies)
