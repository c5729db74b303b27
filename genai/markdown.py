"""Output safety: every text the function sends for a front end to render as markdown (marked into innerHTML).

Two entry points, both stdlib-only and linear in the input's length:

- ``escape_text(value)``: a stored value (an owner's or a pet's name, a visit's description) made inert for
  quoting inside the function's own texts (proposals, "Done:" lines). Nothing in it renders as HTML, a
  link, an image, code or emphasis; it stays on one line.
- ``has_markup(value)``: whether a name holds anything markup needs (for the write validation to refuse).
- ``safe_answer(text, allowed_hosts)``: the model's answer, still markdown (bold, lists, tables, headings
  and line breaks render), but raw HTML shows as text, no image loads and no link points anywhere but the
  allowed hosts (over http or https), and no ``javascript:``, ``data:`` or ``vbscript:`` URL can come out of it.

How: HTML's own characters become entities (``&lt;`` and friends, so even a second decoding yields text),
and the markdown punctuation that can open a link, an image, an autolink or raw HTML is backslash-escaped.
The only links and images left are the ones this module writes itself, after checking the URL's scheme and
host against ``allowed_hosts``; every other link or image is shown as its text followed by its URL, inert.
The rules are written against marked 14 (the upstream PetClinic chat widget's renderer, default options:
GFM on), and tests/browser/test_widget.py checks them in Chromium; docs/output-safety.md says what a
consumer of the JSON route must still do itself and what this does not stop.
"""

from __future__ import annotations

import re

__all__ = ["escape_text", "has_markup", "safe_answer", "safe_url"]

# HTML's characters become entities: they never start markup, whether the text is read as markdown, as
# HTML, or decoded once more. The markdown punctuation gets a backslash (CommonMark: any ASCII punctuation
# may be escaped, and renders as itself).
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}

# In the model's answer: only what can open a link, an image, an autolink, code or an escape. Emphasis
# (* _ ~), headings (#), tables (|), lists (- + 1.) and parentheses keep working.
_ANSWER_CHARS = {**{c: _HTML[c] for c in "&<>"}, **{c: "\\" + c for c in "\\`[]@"}}
# In a stored value: every character marked gives a meaning inline, and quotes too.
_VALUE_CHARS = {**_HTML, **{c: "\\" + c for c in "\\`*_[]()!#|~@"}}

# A GFM "extended autolink" needs `http://`, `https://`, `ftp://` (any case) or `www.`, or an e-mail
# address (`@`, escaped above). The colon of `scheme:/` and the dot of `www.` are escaped, so none forms.
_COLON_OF_SCHEME = r"(?<=[A-Za-z0-9]):(?=/)"
_DOT_OF_WWW = r"(?<=[Ww][Ww][Ww])\."
# C0 controls but tab and line feed, DEL, C1 controls, and the Unicode line and paragraph separators.
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029"

_VALUE = rf"{_COLON_OF_SCHEME}|{_DOT_OF_WWW}|\r\n|[\r\n\t{_CONTROL}]|[{re.escape(''.join(_VALUE_CHARS))}]"

# The model's answer is read once, left to right, by one pattern. Each alternative is linear: the bounded
# runs exclude the character that starts the next attempt, so no text is scanned twice by the same rule.
_ANSWER = (r"(?P<bang>!?)\[(?P<label>[^\[\]\n]{0,500})\]\((?P<url>[^\s()<>\[\]]{0,2048})\)"
    # an autolink: <scheme:...>
    r"|<(?P<auto>[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]{0,2048})>"
    # a bare URL, as GFM would link it
    r"|(?<![A-Za-z0-9])(?P<bare>(?i:https?)://[^\s<>\[\]()\"'`\\]{1,2048})"
    rf"|{_COLON_OF_SCHEME}|{_DOT_OF_WWW}|\r\n?|[{_CONTROL}]|[{re.escape(''.join(_ANSWER_CHARS))}]")

# What a link this module writes may contain: http(s), a host name or IPv4 address, a port, and a path,
# query and fragment of characters that need no quoting in markdown or in an HTML attribute.
_URL = r"(?P<scheme>[Hh][Tt][Tt][Pp][Ss]?)://(?P<host>[A-Za-z0-9.\-]{1,253})(?::[0-9]{1,5})?(?P<rest>[/?#][A-Za-z0-9\-._~/?#=%+,;:@!$*&]*)?"
# GFM leaves these off the end of a bare URL; so does this module.
_TRAILING = ".,:;!?*_~&"
_ALT = r"[^\w .,\-]"


