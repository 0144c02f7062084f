"""The OCI distribution spec's four workflows (pull, push, content discovery, content management),
run against Dockyard's registry and Debian's docker-registry (CNCF distribution 2.8).

Where distribution answers otherwise than the spec, its case becomes an xfail naming the
difference, and only after the difference was observed (docs/compat.md lists them); Dockyard's
registry has no such escape."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import urllib.error
import urllib.request

import pytest
from registry import Registry
from registryserver import DockyardRegistry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"


@pytest.fixture(scope="module", params=["dockyard", "distribution"])
def reg(request):
    r = (DockyardRegistry if request.param == "dockyard" else Registry)().start()
    r.kind = request.param
    yield r
    r.stop()


def differs(reg, why: str) -> None:
    """distribution does not answer as the spec says here (see docs/compat.md)."""
    if reg.kind == "distribution":
        pytest.xfail(f"distribution: {why}")


def call(reg, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(reg.url + path, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(request, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, exc.headers, exc.read()
        except http.client.IncompleteRead as short:  # distribution's 416 announces a body it never sends
            return exc.code, exc.headers, short.partial


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def code(body: bytes) -> str:
    return json.loads(body)["errors"][0]["code"]


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def location(reg, headers) -> str:
    value = headers["Location"]
    return value.split(reg.host, 1)[1] if "://" in value else value


def with_query(path: str, **query: str) -> str:
    from urllib.parse import urlencode

    return path + ("&" if "?" in path else "?") + urlencode(query)


def upload(reg, repo: str, data: bytes, algorithm: str = "sha256") -> str:
    status, headers, _ = call(reg, "POST", f"/v2/{repo}/blobs/uploads/", b"")
    assert status == 202
    digest = digest_of(data, algorithm)
    status, headers, body = call(reg, "PUT", with_query(location(reg, headers), digest=digest), data,
                                 {"Content-Type": "application/octet-stream"})
    assert status == 201, body
    return digest


def image(reg, repo: str, layer: bytes = b"layer", **extra) -> tuple[bytes, str]:
    config = b"{}"
    config_digest = upload(reg, repo, config)
    layer_digest = upload(reg, repo, layer)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                            "size": len(layer)}], **extra}
    body = json.dumps(manifest).encode()
    return body, digest_of(body)


def put_manifest(reg, repo: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST):
    return call(reg, "PUT", f"/v2/{repo}/manifests/{reference}", body, {"Content-Type": media_type})


# -- pull ------------------------------------------------------------------------------------------

def test_base_endpoint(reg):
    status, headers, _ = call(reg, "GET", "/v2/")
    assert status == 200 and headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_pull_manifest_by_tag_and_digest_and_blobs(reg):
    body, digest = image(reg, "pull/app")
    assert put_manifest(reg, "pull/app", "v1", body)[0] == 201
    for reference in ("v1", digest):
        for method in ("HEAD", "GET"):
            status, headers, got = call(reg, method, f"/v2/pull/app/manifests/{reference}", None,
                                        {"Accept": OCI_MANIFEST})
            assert status == 200
            assert headers["Docker-Content-Digest"] == digest and headers["Content-Type"] == OCI_MANIFEST
            assert int(headers["Content-Length"]) == len(body)
            assert got == (body if method == "GET" else b"")
    layer = digest_of(b"layer")
    status, headers, got = call(reg, "GET", f"/v2/pull/app/blobs/{layer}")
    assert status == 200 and got == b"layer" and headers["Docker-Content-Digest"] == layer


DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def test_content_negotiation_by_accept(reg):
    """A client that does not accept a manifest list gets the linux/amd64 image it names (what old
    Docker clients rely on); one that does not accept OCI manifests gets MANIFEST_UNKNOWN."""
    children = {}
    for arch in ("amd64", "arm64"):
        config = json.dumps({"architecture": arch, "os": "linux"}).encode()
        layer = arch.encode() * 10
        manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                               "digest": upload(reg, "pull/multi", config), "size": len(config)},
                    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                "digest": upload(reg, "pull/multi", layer), "size": len(layer)}]}
        body = json.dumps(manifest).encode()
        assert put_manifest(reg, "pull/multi", digest_of(body), body, DOCKER_MANIFEST)[0] == 201
        children[arch] = body
    manifests = [{"mediaType": DOCKER_MANIFEST, "digest": digest_of(body), "size": len(body),
                  "platform": {"architecture": arch, "os": "linux"}} for arch, body in children.items()]
    listed = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": manifests[::-1]}).encode()
    assert put_manifest(reg, "pull/multi", "v1", listed, DOCKER_LIST)[0] == 201
    status, headers, got = call(reg, "GET", "/v2/pull/multi/manifests/v1", None,
                                {"Accept": f"{DOCKER_MANIFEST}, {DOCKER_LIST}"})
    assert status == 200 and got == listed and headers["Content-Type"] == DOCKER_LIST
    status, headers, got = call(reg, "GET", "/v2/pull/multi/manifests/v1", None, {"Accept": DOCKER_MANIFEST})
    assert status == 200 and got == children["amd64"]
    assert headers["Docker-Content-Digest"] == digest_of(children["amd64"])
    assert headers["Content-Type"] == DOCKER_MANIFEST
    body, _ = image(reg, "pull/multi")
    assert put_manifest(reg, "pull/multi", "oci", body)[0] == 201
    status, _, got = call(reg, "GET", "/v2/pull/multi/manifests/oci", None, {"Accept": DOCKER_MANIFEST})
    assert status == 404 and code(got) == "MANIFEST_UNKNOWN"
    status, _, got = call(reg, "GET", "/v2/pull/multi/manifests/oci", None, {"Accept": OCI_MANIFEST})
    assert status == 200 and got == body


def test_pull_unknown_things(reg):
    status, _, body = call(reg, "GET", "/v2/pull/app/manifests/nope", None, {"Accept": OCI_MANIFEST})
    assert status == 404 and code(body) == "MANIFEST_UNKNOWN"
    status, _, body = call(reg, "GET", f"/v2/pull/app/blobs/{digest_of(b'nothing')}")
    assert status == 404 and code(body) == "BLOB_UNKNOWN"
    status, _, _ = call(reg, "HEAD", f"/v2/pull/app/blobs/{digest_of(b'nothing')}")
    assert status == 404


def test_blob_ranges(reg):
    data = bytes(range(256)) * 4
    digest = upload(reg, "pull/ranges", data)
    status, headers, got = call(reg, "GET", f"/v2/pull/ranges/blobs/{digest}", None, {"Range": "bytes=10-19"})
    assert status == 206 and got == data[10:20] and headers["Content-Range"] == f"bytes 10-19/{len(data)}"


def test_unsatisfiable_range_is_416(reg):
    data = b"0123456789"
    digest = upload(reg, "pull/ranges", data)
    status, _, _ = call(reg, "GET", f"/v2/pull/ranges/blobs/{digest}", None, {"Range": "bytes=100-200"})
    if status != 416:
        differs(reg, "a Range past the end of a blob is answered 200 with the whole blob, not 416")
    assert status == 416


def test_invalid_name(reg):
    status, _, body = call(reg, "GET", "/v2/UPPER/case/tags/list")
    assert status in (400, 404)
    if status == 400:
        assert code(body) == "NAME_INVALID"


# -- push ------------------------------------------------------------------------------------------

def test_push_monolithic_post_then_put(reg):
    data = os.urandom(1000)
    assert upload(reg, "push/mono", data) == digest_of(data)


def test_push_single_post_with_digest(reg):
    data = os.urandom(500)
    status, headers, _ = call(reg, "POST", f"/v2/push/single/blobs/uploads/?digest={digest_of(data)}", data,
                              {"Content-Type": "application/octet-stream"})
    if status == 202:
        differs(reg, "POST with ?digest= opens an upload (202) instead of storing the blob (201)")
    assert status == 201 and headers["Docker-Content-Digest"] == digest_of(data)


def test_push_chunks_in_order_and_out_of_order_refused(reg):
    data = os.urandom(3000)
    status, headers, _ = call(reg, "POST", "/v2/push/chunks/blobs/uploads/", b"")
    path = location(reg, headers)
    status, headers, _ = call(reg, "PATCH", path, data[:1000], {"Content-Range": "0-999",
                                                                "Content-Type": "application/octet-stream"})
    assert status == 202 and headers["Range"] == "0-999"
    path = location(reg, headers)
    status, headers, _ = call(reg, "GET", path)
    assert status == 204 and headers["Range"] == "0-999"
    status, _, _ = call(reg, "PATCH", path, data[2000:], {"Content-Range": "2000-2999",
                                                          "Content-Type": "application/octet-stream"})
    if status == 202:
        differs(reg, "a chunk that does not start at the upload's offset is accepted (202), not refused with 416")
    assert status == 416
    status, headers, _ = call(reg, "PATCH", path, data[1000:2000], {"Content-Range": "1000-1999",
                                                                    "Content-Type": "application/octet-stream"})
    assert status == 202 and headers["Range"] == "0-1999"
    path = location(reg, headers)
    status, headers, _ = call(reg, "PUT", with_query(path, digest=digest_of(data)), data[2000:],
                              {"Content-Range": "2000-2999", "Content-Type": "application/octet-stream"})
    assert status == 201
    assert call(reg, "GET", f"/v2/push/chunks/blobs/{digest_of(data)}")[2] == data


def test_push_digest_mismatch_is_refused(reg):
    status, headers, _ = call(reg, "POST", "/v2/push/bad/blobs/uploads/", b"")
    status, _, body = call(reg, "PUT", with_query(location(reg, headers), digest=digest_of(b"other")), b"data",
                           {"Content-Type": "application/octet-stream"})
    assert status == 400 and code(body) == "DIGEST_INVALID"


def test_push_sha512_blob_and_manifest(reg):
    data = os.urandom(700)
    status, headers, _ = call(reg, "POST", "/v2/push/sha512/blobs/uploads/", b"")
    digest = digest_of(data, "sha512")
    status, _, body = call(reg, "PUT", with_query(location(reg, headers), digest=digest), data,
                           {"Content-Type": "application/octet-stream"})
    if status != 201:
        differs(reg, "sha512 digests are refused (only sha256 is accepted)")
    assert status == 201
    assert call(reg, "GET", f"/v2/push/sha512/blobs/{digest}")[2] == data
    body, _ = image(reg, "push/sha512")
    status, headers, _ = put_manifest(reg, "push/sha512", digest_of(body, "sha512"), body)
    if status == 400:
        differs(reg, "a manifest pushed by a sha512 digest is refused (blobs accept sha512)")
    assert status == 201 and headers["Docker-Content-Digest"] == digest_of(body, "sha512")


def test_cross_repository_mount(reg):
    digest = upload(reg, "push/source", b"mount me")
    status, headers, _ = call(reg, "POST", f"/v2/push/target/blobs/uploads/?mount={digest}&from=push/source", b"")
    assert status == 201 and headers["Docker-Content-Digest"] == digest
    assert call(reg, "GET", f"/v2/push/target/blobs/{digest}")[2] == b"mount me"
    unknown = digest_of(b"not there")
    status, headers, _ = call(reg, "POST", f"/v2/push/target/blobs/uploads/?mount={unknown}&from=push/source", b"")
    assert status == 202 and headers["Location"]


def test_manifest_with_a_missing_blob_is_refused(reg):
    body, _ = image(reg, "push/missing")
    manifest = json.loads(body)
    manifest["layers"][0]["digest"] = digest_of(b"never uploaded")
    status, _, got = put_manifest(reg, "push/missing", "v1", json.dumps(manifest).encode())
    assert status == 400 and code(got) == "MANIFEST_BLOB_UNKNOWN"


def test_manifest_with_subject_answers_oci_subject(reg):
    body, digest = image(reg, "push/subject")
    put_manifest(reg, "push/subject", "v1", body)
    empty = upload(reg, "push/subject", b"{}")
    artifact = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sbom",
                "config": {"mediaType": EMPTY, "digest": empty, "size": 2},
                "layers": [{"mediaType": EMPTY, "digest": empty, "size": 2}],
                "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body)}}
    data = json.dumps(artifact).encode()
    status, headers, _ = put_manifest(reg, "push/subject", digest_of(data), data)
    assert status == 201
    if headers.get("OCI-Subject") is None:
        differs(reg, "no OCI-Subject header when a manifest with a subject is pushed")
    assert headers["OCI-Subject"] == digest


# -- content discovery -------------------------------------------------------------------------------

def test_tags_list_sorted_and_paginated(reg):
    body, _ = image(reg, "discover/tags")
    for tag in ("c", "a", "b", "d"):
        assert put_manifest(reg, "discover/tags", tag, body)[0] == 201
    status, _, got = call(reg, "GET", "/v2/discover/tags/tags/list")
    assert status == 200 and sorted(json.loads(got)["tags"]) == ["a", "b", "c", "d"]
    if json.loads(got)["tags"] != ["a", "b", "c", "d"]:
        differs(reg, "tags/list is not in lexical order (so n/last pages skip and repeat tags)")
    assert json.loads(got) == {"name": "discover/tags", "tags": ["a", "b", "c", "d"]}
    status, headers, got = call(reg, "GET", "/v2/discover/tags/tags/list?n=2")
    assert json.loads(got)["tags"] == ["a", "b"]
    assert 'rel="next"' in headers["Link"] and "last=b" in headers["Link"]
    status, headers, got = call(reg, "GET", "/v2/discover/tags/tags/list?n=2&last=b")
    assert json.loads(got)["tags"] == ["c", "d"]
    status, _, got = call(reg, "GET", "/v2/discover/unknown/tags/list")
    assert status == 404 and code(got) == "NAME_UNKNOWN"


def test_catalog_paginated(reg):
    body, _ = image(reg, "discover/cat1")
    put_manifest(reg, "discover/cat1", "v1", body)
    body, _ = image(reg, "discover/cat2")
    put_manifest(reg, "discover/cat2", "v1", body)
    status, headers, got = call(reg, "GET", "/v2/_catalog?n=1&last=discover/cat1")
    assert status == 200 and json.loads(got)["repositories"] == ["discover/cat2"]
    assert 'rel="next"' in headers.get("Link", "")


def test_referrers_with_artifact_type_filter(reg):
    body, digest = image(reg, "discover/refs")
    put_manifest(reg, "discover/refs", "v1", body)
    empty = upload(reg, "discover/refs", b"{}")
    referrers = {}
    for kind in ("application/vnd.example.sbom", "application/vnd.example.signature"):
        artifact = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
                    "config": {"mediaType": EMPTY, "digest": empty, "size": 2},
                    "layers": [{"mediaType": EMPTY, "digest": empty, "size": 2}],
                    "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body)},
                    "annotations": {"org.example.kind": kind}}
        data = json.dumps(artifact).encode()
        assert put_manifest(reg, "discover/refs", digest_of(data), data)[0] == 201
        referrers[kind] = digest_of(data)
    status, headers, got = call(reg, "GET", f"/v2/discover/refs/referrers/{digest}")
    if status == 404:
        differs(reg, "no referrers API (GET /v2/<name>/referrers/<digest> is 404)")
    assert status == 200 and headers["Content-Type"] == OCI_INDEX
    index = json.loads(got)
    assert index["mediaType"] == OCI_INDEX
    assert {m["digest"] for m in index["manifests"]} == set(referrers.values())
    assert all(m["artifactType"] in referrers and m["annotations"] for m in index["manifests"])
    status, headers, got = call(reg, "GET", f"/v2/discover/refs/referrers/{digest}"
                                            "?artifactType=application/vnd.example.sbom")
    assert [m["digest"] for m in json.loads(got)["manifests"]] == [referrers["application/vnd.example.sbom"]]
    assert headers["OCI-Filters-Applied"] == "artifactType"
    status, _, got = call(reg, "GET", f"/v2/discover/refs/referrers/{digest_of(b'no such subject')}")
    assert status == 200 and json.loads(got)["manifests"] == []


# -- content management ------------------------------------------------------------------------------

def test_delete_manifest_by_digest(reg):
    body, digest = image(reg, "manage/bydigest")
    put_manifest(reg, "manage/bydigest", "v1", body)
    status, _, _ = call(reg, "DELETE", f"/v2/manage/bydigest/manifests/{digest}")
    assert status == 202
    assert call(reg, "GET", f"/v2/manage/bydigest/manifests/{digest}", None, {"Accept": OCI_MANIFEST})[0] == 404
    assert call(reg, "GET", "/v2/manage/bydigest/manifests/v1", None, {"Accept": OCI_MANIFEST})[0] == 404


def test_delete_by_tag(reg):
    body, digest = image(reg, "manage/bytag")
    put_manifest(reg, "manage/bytag", "v1", body)
    put_manifest(reg, "manage/bytag", "v2", body)
    status, _, _ = call(reg, "DELETE", "/v2/manage/bytag/manifests/v1")
    if status != 202:
        differs(reg, "DELETE of a manifest by tag is refused")
    assert status == 202
    assert call(reg, "GET", "/v2/manage/bytag/manifests/v1", None, {"Accept": OCI_MANIFEST})[0] == 404
    assert call(reg, "GET", "/v2/manage/bytag/manifests/v2", None, {"Accept": OCI_MANIFEST})[0] == 200
    assert call(reg, "GET", f"/v2/manage/bytag/manifests/{digest}", None, {"Accept": OCI_MANIFEST})[0] == 200


def test_delete_blob(reg):
    digest = upload(reg, "manage/blob", b"delete me")
    assert call(reg, "DELETE", f"/v2/manage/blob/blobs/{digest}")[0] == 202
    assert call(reg, "GET", f"/v2/manage/blob/blobs/{digest}")[0] == 404


def test_cancel_upload(reg):
    status, headers, _ = call(reg, "POST", "/v2/manage/cancel/blobs/uploads/", b"")
    path = location(reg, headers)
    assert call(reg, "DELETE", path)[0] == 204
    status, _, body = call(reg, "GET", path)
    assert status == 404 and code(body) == "BLOB_UPLOAD_UNKNOWN"
