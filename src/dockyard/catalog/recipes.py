"""What each catalog image is: its Debian packages, the files and commands that make it behave like
the official image of the same name, and its image config (entry point, ports, volumes, ...).

Recipes are data. A recipe's digest (`recipe_digest`) covers everything that goes into the image
except the package versions, which come from the package lists in the cache; so the same recipe,
lists and SOURCE_DATE_EPOCH give the same image ID.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from importlib import resources

# Bump when the way images are assembled changes, so images built the old way show as outdated.
FORMAT = 2
SUITE = "bookworm"
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LABEL = "org.dockyard.catalog.recipe"


@dataclass(frozen=True)
class ImageConfig:
    """The config fields the official image documents."""

    cmd: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    env: tuple[str, ...] = (PATH,)
    ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    stop_signal: str = ""


@dataclass(frozen=True)
class FileSpec:
    """A file the recipe puts into the image, from dockyard/catalog/files/."""

    path: str
    source: str
    mode: int = 0o644

    def content(self) -> bytes:
        return resources.files("dockyard.catalog").joinpath("files", self.source).read_bytes()


@dataclass(frozen=True)
class PackageFile(FileSpec):
    """A module of Dockyard itself (``source`` relative to the dockyard package), for images that run
    part of Dockyard: registry:2 runs `dockyard registry serve`."""

    def content(self) -> bytes:
        return resources.files("dockyard").joinpath(self.source).read_bytes()


def package_files(target: str, sources: tuple[str, ...]) -> tuple[PackageFile, ...]:
    """PackageFiles under ``target`` for ``sources``; ``dir/*`` stands for the directory's modules."""
    names = []
    for source in sources:
        if source.endswith("/*"):
            directory = resources.files("dockyard").joinpath(source[:-2])
            names += sorted(f"{source[:-1]}{e.name}" for e in directory.iterdir() if e.name.endswith(".py"))
        else:
            names.append(source)
    return tuple(PackageFile(f"{target}/{name}", name) for name in names)


@dataclass(frozen=True)
class Recipe:
    reference: str  # NAME:TAG, the image's main tag
    description: str
    config: ImageConfig
    # "minbase": Debian's required packages plus apt (debian:bookworm and everything on it);
    # "busybox": busybox-static's binary alone with its applet links.
    variant: str = "minbase"
    slim: bool = True  # no docs, man pages or translations (the -slim images and those built on them)
    packages: tuple[str, ...] = ()
    files: tuple[FileSpec, ...] = ()
    # Shell run after the packages are installed: $ROOT is the image's root, `run CMD` runs CMD in it.
    script: str = ""
    aliases: tuple[str, ...] = ()  # further NAME:TAG tags for the same image
    replaceable: str = field(default="", compare=False)  # a note `catalog ls` shows
    # The catalog image this one is a layer on (its main tag), as the official images are built
    # FROM debian:bookworm-slim: images on the same base share its layer on disk and in transfers.
    base: str = ""

    @property
    def references(self) -> tuple[str, ...]:
        return (self.reference, *self.aliases)


def recipe_digest(recipe: Recipe, source_date_epoch: int, builder: str = "") -> str:
    """sha256 of the recipe's inputs: fields, file contents, format, SOURCE_DATE_EPOCH and the
    fingerprint of the builder's own settings (``builder``)."""
    document = asdict(recipe)
    document.pop("replaceable")
    document["file_contents"] = [hashlib.sha256(f.content()).hexdigest() for f in recipe.files]
    document["format"] = FORMAT
    document["source_date_epoch"] = source_date_epoch
    document["builder"] = builder
    if recipe.base:  # a new base means a new layer below, so a new image
        document["base"] = recipe_digest(find(recipe.base), source_date_epoch, builder)
    return "sha256:" + hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _debian(tag: str, slim: bool, aliases: tuple[str, ...]) -> Recipe:
    return Recipe(f"debian:{tag}", f"Debian 12 ({'slim: no docs, man pages or translations' if slim else 'minbase'})",
                  ImageConfig(cmd=("bash",)), slim=slim, aliases=aliases)


BUSYBOX = Recipe("busybox:latest", "BusyBox from Debian's busybox-static, every applet linked",
                 ImageConfig(cmd=("sh",)), variant="busybox", slim=False)

DEBIAN = _debian("bookworm", False, ("debian:12", "debian:latest"))
DEBIAN_SLIM = _debian("bookworm-slim", True, ("debian:12-slim",))

PYTHON = Recipe(
    "python:3.11-slim", "Python 3.11 with pip and venv (Debian's python3)",
    ImageConfig(cmd=("python3",), env=(PATH, "LANG=C.UTF-8", "PYTHON_VERSION=3.11.2")),
    base="debian:bookworm-slim",
    packages=("python3", "python3-pip", "python3-venv", "python-is-python3", "ca-certificates"),
    # Debian marks its Python "externally managed" (PEP 668); the official image lets pip install.
    script="rm -f \"$ROOT\"/usr/lib/python3.*/EXTERNALLY-MANAGED\n",
)

