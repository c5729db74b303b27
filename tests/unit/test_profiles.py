"""Region-aware inference-profile IDs, region by region (the seed mapped Seoul to us.: wrong)."""

from __future__ import annotations

import pytest

from genai.profiles import MAX_MODEL_ID_CANDIDATES, MODEL_PROFILES, PROFILE_PREFIXES, PROFILE_SOURCE_REGIONS, \
    candidate_ids, resolve_model_id

HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SONNET4 = "anthropic.claude-sonnet-4-20250514-v1:0"
HAIKU45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS46 = "anthropic.claude-opus-4-6-v1"
SONNET46 = "anthropic.claude-sonnet-4-6"  # no apac. profile: Seoul, Singapore, Sydney, Mumbai use global.

# region: (Claude 3 Haiku, Claude 3.5 Sonnet, Sonnet 4, Haiku 4.5, Sonnet 4.5, Opus 4.6, Sonnet 4.6)
EXPECTED = {
    "us-east-1": ("us", "us", "us", "us", "us", "us", "us"),
    "us-east-2": ("us", "us", "us", "us", "us", "us", "us"),
    "us-west-2": ("us", "us", "us", "us", "us", "us", "us"),
    "ca-central-1": (None, None, "global", "us", "us", "global", "global"),
    "eu-central-1": ("eu", "eu", "eu", "eu", "eu", "eu", "eu"),  # Frankfurt
    "eu-west-1": ("eu", "eu", "eu", "eu", "eu", "eu", "eu"),
    "eu-west-3": ("eu", "eu", "eu", "eu", "eu", "eu", "eu"),
    "ap-northeast-2": ("apac", "apac", "apac", "global", "global", "apac", "global"),  # Seoul
    "ap-northeast-1": ("apac", "apac", "apac", "jp", "jp", "jp", "jp"),  # Tokyo
    "ap-northeast-3": ("apac", "apac", "apac", "jp", "jp", "jp", "jp"),  # Osaka
    "ap-southeast-1": ("apac", "apac", "apac", "global", "global", "apac", "global"),  # Singapore
    "ap-southeast-2": ("apac", "apac", "apac", "au", "au", "apac", "global"),  # Sydney
    "ap-south-1": ("apac", "apac", "apac", "global", "global", "apac", "global"),  # Mumbai
    "us-gov-west-1": ("us-gov", "us-gov", None, None, "us-gov", None, None),  # no global. in GovCloud
    "sa-east-1": (None, None, "global", "global", "global", "global", "global"),
}
MODELS = (HAIKU3, SONNET35, SONNET4, HAIKU45, SONNET45, OPUS46, SONNET46)


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


# Anthropic's Bedrock table (read 2026-12-06): the profiles that exist for the 4.6 models.
PUBLISHED_46 = {OPUS46: {"global", "us", "eu", "jp", "apac"}, SONNET46: {"global", "us", "eu", "jp"}}


@pytest.mark.parametrize("model", sorted(PUBLISHED_46))
@pytest.mark.parametrize("region", ["ap-northeast-2", "ap-northeast-1", "eu-central-1"])
def test_the_46_models_call_a_published_profile_from_seoul_tokyo_and_frankfurt(model: str, region: str) -> None:
    prefix = resolve_model_id(model, region).split(".", 1)[0]
    assert prefix in PUBLISHED_46[model]
    assert prefix == "global" or region in PROFILE_SOURCE_REGIONS[prefix]


MODES = ("auto", "none", *PROFILE_PREFIXES)
ALL_MODELS = (*MODEL_PROFILES, "anthropic.claude-future-9-v1")
REGIONS = sorted({r for regions in PROFILE_SOURCE_REGIONS.values() for r in regions} | {"sa-east-1", "ap-east-1"})


def test_the_first_candidate_is_the_resolved_id_and_the_list_is_short_and_distinct() -> None:
    for model in ALL_MODELS:
        for region in REGIONS:
            for mode in MODES:
                ids = candidate_ids(model, region, mode)
                assert ids[0] == resolve_model_id(model, region, mode), (model, region, mode)
                assert len(ids) == len(set(ids)) <= MAX_MODEL_ID_CANDIDATES, (model, region, mode)
                assert all(i.endswith(model) for i in ids)
                if region.startswith("us-gov-"):  # global. only when the override names it
                    assert not any(i.startswith("global.") for i in ids[1:]), (model, region, mode)


@pytest.mark.parametrize("model, region, mode, expected", [
    ("anthropic.claude-future-9-v1", "ap-northeast-2", "auto", ("apac.", "global.", "")),
    ("anthropic.claude-future-9-v1", "eu-central-1", "auto", ("eu.", "global.", "")),
    ("anthropic.claude-future-9-v1", "sa-east-1", "auto", ("global.", "")),
    ("anthropic.claude-future-9-v1", "us-gov-west-1", "auto", ("us-gov.", "")),
    (SONNET46, "ap-northeast-2", "auto", ("global.", "")),
    (OPUS46, "ap-northeast-2", "auto", ("apac.", "global.", "")),
    (OPUS46, "ap-northeast-1", "auto", ("jp.", "global.", "")),
    (HAIKU45, "ap-northeast-2", "apac", ("apac.", "global.", "")),  # the override, the Region's choice, base
    (HAIKU45, "eu-central-1", "jp", ("jp.", "eu.", "global.")),  # cut at three: the base ID is never called
    (HAIKU45, "ap-northeast-2", "none", ("", "global.")),
    (HAIKU3, "sa-east-1", "auto", ("", "global.")),
])
def test_candidate_order(model: str, region: str, mode: str, expected: tuple[str, ...]) -> None:
    assert candidate_ids(model, region, mode) == tuple(f"{prefix}{model}" for prefix in expected)


def test_a_prefixed_id_is_the_override_and_an_arn_has_no_alternative() -> None:
    assert candidate_ids(f"apac.{HAIKU45}", "ap-northeast-2") == (f"apac.{HAIKU45}", f"global.{HAIKU45}", HAIKU45)
    arn = "arn:aws:bedrock:ap-northeast-2:123456789012:application-inference-profile/abc123"
    assert candidate_ids(arn, "ap-northeast-2") == (arn,)
