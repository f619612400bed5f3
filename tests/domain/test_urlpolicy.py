import ipaddress

import pytest

from bot.domain.urlpolicy import (
    Allowlist,
    address_allowed,
    is_public_address,
    is_safe_link,
    redirect_refusal_reason,
    refusal_reason,
)

LOCAL = Allowlist.parse(["127.0.0.1/32"])


@pytest.mark.parametrize(
    "url",
    [
        "https://learninginaction.com/feed/",
        "http://example.com/feed?x=1",
        "https://example.com:8443/feed",
        "http://8.8.8.8/feed",
        "http://[2001:4860:4860::8888]/feed",
        "https://bücher.example/feed",
    ],
)
def test_public_urls_are_allowed(url):
    assert refusal_reason(url) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("file:///etc/passwd", "scheme"),
        ("ftp://example.com/feed", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("gopher://example.com/", "scheme"),
        ("/feed", "scheme"),
        ("http://user:pass@example.com/feed", "credentials"),
        ("http://user@example.com/feed", "credentials"),
        ("http:///feed", "no host"),
        ("http://127.0.0.1/feed", "not public"),
        ("http://127.0.0.2:8080/", "not public"),
        ("http://10.0.0.1/feed", "not public"),
        ("http://172.16.5.4/feed", "not public"),
        ("http://192.168.1.1/feed", "not public"),
        ("http://169.254.169.254/latest/meta-data/", "not public"),
        ("http://100.64.0.1/feed", "not public"),
        ("http://0.0.0.0/feed", "not public"),
        ("http://224.0.0.1/feed", "not public"),
        ("http://[::1]/feed", "not public"),
        ("http://[::]/feed", "not public"),
        ("http://[fe80::1]/feed", "not public"),
        ("http://[fc00::1]/feed", "not public"),
        ("http://[::ffff:127.0.0.1]/feed", "not public"),
        ("http://[::ffff:169.254.169.254]/feed", "not public"),
        ("http://0x7f000001/feed", "non-standard form"),
        ("http://2130706433/feed", "non-standard form"),
        ("http://127.1/feed", "non-standard form"),
        ("http://0177.0.0.1/feed", "non-standard form"),
        ("http://0x7f.0.0.1/feed", "non-standard form"),
        ("http://example.0x10/feed", "non-standard form"),
        ("http://localhost/feed", "local machine"),
        ("http://LOCALHOST./feed", "local machine"),
        ("http://api.localhost/feed", "local machine"),
        ("http://example.com:22/feed", "port 22"),
        ("http://example.com:6379/", "port 6379"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com\\@evil.com/", "backslash"),
        ("http://example.com:99999/", "cannot be parsed"),
        ("http://１２７.０.０.１/feed", "not public"),  # fullwidth digits: the client connects to 127.0.0.1
        ("http://127。0。0。1/feed", "not public"),  # ideographic full stops
        ("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/feed", "local machine"),
        ("http://１０.０.０.１/feed", "not public"),
        ("http://" + "ü" * 70 + ".example/", "not a valid international name"),
    ],
)
def test_refused_urls_say_why(url, words):
    reason = refusal_reason(url)
    assert reason is not None
    assert words in reason


def test_allowlist_opens_only_the_listed_network_and_its_ports():
    assert refusal_reason("http://127.0.0.1:54321/feed", LOCAL) is None
    assert refusal_reason("http://127.0.0.2:54321/feed", LOCAL) is not None
    assert refusal_reason("http://10.0.0.1/feed", LOCAL) is not None
    # Numeric tricks stay refused whatever the allowlist says.
    assert refusal_reason("http://2130706433/feed", LOCAL) is not None
    assert refusal_reason("http://example.com:6379/", LOCAL) is not None


def test_allowlist_host_names_and_ipv6():
    allow = Allowlist.parse(["feeds.internal", "fd00::/8", " "])
    assert refusal_reason("http://feeds.internal:9000/rss", allow) is None
    assert refusal_reason("http://localhost/", Allowlist.parse(["localhost"])) is None
    assert refusal_reason("http://[fd00::5]/rss", allow) is None
    assert refusal_reason("http://[fe80::5]/rss", allow) is not None


@pytest.mark.parametrize("entry", ["not a host/x", "127.1", "http://x"])
def test_allowlist_rejects_malformed_entries(entry):
    with pytest.raises(ValueError, match="neither a CIDR nor a host name"):
        Allowlist.parse([entry])


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("100.127.255.255", False),
        ("169.254.169.254", False),
        ("255.255.255.255", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("2002:7f00:1::", False),  # 6to4 wrapping 127.0.0.1
        ("ff02::1", False),
        ("192.0.2.1", False),  # documentation range
    ],
)
def test_public_addresses(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_allowlist_applies_to_mapped_addresses():
    assert address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), LOCAL)
    assert not address_allowed(ipaddress.ip_address("::ffff:127.0.0.2"), LOCAL)


def test_redirects_may_not_downgrade_to_http():
    assert (
        redirect_refusal_reason("https://a.example/feed", "http://a.example/feed")
        == "redirect from https to http"
    )
    assert redirect_refusal_reason("http://a.example/feed", "https://a.example/feed") is None
    assert "not public" in (redirect_refusal_reason("https://a.example/", "https://10.0.0.1/") or "")


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.com/post", True),
        ("https://example.com:8000/post", True),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("ftp://example.com/x", False),
        ("http://127.0.0.1:8080/admin", False),
        ("http://0x7f000001/x", False),
        ("https://user:pass@example.com/", False),
        ("//example.com/relative", False),
        ("", False),
        (None, False),
    ],
)
def test_safe_links(url, safe):
    assert is_safe_link(url) is safe


def test_extra_ports_open_a_port_but_no_address():
    allow = Allowlist.parse([], ports=[9000])
    assert refusal_reason("http://example.com:9000/feed", allow) is None
    assert refusal_reason("http://example.com:9001/feed", allow) is not None
    assert refusal_reason("http://127.0.0.1:9000/feed", allow) is not None
