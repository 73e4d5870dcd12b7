import pytest

from app.core.addresses import UnsafeAddress, check_base_url, is_loopback
from app.hub import Hub, HubError


@pytest.mark.parametrize(
    "url",
    [
        "https://api.selldone.com",
        "http://127.0.0.1:8000",
        "http://localhost:9/",
        "http://[::1]:80",
        "https://10.0.0.5",
    ],
)
def test_accepted(url):
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://api.sellar.io", "not encrypted"),
        ("http://192.168.1.20:8080", "not encrypted"),
        ("ftp://shop.example", "not a web address"),
        ("shop.example", "not a web address"),
    ],
)
def test_refused(url, words):
    with pytest.raises(UnsafeAddress, match=words):
        check_base_url(url)


def test_loopback_names():
    assert is_loopback("127.5.0.1") and is_loopback("localhost") and not is_loopback("example.com")


def test_hub_refuses_plain_http_before_anything_is_stored(tmp_path):
    import asyncio

    hub = Hub(tmp_path)
    try:
        with pytest.raises(HubError, match="not encrypted"):
            asyncio.run(
                hub.add_channel(
                    "sellar",
                    "W",
                    account="",
                    secret="SLR.abcdef",
                    base_url="http://api.sellar.io",
                    test=False,
                )
            )
        assert hub.channels.all() == []
    finally:
        hub.close()