NGINX = Recipe(
    "nginx:latest", "nginx web server: default page on port 80, logs to stdout/stderr",
    ImageConfig(entrypoint=("/docker-entrypoint.sh",), cmd=("nginx", "-g", "daemon off;"), ports=("80/tcp",),
                stop_signal="SIGQUIT"),
    base="debian:bookworm-slim",
    packages=("nginx", "gettext-base"),  # gettext-base: envsubst, for the templates step
    files=(FileSpec("/docker-entrypoint.sh", "nginx/docker-entrypoint.sh", 0o755),
           FileSpec("/docker-entrypoint.d/20-envsubst-on-templates.sh", "nginx/20-envsubst-on-templates.sh", 0o755),
           FileSpec("/etc/nginx/nginx.conf", "nginx/nginx.conf"),
           FileSpec("/etc/nginx/conf.d/default.conf", "nginx/default.conf"),
           FileSpec("/usr/share/nginx/html/index.html", "nginx/index.html")),
    script="""\
run useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /bin/false \\
    --comment "nginx user" nginx
rm -f "$ROOT"/etc/nginx/sites-enabled/default "$ROOT"/var/www/html/index.nginx-debian.html
mkdir -p "$ROOT"/docker-entrypoint.d
ln -sf /dev/stdout "$ROOT"/var/log/nginx/access.log
ln -sf /dev/stderr "$ROOT"/var/log/nginx/error.log
""",
)

REDIS = Recipe(
    "redis:latest", "Redis key-value store on port 6379, data in /data",
    ImageConfig(entrypoint=("docker-entrypoint.sh",), cmd=("redis-server",), ports=("6379/tcp",),
                volumes=("/data",), working_dir="/data"),
    base="debian:bookworm-slim",
    packages=("redis-server",),
    files=(FileSpec("/usr/local/bin/docker-entrypoint.sh", "redis/docker-entrypoint.sh", 0o755),),
    script='mkdir -p "$ROOT"/data\nrun chown redis:redis /data\n',
)

POSTGRES = Recipe(
    "postgres:latest", "PostgreSQL 15: POSTGRES_PASSWORD/USER/DB set up on first start, port 5432",
    ImageConfig(entrypoint=("docker-entrypoint.sh",), cmd=("postgres",), ports=("5432/tcp",),
                volumes=("/var/lib/postgresql/data",), stop_signal="SIGINT",
                env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                     "LANG=en_US.utf8", "PG_MAJOR=15", "PGDATA=/var/lib/postgresql/data")),
    base="debian:bookworm-slim",
    packages=("postgresql-15", "postgresql-client-15", "locales"),
    files=(FileSpec("/usr/local/bin/docker-entrypoint.sh", "postgres/docker-entrypoint.sh", 0o755),),
    script="""\
# The package's cluster and its random snakeoil certificate are not part of the image: the entry
# point makes the database on first start, as the official image does.
rm -rf "$ROOT"/var/lib/postgresql/15 "$ROOT"/etc/postgresql/15
rm -f "$ROOT"/etc/ssl/private/ssl-cert-snakeoil.key "$ROOT"/etc/ssl/certs/ssl-cert-snakeoil.pem
run find /etc/ssl/certs -xtype l -delete
run localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
sed -ri "s!^#?(listen_addresses)\\s*=\\s*\\S+.*!\\1 = '*'!" "$ROOT"/usr/share/postgresql/15/postgresql.conf.sample
mkdir -p "$ROOT"/docker-entrypoint-initdb.d "$ROOT"/var/lib/postgresql/data "$ROOT"/var/run/postgresql
run chown postgres:postgres /var/lib/postgresql /var/lib/postgresql/data /var/run/postgresql
chmod 1777 "$ROOT"/var/lib/postgresql/data
chmod 3777 "$ROOT"/var/run/postgresql
""",
)

