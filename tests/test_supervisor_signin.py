"""Signing in to the console's page with its sign-in form, over real HTTP on 127.0.0.1 and in headless Chromium.

The page without a session is a form asking for the token (a password field, labelled); posted to
``/login``, the console's shared token opens a session (303 to the page, the session cookie) and
any other token is the form again with one message (401; an agent's own, 403). A post sent by a
page of another origin is refused (a sign-in into another's session). Wrong tokens from one client
address, in the form or in ``/?token=``, pause that address's sign-ins once there are too many
(429, ``Retry-After``); other addresses sign in as before. In a browser the token typed never
enters the address bar or the tab's history, and the printed ``/?token=`` link leaves no history
entry with the token either.
"""

from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urlencode

import pytest

from conftest import wait_for
from console_proc import ConsoleProcess

from monitor.supervisor.limits import SIGN_IN_FAILURES

AGENT_TOKEN = "alice-own-token-0123456789"
PUBLIC = "https://console.example"


def sign_in(console: ConsoleProcess, token: str, headers: dict | None = None, path: str = "/login",
            source: str = "127.0.0.1") -> tuple[int, http.client.HTTPMessage, str]:
    """(status, headers, body) of the sign-in form posted as a browser on the console's page posts
    it (same origin), from the client address ``source``, with ``headers`` on top (one None: left out)."""
    sent = {"Content-Type": "application/x-www-form-urlencoded", "Origin": console.base,
            "Sec-Fetch-Site": "same-origin", **(headers or {})}
    con = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10, source_address=(source, 0))
    try:
        con.request("POST", path, urlencode({"token": token}), {k: v for k, v in sent.items() if v is not None})
        answer = con.getresponse()
        return answer.status, answer.headers, answer.read().decode()
    finally:
        con.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """A console with an agent's own token, served to browsers at :data:`PUBLIC` through a proxy
    (one for the module: each test signs in from 127.0.0.1 wrongly a few times at most, or from an
    address of its own)."""
    tmp = tmp_path_factory.mktemp("console")
    cfg = tmp / "console.toml"
    cfg.write_text(f'[supervisor]\nagent_tokens = ["alice:{AGENT_TOKEN}"]\npublic_url = "{PUBLIC}"\n')
    console = ConsoleProcess(tmp, extra=("--config", str(cfg)))
    yield console
    console.kill()


def test_the_page_without_a_session_is_a_sign_in_form_that_keeps_the_pages_own_query(console):
    status, answer, page = console.exchange("GET", "/?agent=alice", token=None)
    page = page.decode()
    assert status == 401 and "This console needs its token." in page
    assert '<form method="post" action="/login?agent=alice">' in page
    field = re.search(r"<input id=\"token\"[^>]*>", page).group(0)
    assert 'type="password"' in field and 'autocomplete="current-password"' in field and 'name="token"' in field
    assert '<label for="token">Console token</label>' in page and '<button type="submit">Sign in</button>' in page
    assert "form-action 'self'" in answer["Content-Security-Policy"]
    assert "http" not in re.sub(r"<p id=\"where\">.*?</p>", "", page, flags=re.S)  # nothing loaded from elsewhere
    status, answer, _ = sign_in(console, console.token, path="/login?agent=alice")
    assert (status, answer["Location"]) == (303, "/?agent=alice")


def test_the_shared_token_in_the_form_opens_a_session_and_no_other_token_does(console):
    status, answer, _ = sign_in(console, console.token)
    assert (status, answer["Location"]) == (303, "/")
    cookie = answer["Set-Cookie"]
    assert cookie.startswith("cm_session=") and "HttpOnly" in cookie and "Secure" in cookie  # behind https public_url
    assert "samesite=strict" in cookie.lower() and "Path=/" in cookie
    assert console.request("GET", "/api/state", token=None, headers={"Cookie": cookie.split(";")[0]})[0] == 200
    status, answer, page = sign_in(console, "not-the-token-at-all")
    assert (status, answer["Set-Cookie"], answer["WWW-Authenticate"]) == (401, None, 'Bearer error="invalid_token"')
    assert page.count("That token is not this console's token.") == 1 and 'aria-invalid="true"' in page
    status, answer, page = sign_in(console, AGENT_TOKEN)  # an agent's own token only posts its alerts
    assert (status, answer["Set-Cookie"]) == (403, None)
    assert "That token is agent alice's own, which only posts that agent's alerts" in page
    status, answer, page = sign_in(console, "", source="127.0.0.3")
    assert (status, answer["Set-Cookie"]) == (401, None)
    assert wait_for(lambda: any("127.0.0.3: wrong token in the sign-in form" in line for line in console.err), 30)
    assert not [line for line in console.err if console.token in line or AGENT_TOKEN in line]  # never logged


