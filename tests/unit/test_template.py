import pytest

from dockyard.cli.template import TemplateError, render

OBJ = {"Name": "/web", "State": {"Running": True, "ExitCode": 0}, "Mounts": [{"Source": "/a"}, {"Source": "/b"}],
       "Config": {"Env": ["A=1", "B=2"], "Labels": {"z": "1", "a": "2"}, "Cmd": None}, "Size": 3}


@pytest.mark.parametrize("template,expected", [
    ("{{.State.Running}}", "true"),
    ("{{.Name}} {{.State.ExitCode}}", "/web 0"),
    ("{{json .Mounts}}", '[{"Source":"/a"},{"Source":"/b"}]'),
    ("{{range .Mounts}}{{.Source}};{{end}}", "/a;/b;"),
    ("{{range $i, $m := .Mounts}}{{$i}}={{$m.Source}} {{end}}", "0=/a 1=/b "),
    ("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}},{{end}}", "a:2,z:1,"),
    ('{{index .Config.Labels "z"}}', "1"),
    ("{{index .Mounts 1}}", "map[Source:/b]"),
    ('{{join .Config.Env ","}}', "A=1,B=2"),
    ("{{.Config.Cmd}}", "<no value>"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if not .State.Running}}up{{else if eq .Size 3}}three{{else}}other{{end}}", "three"),
    ("{{with .State}}{{.ExitCode}}{{end}}", "0"),
    ("{{.Name | upper}}", "/WEB"),
    ('{{printf "%s-%d" .Name .Size}}', "/web-3"),
    ("a {{- \" b \" -}} c", "a b c"),
    ("{{len .Mounts}}", "2"),
    ('{{range split "x,y" ","}}[{{.}}]{{end}}', "[x][y]"),
])
def test_render(template, expected):
    assert render(template, OBJ) == expected


@pytest.mark.parametrize("template", ["{{range .Mounts}}", "{{end}}", "{{nosuchfunc .Name}}", "{{$undefined}}"])
def test_errors(template):
    with pytest.raises(TemplateError):
        render(template, OBJ)
