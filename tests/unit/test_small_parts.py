import pytest

from dockyard.api.filters import Filters
from dockyard.cli.flags import Command, Opt, UsageError, parse
from dockyard.cli.output import human_size, table
from dockyard.errors import InvalidParameter
from dockyard.images.changes import apply_changes
from dockyard.network.namefiles import resolv_conf
from dockyard.util.frames import frame, split_frames

RUN = Command("run", "", "", (Opt(("-d",), "detach"), Opt(("-e", "--env"), "env", "list"),
                              Opt(("--name",), "name", "str")), stop_at_positional=True, min_args=1)


def test_flags_stop_at_the_image_and_keep_command_flags():
    values, args = parse(RUN, ["-d", "-eA=1", "--env", "B=2", "--name=web", "busybox", "ls", "-l", "--name"])
    assert values["detach"] and values["env"] == ["A=1", "B=2"] and values["name"] == "web"
    assert args == ["busybox", "ls", "-l", "--name"]


def test_flag_errors_read_like_dockers():
    with pytest.raises(UsageError, match="unknown flag: --nope"):
        parse(RUN, ["--nope", "busybox"])
    with pytest.raises(UsageError, match="flag needs an argument: --name"):
        parse(RUN, ["--name"])
    with pytest.raises(UsageError, match="requires at least 1 argument"):
        parse(RUN, [])


def test_frames_split_across_reads():
    data = frame(1, b"out\n") + frame(2, b"err\n")
    frames, rest = split_frames(data[:10])
    assert frames == [] and rest == data[:10]
    frames, rest = split_frames(data)
    assert frames == [(1, b"out\n"), (2, b"err\n")] and rest == b""


def test_table_matches_tabwriter_layout():
    text = table(["CONTAINER ID", "IMAGE", "NAMES"], [["abc", "busybox", "web"]])
    assert text.splitlines() == ["CONTAINER ID   IMAGE     NAMES", "abc            busybox   web"]


@pytest.mark.parametrize("size,text", [(0, "0B"), (999, "999B"), (1_982_256, "1.98MB"), (4_260_000, "4.26MB"),
                                       (77_800_000, "77.8MB")])
def test_human_size(size, text):
    assert human_size(size) == text


def test_changes_apply_dockerfile_instructions():
    config = apply_changes({}, ['CMD ["sh"]', "ENV A=1 B=2", "ENTRYPOINT echo hi", "EXPOSE 80", "WORKDIR /w",
                                "LABEL k=v", "USER nobody", "VOLUME /data"])
    assert config["Cmd"] == ["sh"] and config["Env"] == ["A=1", "B=2"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "echo hi"]
    assert config["ExposedPorts"] == {"80/tcp": {}} and config["WorkingDir"] == "/w"
    assert config["Labels"] == {"k": "v"} and config["User"] == "nobody" and config["Volumes"] == {"/data": {}}
    with pytest.raises(InvalidParameter, match="RUN is not a valid change command"):
        apply_changes({}, ["RUN true"])


def test_resolv_conf_drops_loopback_servers():
    assert resolv_conf("nameserver 127.0.0.53\nsearch x\n") == "nameserver 127.0.0.53\nsearch x\n".replace(
        "nameserver 127.0.0.53\n", "") + "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert "10.0.0.2" in resolv_conf("nameserver 10.0.0.2\n")


def test_filters_accept_both_json_shapes_and_refuse_unknown_keys():
    assert Filters.parse('{"status":["exited"]}', {"status"}).get("status") == ["exited"]
    assert Filters.parse('{"status":{"running":true}}', {"status"}).get("status") == ["running"]
    with pytest.raises(InvalidParameter, match="invalid filter 'nope'"):
        Filters.parse('{"nope":["x"]}', {"status"})
    f = Filters.parse('{"label":["a=1","b"]}', {"label"})
    assert f.match_labels({"a": "1", "b": ""}) and not f.match_labels({"a": "2", "b": ""})