def test_a_sign_in_posted_by_a_page_of_another_origin_is_refused(console):
    """Another site's form posting the attacker's token would sign the supervisor in to the attacker's session."""
    for headers in ({"Sec-Fetch-Site": "cross-site", "Origin": "https://elsewhere.example"},
                    {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"},  # another port of this host
                    {"Sec-Fetch-Site": None, "Origin": "https://elsewhere.example"}):  # a browser sending no Sec-Fetch-Site
        status, answer, said = sign_in(console, console.token, headers)
        assert (status, json.loads(said)["code"], answer["Set-Cookie"]) == (403, "cross_origin", None), headers
    # the public origin the proxy serves is this console's own
    assert sign_in(console, console.token, {"Sec-Fetch-Site": None, "Origin": PUBLIC})[0] == 303


def test_too_many_wrong_tokens_from_one_address_pause_its_sign_ins_and_no_other_s(console):
    for _ in range(SIGN_IN_FAILURES):
        assert sign_in(console, "not-the-token-at-all", source="127.0.0.2")[0] == 401
    status, answer, page = sign_in(console, console.token, source="127.0.0.2")  # the right one too, for now
    wait = int(answer["Retry-After"])
    assert (status, answer["Set-Cookie"]) == (429, None) and 1 <= wait <= 6
    assert f"Too many wrong tokens came from this address: try again in {wait} s." in page
    con = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10, source_address=("127.0.0.2", 0))
    con.request("GET", f"/?token={console.token}")  # the printed link is the same sign-in
    assert con.getresponse().status == 429
    assert sign_in(console, console.token)[0] == 303  # 127.0.0.1 signs in as ever
    assert sign_in(console, "not-the-token-at-all", source="127.0.0.4")[0] == 401  # logged after the refusals
    assert wait_for(lambda: [line for line in console.err if "wrong token in the sign-in form" in line
                             and "127.0.0.4" in line], 5)
    said = f"429: 127.0.0.2 gave {SIGN_IN_FAILURES} wrong tokens to sign in"
    assert len([line for line in console.err if said in line]) == 1  # once, not once per refusal
    refused = ("429 POST /login from 127.0.0.2", "429 GET / from 127.0.0.2")
    assert not [line for line in console.err if any(r in line for r in refused)]  # nor one per request (a flood's)


def test_a_token_typed_into_the_form_opens_the_live_page_and_stays_out_of_the_address_and_history(tmp_path, chromium):
    console = ConsoleProcess(tmp_path)
    browser = chromium.context()
    try:
        page = browser.new_page(f"{console.base}/")
        page.wait("document.getElementById('token') !== null")
        assert page.eval("document.getElementById('token').labels[0].textContent") == "Console token"
        page.eval("document.getElementById('token').focus()")
        page.send("Input.insertText", {"text": console.token})
        page.eval("document.querySelector('button[type=submit]').click()")
        page.wait("document.getElementById('conn') && document.getElementById('conn').textContent === 'live'")
        assert page.eval("location.href") == f"{console.base}/"
        entries = page.send("Page.getNavigationHistory")["entries"]
        assert entries and not [e["url"] for e in entries if console.token in e["url"]]
        link = browser.new_page(f"{console.base}/?token={console.token}")  # the printed link: redirected
        link.wait("document.getElementById('conn') && document.getElementById('conn').textContent === 'live'")
        assert not [e["url"] for e in link.send("Page.getNavigationHistory")["entries"] if console.token in e["url"]]
    finally:
        browser.close()
        console.kill()
