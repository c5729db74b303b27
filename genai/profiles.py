"""Which Bedrock model ID the function calls from its Region: the inference-profile
table (MODEL_PROFILES, PROFILE_SOURCE_REGIONS) and resolve_model_id.

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
}


def resolve_model_id(model_id: str, region: str, mode: str = "auto") -> str:
    """Return the ID to call from ``region``: a geographic, global or plain on-demand model ID.

    ``mode`` is ``auto`` (use the table), ``none`` (call the model ID as given) or a prefix such
    as ``apac`` or ``global`` (always use it). IDs that already carry a prefix, and ARNs, pass.
    """
    if model_id.startswith("arn:") or model_id.split(".", 1)[0] in PROFILE_PREFIXES or mode == "none":
        return model_id
    if mode != "auto":
        return f"{mode}.{model_id}"
    geographies = MODEL_PROFILES.get(model_id)
    if geographies is None:  # not in the table: the region's broad geography is the best guess
        geographies = ("us", "eu", "apac", "us-gov", "global")
    for geo in geographies:
        if geo != "global" and region in PROFILE_SOURCE_REGIONS[geo]:
            return f"{geo.split('+')[0]}.{model_id}"
    if "global" in geographies and not region.startswith("us-gov-"):  # global is commercial-only
        return f"global.{model_id}"
    return model_id