# What no person's or pet's name needs and markup does: HTML and markdown punctuation (letters of any
# script, digits, spaces and . , ' - ( ) ! & pass), an entity, a URL's scheme, a control character.
_MARKUP = rf"[<>`\[\]\\|*_~#{{}}\"@]|&#?\w+|[A-Za-z0-9]:/|(?i:www\.)|(?i:javascript|vbscript|data):|[{_CONTROL}\t\r\n]"


def has_markup(value: str) -> bool:
    """Whether a name holds HTML or markdown punctuation, an entity, a URL scheme or a control character:
    what the write validation refuses in names ("O'Brien", "Jean-Luc", "김철수", "José (Pepe)" pass). A name
    that passes still goes through escape_text when quoted: this is a second, independent defence."""
    return bool(re.search(_MARKUP, value))


def escape_text(value: object) -> str:
    """A stored value made inert for quoting inside a markdown text: HTML escaped, markdown punctuation
    escaped, no autolink, on one line (line breaks, tabs and control characters become spaces)."""
    return re.sub(_VALUE, _value_char, "" if value is None else str(value))


def _value_char(match: re.Match[str]) -> str:
    found = match.group()
    if found in _VALUE_CHARS:
        return _VALUE_CHARS[found]
    if found in ":.":
        return "\\" + found
    return " "


def safe_url(url: str, allowed_hosts: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The URL, with its scheme in lower case, when it is http(s) to one of allowed_hosts and holds only
    characters safe in markdown and HTML; None otherwise (javascript:, data:, another host, userinfo...)."""
    hosts = {host.lower().rstrip(".") for host in allowed_hosts}
    match = re.fullmatch(_URL, url)
    if not hosts or not match or match["host"].lower().rstrip(".") not in hosts:
        return None
    return match["scheme"].lower() + url[len(match["scheme"]):]


def safe_answer(text: str, allowed_hosts: frozenset[str] | set[str] = frozenset()) -> str:
    """The model's answer made safe to render with marked into innerHTML: raw HTML shows as text, images
    and links stay only when they point at allowed_hosts over http(s) (others become their text and URL,
    inert), no script URL survives; emphasis, lists, tables, headings and line breaks still render."""
    hosts = frozenset(allowed_hosts)
    return re.sub(_ANSWER, lambda match: _answer_part(match, hosts), "" if text is None else str(text))


def _answer_part(match: re.Match[str], hosts: frozenset[str]) -> str:
    found = match.group()
    if match["label"] is not None:
        return _link(match["bang"] == "!", match["label"], match["url"], hosts)
    if match["auto"] is not None:
        url = safe_url(match["auto"], hosts)
        return f"<{url}>" if url else _inert(match["auto"])
    if match["bare"] is not None:
        bare = match["bare"]
        kept = bare.rstrip(_TRAILING)
        url = safe_url(kept, hosts)
        return f"<{url}>{_inert(bare[len(kept):])}" if url else _inert(bare)
    return _answer_char(found)


def _answer_char(found: str) -> str:
    if found in _ANSWER_CHARS:
        return _ANSWER_CHARS[found]
    if found in ":.":
        return "\\" + found
    if found in ("\r\n", "\r"):
        return "\n"
    return "\ufffd" if found == "\x00" else " "


def _link(image: bool, label: str, target: str, hosts: frozenset[str]) -> str:
    url = safe_url(target, hosts)
    if url and image:
        return f"![{re.sub(_ALT, '', label)}]({url})"
    if url:
        return f"[{_inert(label)}]({url})"
    # Not allowed: the text, then the URL, both as plain text.
    shown = [part for part in (_inert(label).strip(), _inert(target)) if part]
    if len(shown) == 2:
        return f"{shown[0]} ({shown[1]})"
    return shown[0] if shown else ""


def _inert(text: str) -> str:
    """Text from inside a link or URL: the answer's escaping without recognising links again."""
    return re.sub(_INERT, lambda match: _answer_char(match.group()), text)


_INERT = rf"{_COLON_OF_SCHEME}|{_DOT_OF_WWW}|\r\n?|[{_CONTROL}]|[{re.escape(''.join(_ANSWER_CHARS))}]"
