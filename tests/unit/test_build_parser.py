"""The Dockerfile parser, variable substitution and .dockerignore rules, without a daemon."""

import io
import tarfile

import pytest

from dockyard.build import ignore
from dockyard.build.parser import ParseError, name_values, parse, split_words
from dockyard.build.reproducible import clamp_layer
from dockyard.build.shell_words import expand_heredoc, process_word, process_words
from dockyard.errors import InvalidParameter


def test_directives_comments_continuations_and_case():
    df = parse("# syntax=docker/dockerfile:1\n# escape=`\n\nfrom busybox\n# a comment\n"
               "run echo a `\n  # inside\n\n  && echo b\nCMD [\"sh\"]\n")
    assert df.escape == "`"
    assert df.directives == {"syntax": "docker/dockerfile:1", "escape": "`"}
    assert [i.cmd for i in df.instructions] == ["FROM", "RUN", "CMD"]
    run = df.instructions[1]
    assert run.rest == "echo a   && echo b"
    assert run.line == 6
    assert df.instructions[2].json_args == ["sh"]


def test_directive_after_an_instruction_is_a_comment():
    df = parse("FROM busybox\n# escape=`\nRUN echo \\\n hi\n")
    assert df.escape == "\\"
    assert df.instructions[1].rest == "echo  hi"


def test_shell_form_when_json_is_invalid_and_flags_are_split():
    df = parse('FROM --platform=linux/amd64 busybox AS b\nCOPY --from=b --chown=1:2 ["a b", "/x/"]\n'
               "CMD [not json]\n")
    from_line, copy, cmd = df.instructions
    assert from_line.flags == ["--platform=linux/amd64"] and from_line.rest == "busybox AS b"
    assert copy.flag("from") == "b" and copy.flag("chown") == "1:2" and copy.json_args == ["a b", "/x/"]
    assert cmd.json_args is None and cmd.rest == "[not json]"


def test_heredocs_plain_quoted_and_chomped():
    df = parse("FROM busybox\nRUN <<EOF\necho $A\nEOF\nCOPY <<-'END' <<two /dst/\n\tkeep $A\n\tEND\nx\ntwo\n"
               "ENV A=1\n")
    run, copy = df.instructions[1], df.instructions[2]
    assert run.heredocs[0].name == "EOF" and run.heredocs[0].content == "echo $A\n" and run.heredocs[0].expand
    first, second = copy.heredocs
    assert (first.name, first.content, first.expand, first.chomp) == ("END", "keep $A\n", False, True)
    assert (second.name, second.content) == ("two", "x\n")
    assert df.instructions[3].cmd == "ENV"


def test_errors_name_file_line_and_instruction():
    with pytest.raises(ParseError) as info:
        parse("FROM busybox\n\nFOO bar\n", "mailer.df")
    assert str(info.value) == "failed to parse mailer.df: dockerfile parse error on line 3: unknown instruction: FOO"
    with pytest.raises(ParseError, match="line 2: COPY: unterminated heredoc EOF"):
        parse("FROM busybox\nCOPY <<EOF /x\nbody\n")
    with pytest.raises(ParseError, match="line 2: ENV requires at least one argument"):
        parse("FROM busybox\nENV\n")


def test_substitution_rules():
    env = {"A": "1", "E": "", "P": "/app"}
    assert process_word("$A-${A}-${P}/x", env) == "1-1-/app/x"
    assert process_word("${B:-dflt} ${E:-empty} ${E-set} ${A:+alt} ${B:+alt}", env) == "dflt empty  alt "
    assert process_word("'$A' \"$A\" \\$A \"\\$A\" \"\\x\"", env) == "$A 1 $A $A \\x"
    assert process_word("$ ${A}$", env) == "$ 1$"
    assert process_words("a\\ b 'c d' $P/e", env) == ["a b", "c d", "/app/e"]
    assert process_word("`$A", env, "`") == "$A"
    with pytest.raises(InvalidParameter, match="B: must be set"):
        process_word("${B:?must be set}", env)
    assert expand_heredoc('echo "$A" \'$P\'\n', env) == "echo \"1\" '/app'\n"


def test_env_and_arg_name_values():
    df = parse('FROM busybox\nENV A=1 B="two words" C=x\\ y\nENV OLD legacy value\nARG X Y=2\n')
    env, old, arg = df.instructions[1:]
    assert name_values(env) == [("A", "1"), ("B", '"two words"'), ("C", "x\\ y")]
    assert name_values(old) == [("OLD", "legacy value")]
    assert name_values(arg) == [("X", None), ("Y", "2")]
    assert split_words('a "b c" d\\ e') == ["a", '"b c"', "d\\ e"]


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    ("*.log", "a.log", True),
    ("*.log", "dir/a.log", False),
    ("**/*.log", "dir/sub/a.log", True),
    ("**/*.log", "a.log", True),
    ("secrets", "secrets/key", True),
    ("dir/**", "dir/x/y", True),
    ("*.md\n!README.md", "README.md", False),
    ("*.md\n!README.md", "CHANGES.md", True),
    ("!keep\n*", "keep", True),  # the last matching pattern wins
    ("/abs/path", "abs/path", True),
    ("a?c", "abc", True),
    ("[a-c]x", "bx", True),
    ("# comment\n\n  spaced  ", "spaced", True),
])
def test_dockerignore_rules(patterns, path, excluded):
    assert ignore.Matcher(ignore.parse(patterns)).excluded(path) is excluded


def test_clamped_layer_keeps_entries_and_caps_times():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, mtime in (("old", 100), ("new", 5_000_000_000)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = 3, mtime
            tar.addfile(info, io.BytesIO(b"abc"))
    raw.seek(0)
    out = io.BytesIO()
    clamp_layer(raw, out, 1000)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        assert [(m.name, m.mtime) for m in tar] == [("old", 100), ("new", 1000)]
        assert tar.extractfile("new").read() == b"abc"
