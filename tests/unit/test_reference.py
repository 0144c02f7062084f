import pytest

from dockyard.errors import InvalidParameter
from dockyard.images import reference


@pytest.mark.parametrize("text,full,familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
    ("localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000/a/b:tag"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64, "busybox@sha256:" + "a" * 64),
])
def test_normalisation(text, full, familiar):
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar


@pytest.mark.parametrize("text", ["", "Busybox", "bad name", "a:b:c", "-x", "a" * 300, "a" * 64])
def test_invalid(text):
    with pytest.raises(InvalidParameter) as info:
        reference.parse(text)
    assert "invalid reference format" in str(info.value)


def test_uppercase_message_names_the_repository():
    with pytest.raises(InvalidParameter, match=r"repository name \(library/Busybox\) must be lowercase"):
        reference.parse("Busybox")


@pytest.mark.parametrize("text,full", [
    ("busybox:1.36@sha256:" + "b" * 64, "docker.io/library/busybox:1.36@sha256:" + "b" * 64),
    ("[::1]:5000/app:v2", "[::1]:5000/app:v2"),
    ("registry.example.com/a/b/c", "registry.example.com/a/b/c:latest"),
    ("a__b-c/e--f.g", "docker.io/a__b-c/e--f.g:latest"),
])
def test_more_forms(text, full):
    assert str(reference.parse(text)) == full


def test_digest_length_is_checked_for_sha256():
    with pytest.raises(InvalidParameter, match="invalid checksum digest length"):
        reference.parse("busybox@sha256:" + "a" * 32)


# -- properties: any reference built from Docker's grammar survives parse/print round trips ----------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_component = st.builds(lambda parts, seps: "".join(p + s for p, s in zip(parts, seps, strict=False)) + parts[-1],
                       st.lists(_alnum, min_size=1, max_size=3), st.lists(st.sampled_from([".", "_", "__", "-", "--"]),
                                                                          min_size=2, max_size=2))
_domain = st.one_of(st.none(), st.just("localhost"), st.just("localhost:5000"),
                    st.builds(lambda a, b: f"{a}.{b}", _alnum, st.sampled_from(["com", "io", "local:443"])))
_tag = st.one_of(st.none(), st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z"))
_digest = st.one_of(st.none(), st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h))


@settings(max_examples=200, deadline=None)
@given(_domain, st.lists(_component, min_size=1, max_size=3), _tag, _digest)
def test_round_trips(domain, path, tag, digest):
    if not domain and "." in path[0]:
        path = [path[0].replace(".", "-")] + path[1:]  # a dotted first component is a registry name
    text = "/".join(([domain] if domain else []) + path)
    if tag:
        text += ":" + tag
    if digest:
        text += "@" + digest
    ref = reference.parse(text)
    assert reference.parse(str(ref)) == ref
    assert reference.parse(ref.familiar()) == ref
    assert ref.tag == (tag or (None if digest else "latest")) and ref.digest == digest
    assert ref.domain == (domain or "docker.io")
    if not domain and len(path) == 1:
        assert ref.path == "library/" + path[0]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_cleanly(text):
    try:
        ref = reference.parse(text)
    except InvalidParameter as exc:
        assert "invalid" in str(exc)
    else:
        assert reference.parse(str(ref)) == ref
