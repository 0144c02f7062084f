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
