"""Small parts of the registry client: challenges, X-Registry-Auth, platforms, progress, rendering."""

import base64
import io
import json

import pytest

from dockyard.cli.jsonmessage import StreamError, display
from dockyard.distribution import manifests, progress
from dockyard.distribution.auth import decode_registry_auth, parse_challenge
from dockyard.distribution.endpoints import RegistryOptions
from dockyard.errors import InvalidParameter, NotFound


def test_bearer_challenge_is_parsed():
    c = parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                        'scope="repository:library/busybox:pull"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                        "scope": "repository:library/busybox:pull"}
    assert parse_challenge('Basic realm="basic-realm"').scheme == "basic"


def test_registry_auth_header_decodes_without_padding_and_with_identity_token():
    raw = base64.urlsafe_b64encode(json.dumps({"username": "u", "password": "p?>", "serveraddress": "h"}).encode())
    creds = decode_registry_auth(raw.decode().rstrip("="))
    assert (creds.username, creds.password, creds.server) == ("u", "p?>", "h")
    token = decode_registry_auth(base64.b64encode(b'{"identitytoken":"tok"}').decode())
    assert token.identity_token == "tok" and not token.empty
    assert decode_registry_auth("e30=").empty
    with pytest.raises(InvalidParameter):
        decode_registry_auth("!!!")


def test_loopback_and_listed_registries_are_insecure():
    options = RegistryOptions(insecure=["10.0.0.0/8", "myreg:5000"])
    assert options.is_insecure("127.0.0.1:5000") and options.is_insecure("localhost:5000")
    assert options.is_insecure("[::1]:5000") and options.is_insecure("10.1.2.3")
    assert options.is_insecure("myreg:5000")
    assert not options.is_insecure("8.8.8.8:443")
    assert [e.scheme for e in options.endpoints("127.0.0.1:5000")] == ["https", "http"]
    assert [e.scheme for e in options.endpoints("8.8.8.8")] == ["https"]
    assert options.endpoints("docker.io")[-1].host == "registry-1.docker.io"


def test_platform_selection():
    index = {"manifests": [
        {"digest": "a", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
        {"digest": "b", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": "c", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"digest": "d", "platform": {"os": "windows", "architecture": "amd64"}},
    ]}
    assert manifests.select(index, manifests.parse_platform("linux/arm/v7"))["digest"] == "b"
    assert manifests.select(index, manifests.parse_platform("linux/arm64"))["digest"] == "c"
    assert manifests.select(index, manifests.parse_platform("aarch64"))["digest"] == "c"
    with pytest.raises(NotFound, match="no matching manifest for linux/amd64 in the manifest list entries"):
        manifests.select(index, manifests.parse_platform("linux/amd64"))
    with pytest.raises(InvalidParameter):
        manifests.parse_platform("linux//x")


def test_progress_bar_is_dockers():
    assert progress.progress_bar(0, 0) == ""
    assert progress.progress_bar(1048576, 2140160) == \
        "[========================>                          ]  1.049MB/2.14MB"
    assert progress.human_size(772800) == "772.8kB"


def test_display_plain_skips_bars_and_tty_redraws_in_place():
    messages = [progress.status("Pulling from library/busybox", "latest"),
                progress.layer_status("Pulling fs layer", "aaa"),
                progress.layer_status("Pulling fs layer", "bbb"),
                progress.layer_progress("Downloading", "aaa", 5, 10),
                progress.layer_status("Pull complete", "aaa"),
                progress.status("Digest: sha256:x")]
    plain = io.StringIO()
    display(messages, plain, tty=False)
    assert plain.getvalue() == ("latest: Pulling from library/busybox\naaa: Pulling fs layer\nbbb: Pulling fs layer\n"
                                "aaa: Pull complete\nDigest: sha256:x\n")
    tty = io.StringIO()
    display(messages[:4], tty, tty=True)
    # the Downloading update for aaa moves up two lines (aaa is first of two), redraws, and comes back down
    assert tty.getvalue().endswith("\x1b[2A\x1b[2K\raaa: Downloading [" + "=" * 25 + ">" + " " * 25 + "]       5B/10B\r"
                                   "\x1b[2B")
    with pytest.raises(StreamError, match="boom"):
        display([progress.error("boom")], io.StringIO(), tty=False)