HTTPD = Recipe(
    "httpd:latest", "Apache httpd 2.4 on port 80, pages in /usr/local/apache2/htdocs",
    ImageConfig(cmd=("httpd-foreground",), ports=("80/tcp",), working_dir="/usr/local/apache2",
                stop_signal="SIGWINCH", env=(PATH, "HTTPD_PREFIX=/usr/local/apache2")),
    base="debian:bookworm-slim",
    packages=("apache2",),
    aliases=("httpd:2.4",),
    files=(FileSpec("/usr/local/bin/httpd-foreground", "httpd/httpd-foreground", 0o755),
           FileSpec("/etc/apache2/sites-available/000-default.conf", "httpd/000-default.conf"),
           FileSpec("/usr/local/apache2/htdocs/index.html", "httpd/index.html")),
    script="""\
rm -f "$ROOT"/var/www/html/index.html
ln -sf /proc/self/fd/2 "$ROOT"/var/log/apache2/error.log
ln -sf /proc/self/fd/1 "$ROOT"/var/log/apache2/access.log
ln -sf /proc/self/fd/1 "$ROOT"/var/log/apache2/other_vhosts_access.log
""",
)

# registry:2 runs Dockyard's own registry server (`python3 -m dockyard.registry`, as /usr/bin/registry)
# behind the official image's paths, config and entry point. Only the modules the server imports go
# in (tests/unit/test_registry_parts.py serves from those files alone).
REGISTRY_MODULES = (
    "__init__.py", "errors.py", "distribution/__init__.py", "distribution/auth.py", "images/__init__.py",
    "images/content.py", "util/__init__.py", "util/durations.py", "httpserver/*", "oci/*", "registry/*",
)
REGISTRY = Recipe(
    "registry:2", "Docker registry (Dockyard's registry server) on port 5000, data in /var/lib/registry",
    ImageConfig(entrypoint=("/entrypoint.sh",), cmd=("/etc/docker/registry/config.yml",), ports=("5000/tcp",),
                volumes=("/var/lib/registry",)),
    base="python:3.11-slim",
    packages=("python3-h11", "python3-yaml", "python3-bcrypt", "python3-cryptography"),
    aliases=("registry:latest",),
    files=(FileSpec("/entrypoint.sh", "registry/entrypoint.sh", 0o755),
           FileSpec("/usr/bin/registry", "registry/registry.sh", 0o755),
           FileSpec("/etc/docker/registry/config.yml", "registry/config.yml"),
           *package_files("/usr/lib/python3/dist-packages/dockyard", REGISTRY_MODULES)),
    script='mkdir -p "$ROOT"/var/lib/registry\n',
)

RECIPES: tuple[Recipe, ...] = (BUSYBOX, DEBIAN, DEBIAN_SLIM, PYTHON, NGINX, REDIS, POSTGRES, HTTPD, REGISTRY)


def chain(recipe: Recipe) -> tuple[Recipe, ...]:
    """``recipe``'s bases, lowest first, then ``recipe``: one recipe per layer of its image."""
    return (*chain(find(recipe.base)), recipe) if recipe.base else (recipe,)


def whole(recipe: Recipe) -> Recipe:
    """What mmdebstrap makes for ``recipe``: its root with every base's packages, files and
    commands before its own (layering.py then keeps only what differs from the base); a recipe
    with no base, so whole(whole(r)) == whole(r)."""
    if not recipe.base:
        return recipe
    below = whole(find(recipe.base))
    return replace(recipe, base="", variant=below.variant, slim=below.slim,
                   packages=(*below.packages, *(p for p in recipe.packages if p not in below.packages)),
                   files=(*below.files, *recipe.files), script=below.script + recipe.script)


def find(name: str) -> Recipe:
    """The recipe for NAME[:TAG] (`latest` when no tag), by its main tag or an alias."""
    last = name.rpartition("/")[2]
    wanted = name if ":" in last else name + ":latest"
    wanted = wanted.removeprefix("docker.io/").removeprefix("library/")
    for recipe in RECIPES:
        if wanted in recipe.references:
            return recipe
    repo = wanted.rpartition(":")[0]
    same_repo = [ref for r in RECIPES for ref in r.references if ref.rpartition(":")[0] == repo]
    hint = f"; {repo} is available as {', '.join(same_repo)}" if same_repo else ""
    raise LookupError(f"{name} is not in the catalog{hint} (see `dockyard catalog ls`)")
