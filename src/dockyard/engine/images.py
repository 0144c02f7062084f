"""Image operations that need more than the store: removal rules that consider containers and
child images, tagging, history and pruning (moby's daemon/images/image_delete.go and friends)."""

from collections.abc import Callable

from dockyard.engine.containers import ContainerService
from dockyard.engine.events import EventBus
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.images import reference
from dockyard.images.layerstore import chain_ids
from dockyard.images.store import Image, ImageStore
from dockyard.util.ids import short_id
from dockyard.util.timefmt import parse_rfc3339


class DeleteConflict(Conflict):
    """Why an image cannot be deleted. ``hard`` conflicts cannot be forced; ``used`` means a container."""

    def __init__(self, image_id: str, message: str, *, hard: bool = False, used: bool = False) -> None:
        forced = "cannot be forced" if hard else "must be forced"
        super().__init__(f"conflict: unable to delete {short_id(image_id)} ({forced}) - {message}")
        self.hard = hard
        self.used = used


class ImageService:
    def __init__(self, store: ImageStore, containers: ContainerService, events: EventBus) -> None:
        self.store = store
        self.containers = containers
        self.events = events

    # -- rmi ---------------------------------------------------------------------------------
    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[dict]:
        """`docker rmi`: untag by name, or delete by ID, with Docker's conflict rules and report lines."""
        image = self.store.get(name)
        refs = self.store.references_to(image.id)
        records: list[dict] = []
        removed_reference = False
        if not _looks_like_id(name, image.id):
            ref = reference.parse(name)
            if str(ref) not in {str(r) for r in refs}:
                raise NotFound(f"No such image: {ref.familiar()}")
            users = self.containers.uses_image(image.id)
            if not force and _single_reference(refs) and users:
                # Untagging would leave the container's image dangling: make the user say so.
                raise Conflict(f'conflict: unable to remove repository reference "{name}" (must force) - '
                               f"container {short_id(users[0].id)} is using its referenced image "
                               f"{short_id(image.id)}")
            self._untag(image.id, ref, records)
            refs = self.store.references_to(image.id)
            if not ref.digest and not any(r.name == ref.name and not r.digest for r in refs):
                # The last tag of a repository takes that repository's digest references with it.
                for other in [r for r in refs if r.name == ref.name and r.digest]:
                    self._untag(image.id, other, records)
                refs = self.store.references_to(image.id)
            if refs:
                return records
            removed_reference = True
        elif _single_reference(refs):
            self._check_conflicts(image.id, hard_only=force, ignore_references=True)
            for ref in refs:
                self._untag(image.id, ref, records)
        self._delete(image.id, records, force=force, prune=prune, quiet=removed_reference)
        return records

    def _untag(self, image_id: str, ref: reference.Reference, records: list[dict]) -> None:
        self.store.untag(ref)
        records.append({"Untagged": ref.familiar()})
        self.events.publish("image", "untag", image_id, {"name": image_id})

    def _check_conflicts(self, image_id: str, *, hard_only: bool, ignore_references: bool = False) -> None:
        if self.store.children(image_id):
            raise DeleteConflict(image_id, "image has dependent child images", hard=True)
        users = self.containers.uses_image(image_id)
        running = [c for c in users if c.state.running]
        if running:
            raise DeleteConflict(image_id, f"image is being used by running container {short_id(running[0].id)}",
                                 hard=True, used=True)
        if hard_only:
            return
        if not ignore_references and self.store.references_to(image_id):
            raise DeleteConflict(image_id, "image is referenced in multiple repositories")
        if users:
            raise DeleteConflict(image_id, f"image is being used by stopped container {short_id(users[0].id)}",
                                 used=True)

    def _delete(self, image_id: str, records: list[dict], *, force: bool, prune: bool, quiet: bool) -> None:
        try:
            self._check_conflicts(image_id, hard_only=force)
        except DeleteConflict as conflict:
            dangling = not self.store.references_to(image_id)
            if quiet and (not dangling or conflict.used):
                return  # an untag that leaves a used or still-named image is a complete answer
            raise
        parent = self.store.get(image_id).parent
        for ref in self.store.references_to(image_id):
            self._untag(image_id, ref, records)
        # Forced past a stopped container, the image goes as in Docker; its layers stay for the container.
        released = self.store.delete_image(image_id, hold_layers=bool(self.containers.uses_image(image_id)))
        self.events.publish("image", "delete", image_id, {"name": image_id})
        records.append({"Deleted": image_id})
        records.extend({"Deleted": chain} for chain in released)
        if prune and parent:
            try:
                self.store.get(parent)
            except NotFound:
                return
            # Parents go too when nothing else names or uses them; quietly stop at the first that stays.
            self._delete(parent, records, force=False, prune=True, quiet=True)

    # -- tag ---------------------------------------------------------------------------------
    def tag(self, source: str, repo: str, tag: str) -> reference.Reference:
        image = self.store.get(source)
        if not repo:
            raise InvalidParameter("invalid reference format: repository name must have at least one component")
        target = reference.parse_repository_and_tag(repo, tag)
        if target.digest:
            raise InvalidParameter("refusing to create a tag with a digest reference")
        self.store.tag(image.id, target)
        self.events.publish("image", "tag", image.id, {"name": target.familiar()})
        return target

    # -- history -----------------------------------------------------------------------------
    def history(self, name: str) -> list[dict]:
        """One row per history entry, newest first; rows of local parent images carry their IDs."""
        image = self.store.get(name)
        rows: list[dict] = []
        chains = chain_ids(image.diff_ids)
        layer = 0
        for entry in image.config.get("history") or []:
            size = 0
            if not entry.get("empty_layer"):
                if layer >= len(chains):
                    raise InvalidParameter(f"image {short_id(image.id)} has more non-empty history entries "
                                           "than layers")
                size = self.store.layers.size(chains[layer])
                layer += 1
            created = entry.get("created") or ""
            rows.insert(0, {"Id": "<missing>", "Created": parse_rfc3339(created) // 1_000_000_000 if created else 0,
                            "CreatedBy": entry.get("created_by", ""), "Tags": None, "Size": size,
                            "Comment": entry.get("comment", "")})
        current: Image = image
        for row in rows:
            row["Id"] = current.id
            tags = [r.familiar() for r in self.store.references_to(current.id) if not r.digest]
            row["Tags"] = tags or None
            if not current.parent:
                break
            try:
                current = self.store.get(current.parent)
            except NotFound:
                break
        return rows

    # -- prune -------------------------------------------------------------------------------
    def prune(self, *, dangling_only: bool, until: int | None,
              labels_match: Callable[[dict], bool]) -> tuple[list[dict], int]:
        """`docker image prune`: dangling images (or, with -a, every image no container uses)."""
        used = {c.image_id for c in self.containers.list()}
        candidates = []
        for image in self.store.list():
            refs = self.store.references_to(image.id)
            children = self.store.children(image.id)
            if dangling_only and children:
                continue
            if not refs and children:
                continue  # an intermediate image goes with its last child
            if until is not None and parse_rfc3339(image.config.get("created") or "") > until:
                continue
            if not labels_match((image.config.get("config") or {}).get("Labels") or {}):
                continue
            if image.id in used:
                continue
            candidates.append((image, refs))
        sizes = {}
        for image, _refs in candidates:
            for chain in chain_ids(image.diff_ids):
                if self.store.layers.exists(chain):
                    sizes[chain] = self.store.layers.size(chain)
        records: list[dict] = []
        for image, refs in candidates:
            try:
                if refs:
                    if dangling_only and any(not r.digest for r in refs):
                        continue  # tagged: not dangling
                    for ref in refs:
                        records.extend(self.remove(str(ref), force=False, prune=True))
                else:
                    records.extend(self.remove(image.id, force=False, prune=True))
            except (Conflict, NotFound):
                continue
        reclaimed = sum(sizes.get(r["Deleted"], 0) for r in records if "Deleted" in r)
        return records, reclaimed


def _single_reference(refs: list[reference.Reference]) -> bool:
    """At most one tag, and every reference in one repository (so removing them all is unambiguous)."""
    if not refs:
        return True
    if len({r.name for r in refs}) > 1:
        return False
    return sum(1 for r in refs if not r.digest) <= 1


def _looks_like_id(name: str, image_id: str) -> bool:
    bare = name.removeprefix("sha256:")
    return name.startswith("sha256:") or (len(bare) >= 1 and image_id[7:].startswith(bare)
                                           and all(c in "0123456789abcdef" for c in bare)
                                           and ":" not in name)
