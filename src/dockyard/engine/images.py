"""Image operations that need more than the store: removal rules that consider containers."""

from dockyard.engine.containers import ContainerService
from dockyard.engine.events import EventBus
from dockyard.errors import Conflict, NotFound
from dockyard.images import reference
from dockyard.images.store import ImageStore
from dockyard.util.ids import short_id


class ImageService:
    def __init__(self, store: ImageStore, containers: ContainerService, events: EventBus) -> None:
        self.store = store
        self.containers = containers
        self.events = events

    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[dict]:
        """`docker rmi`: untag by name, or delete by ID; Docker's conflict rules and report lines."""
        image = self.store.get(name)
        refs = self.store.references_to(image.id)
        by_reference = not _looks_like_id(name, image.id)
        users = self.containers.uses_image(image.id)
        running = [c for c in users if c.state.running]
        report: list[dict] = []
        if by_reference:
            ref = reference.parse(name)
            if str(ref) not in {str(r) for r in refs}:
                raise NotFound(f"No such image: {ref.familiar()}")
            if len(refs) > 1:  # other tags keep the image: untag only
                self.store.untag(ref)
                return [{"Untagged": ref.familiar()}]
            if users and not force:
                raise Conflict(f'conflict: unable to remove repository reference "{name}" (must force) - '
                               f"container {short_id(users[0].id)} is using its referenced image "
                               f"{short_id(image.id)}")
            self.store.untag(ref)
            report.append({"Untagged": ref.familiar()})
            if users:
                return report  # forced: the image stays, dangling, while containers use it
        else:
            if running and force:
                raise Conflict(f"conflict: unable to delete {short_id(image.id)} (cannot be forced) - image is "
                               f"being used by running container {short_id(running[0].id)}")
            if users and not force:
                raise Conflict(f"conflict: unable to delete {short_id(image.id)} (must be forced) - image is "
                               f"being used by stopped container {short_id(users[0].id)}"
                               if not running else
                               f"conflict: unable to delete {short_id(image.id)} (cannot be forced) - image is "
                               f"being used by running container {short_id(running[0].id)}")
            if len(refs) > 1 and not force:
                raise Conflict(f"conflict: unable to delete {short_id(image.id)} (must be forced) - image is "
                               "referenced in multiple repositories")
            for ref in refs:
                self.store.untag(ref)
                report.append({"Untagged": ref.familiar()})
            if users:
                return report
        # ``prune``: parent images are not recorded yet (no commit or build), so none can be pruned.
        self.store.delete_image(image.id)
        report.append({"Deleted": image.id})
        return report

    def publish(self, report: list[dict]) -> None:
        for line in report:
            for action, subject in line.items():
                self.events.publish("image", {"Untagged": "untag", "Deleted": "delete"}[action], subject,
                                    {"name": subject})


def _looks_like_id(name: str, image_id: str) -> bool:
    bare = name.removeprefix("sha256:")
    return name.startswith("sha256:") or (len(bare) >= 1 and image_id[7:].startswith(bare)
                                           and all(c in "0123456789abcdef" for c in bare)
                                           and ":" not in name)
