"""Which Bedrock model ID the function calls from its Region: the inference-profile
table (MODEL_PROFILES, PROFILE_SOURCE_REGIONS), resolve_model_id (the first choice) and candidate_ids
(the fixed order the model falls back through when Bedrock refuses an ID).

Ground floor: pure, imports nothing of the package (the Terraform module mirrors the same table).
"""

from __future__ import annotations

# Region-aware inference profiles. One table, easy to update: which geographic profiles exist
# for a model, and which source regions may call each geography. Order = preference.
PROFILE_PREFIXES = ("us", "eu", "apac", "jp", "au", "us-gov", "global")

PROFILE_SOURCE_REGIONS: dict[str, frozenset[str]] = {
    "us": frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2"}),
    # Newer (4.5-generation) US profiles also accept calls from Canada.
    "us+ca": frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1"}),
    "eu": frozenset({"eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3",
                     "eu-north-1", "eu-south-1", "eu-south-2"}),
    "apac": frozenset({"ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
                       "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
                       "ap-southeast-5", "ap-southeast-7", "ap-east-2"}),
    "jp": frozenset({"ap-northeast-1", "ap-northeast-3"}),
    "au": frozenset({"ap-southeast-2", "ap-southeast-4"}),
    "us-gov": frozenset({"us-gov-east-1", "us-gov-west-1"}),
}

_CLASSIC = ("us", "eu", "apac", "us-gov")
_GEN45 = ("us+ca", "eu", "jp", "au", "global")
# model ID (without prefix) -> geographies with a system-defined profile, in preference order.
#
# Source, read 2026-12-06: Anthropic's "Claude on Amazon Bedrock (Opus 4.6 and earlier)", table "API
# model IDs" (https://platform.claude.com/docs/en/build-with-claude/claude-on-amazon-bedrock-legacy;
# columns global, us, eu, jp, apac), for every row it lists. Its rows agree with this table except one:
# it marks Claude Haiku 4.5 without jp., which AWS's cross-Region table of late 2025 (Bedrock user guide,
# "Supported Regions and models for inference profiles") lists; kept. Anthropic's table has no column for
# au., us-gov. or Canada: those come from AWS's late-2025 table and were not re-read. Claude 3 Sonnet and
# both 3.5 Sonnets are no longer in Anthropic's table (retired): kept as they were, unconfirmed. Opus 4.6
# and Sonnet 4.6 are "us" (not "us+ca"): no source read names Canada for them, so Canada gets global.
# A stale row costs at most two refused calls once per instance: the model falls back (candidate_ids).
MODEL_PROFILES: dict[str, tuple[str, ...]] = {
    "anthropic.claude-3-haiku-20240307-v1:0": _CLASSIC,
    "anthropic.claude-3-sonnet-20240229-v1:0": ("us", "eu", "apac"),
    "anthropic.claude-3-5-sonnet-20240620-v1:0": _CLASSIC,
    "anthropic.claude-3-5-sonnet-20241022-v2:0": ("us", "eu", "apac"),
    "anthropic.claude-3-5-haiku-20241022-v1:0": ("us",),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": _CLASSIC,
    "anthropic.claude-sonnet-4-20250514-v1:0": ("us", "eu", "apac", "global"),
    "anthropic.claude-opus-4-1-20250805-v1:0": ("us",),
    # AWS's late-2025 table lists no apac. profile for these: Seoul, Singapore, Mumbai use global.
    "anthropic.claude-haiku-4-5-20251001-v1:0": _GEN45,
    "anthropic.claude-sonnet-4-5-20250929-v1:0": ("us+ca", "eu", "jp", "au", "us-gov", "global"),
    "anthropic.claude-opus-4-5-20251101-v1:0": ("us+ca", "eu", "global"),
    # The 4.6 models: jp. before apac. (Tokyo and Osaka are in both); Sonnet 4.6 has no apac. profile.
    "anthropic.claude-opus-4-6-v1": ("us", "eu", "jp", "apac", "global"),
    "anthropic.claude-sonnet-4-6": ("us", "eu", "jp", "global"),
}
# A model not in the table: the Region's broad geography is the best guess.
DEFAULT_GEOGRAPHIES = ("us", "eu", "apac", "us-gov", "global")
# At most this many model IDs are tried for one question (the first choice and two fallbacks).
MAX_MODEL_ID_CANDIDATES = 3


def _passes_through(model_id: str) -> bool:
    return model_id.startswith("arn:") or model_id.split(".", 1)[0] in PROFILE_PREFIXES


def resolve_model_id(model_id: str, region: str, mode: str = "auto") -> str:
    """Return the ID to call from ``region``: a geographic, global or plain on-demand model ID.

    ``mode`` is ``auto`` (use the table), ``none`` (call the model ID as given) or a prefix such
    as ``apac`` or ``global`` (always use it). IDs that already carry a prefix, and ARNs, pass.
    """
    if _passes_through(model_id) or mode == "none":
        return model_id
    if mode != "auto":
        return f"{mode}.{model_id}"
    geographies = MODEL_PROFILES.get(model_id, DEFAULT_GEOGRAPHIES)
    for geo in geographies:
        if geo != "global" and region in PROFILE_SOURCE_REGIONS[geo]:
            return f"{geo.split('+')[0]}.{model_id}"
    if "global" in geographies and not region.startswith("us-gov-"):  # global is commercial-only
        return f"global.{model_id}"
    return model_id


def candidate_ids(model_id: str, region: str, mode: str = "auto") -> tuple[str, ...]:
    """The IDs the function may call from ``region``, in the order it tries them when Bedrock refuses
    one as invalid or not found: the configured override (``mode`` when it names a prefix, or a model ID
    that already carries one), the Region's own geography (the table's choice, or the broad geography
    for a model the table does not know), ``global.`` (commercial Regions only), the base ID.
    De-duplicated and cut to MAX_MODEL_ID_CANDIDATES. The first is always resolve_model_id's answer.
    An ARN is called as given and nothing else (an application profile names no base model)."""
    if model_id.startswith("arn:"):
        return (model_id,)
    first = resolve_model_id(model_id, region, mode)
    base = model_id.split(".", 1)[1] if _passes_through(model_id) else model_id
    ordered = [first, resolve_model_id(base, region, "auto")]
    if not region.startswith("us-gov-"):  # global. is commercial-only
        ordered.append(f"global.{base}")
    ordered.append(base)
    return tuple(dict.fromkeys(ordered))[:MAX_MODEL_ID_CANDIDATES]
