import pytest

from dockyard.errors import InvalidParameter
from dockyard.runtime.linux.users import resolve

FILES = {
    "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    "/etc/group": "root:x:0:\nwheel:x:10:root\nnobody:x:65534:\n",
}


def read(path):
    return FILES.get(path)


def test_default_is_root_with_supplementary_groups():
    user = resolve("", read)
    assert (user.uid, user.gid, user.additional_gids, user.home) == (0, 0, (10,), "/root")


def test_by_name_and_by_number():
    assert resolve("nobody", read).uid == 65534
    assert resolve("65534", read).gid == 65534
    assert (resolve("1000:50", read).uid, resolve("1000:50", read).gid) == (1000, 50)
    assert resolve("nobody:wheel", read).gid == 10


def test_unknown_names_give_dockers_errors():
    with pytest.raises(InvalidParameter, match="unable to find user ghost: no matching entries in passwd file"):
        resolve("ghost", read)
    with pytest.raises(InvalidParameter, match="unable to find group ghosts"):
        resolve("root:ghosts", read)
