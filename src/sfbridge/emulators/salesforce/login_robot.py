"""A scripted browser for the emulator's OAuth login page.

Tests and the demo use it where a person would log in: it loads the authorize
page, fills in the username and password, presses Allow (or Deny) and follows
the redirect to the app's callback, exactly the requests a browser makes.
"""

from __future__ import annotations

import html
import re
import ssl

import httpx

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def complete_login(
    authorize_url: str,
    *,
    username: str,
    password: str,
    verify: ssl.SSLContext | bool,
    allow: bool = True,
) -> httpx.Response:
    """Log in on the authorize page and follow the redirect; returns the callback's answer."""
    with httpx.Client(verify=verify, timeout=30) as browser:
        page = browser.get(authorize_url)
        page.raise_for_status()
        action = _ACTION.search(page.text)
        if action is None:
            raise ValueError(f"no login form at {authorize_url}: {page.text[:200]!r}")
        form = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
        form.update(username=username, password=password, action="allow" if allow else "deny")
        return browser.post(str(page.url.join(action.group(1))), data=form, follow_redirects=True)
