"""Names and media types of image archives: Docker's `docker save` format and the OCI image layout."""

MANIFEST_FILE = "manifest.json"  # Docker: [{"Config", "RepoTags", "Layers"}], paths inside the archive
REPOSITORIES_FILE = "repositories"  # Docker's legacy {"name": {"tag": "<top layer id>"}}
OCI_LAYOUT_FILE = "oci-layout"
OCI_INDEX_FILE = "index.json"
OCI_LAYOUT_CONTENT = b'{"imageLayoutVersion": "1.0.0"}'

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)

# Where an OCI layout's index names an image: containerd's full reference, or OCI's ref name.
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"


def blob_path(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return f"blobs/{algorithm}/{hexpart}"
