"""commit driven by the real docker CLI against our daemon."""

import json


def run(daemon, *args):
    r = daemon.docker(*args)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_docker_commit_with_changes_author_and_message(daemon):
    assert run(daemon, "run", "--name", "dk-commit", "busybox", "sh", "-c", "echo made > /made; rm /etc/group")[0] == 0
    try:
        code, out, err = run(daemon, "commit", "-a", "Bob", "-m", "from docker", "-c", "ENV COLOR=red",
                             "-c", 'CMD ["cat", "/made"]', "-c", "EXPOSE 9000/udp", "dk-commit", "dk-committed:v1")
        assert code == 0, err
        image_id = out.strip()
        assert image_id.startswith("sha256:")
        assert run(daemon, "run", "--rm", "dk-committed:v1")[1] == "made\n"
        assert run(daemon, "run", "--rm", "dk-committed:v1", "sh", "-c", "echo $COLOR; cat /etc/group 2>&1 || true"
                   )[1].splitlines() == ["red", "cat: can't open '/etc/group': No such file or directory"]
        code, out, err = run(daemon, "image", "inspect", "dk-committed:v1")
        assert code == 0, err
        image = json.loads(out)[0]
        assert image["Id"] == image_id and image["Author"] == "Bob" and image["Comment"] == "from docker"
        assert image["Config"]["ExposedPorts"] == {"9000/udp": {}} and "COLOR=red" in image["Config"]["Env"]
        assert run(daemon, "container", "commit", "--pause=false", "dk-commit")[0] == 0
    finally:
        daemon.docker("rm", "-f", "dk-commit")
        daemon.docker("rmi", "dk-committed:v1")


def test_docker_commit_of_a_missing_container(daemon):
    code, _, err = run(daemon, "commit", "dk-no-such")
    assert code == 1 and "No such container: dk-no-such" in err
